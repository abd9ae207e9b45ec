// xlbctl config get|apply: the declarative configuration as a file.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lb/base/unique_fd.h"
#include "tools/xlbctl/arguments.h"
#include "tools/xlbctl/config_diff.h"
#include "tools/xlbctl/config_file.h"
#include "tools/xlbctl/context.h"

namespace xlb::xlbctl {
namespace {

// Writes `path` whole or not at all, mode 0600 whatever the umask (the
// file describes the load balancer). The temporary name is new (mkstemp), so
// a file or link planted at a predictable name is never followed.
absl::Status WriteFileAtomically(const std::string& path,
                                 const std::string& text) {
  std::string temporary = absl::StrCat(path, ".XXXXXX");
  UniqueFd fd(mkostemp(temporary.data(), O_CLOEXEC));
  if (!fd.valid()) {
    return absl::UnavailableError(
        absl::StrCat("cannot create a temporary file next to ", path, ": ",
                     std::strerror(errno)));
  }
  absl::string_view rest = text;
  bool ok = fchmod(fd.get(), 0600) == 0;
  while (ok && !rest.empty()) {
    const ssize_t n = write(fd.get(), rest.data(), rest.size());
    ok = n > 0;
    if (ok) rest.remove_prefix(static_cast<size_t>(n));
  }
  ok = ok && fsync(fd.get()) == 0;
  ok = ok && close(fd.release()) == 0;
  if (!ok || rename(temporary.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    unlink(temporary.c_str());
    return absl::UnavailableError(
        absl::StrCat("cannot write ", path, ": ", reason));
  }
  return absl::OkStatus();
}

struct GetArgs {
  std::string file;
  std::string format;
  std::string vip;
};

struct ApplyArgs {
  std::string file;
  std::string format;
  bool dry_run = false;
  uint64_t generation = 0;
  CLI::Option* generation_opt = nullptr;
};

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

absl::StatusOr<FileFormat> ChooseFormat(const Context& ctx,
                                        const std::string& flag,
                                        const std::string& path) {
  if (!flag.empty()) return ParseFileFormat(flag);
  if (!path.empty() && path != "-") return FormatForPath(path);
  return ctx.json() ? FileFormat::kJson : FileFormat::kYaml;
}

absl::Status RunGet(Context& ctx, const GetArgs& args) {
  absl::StatusOr<FileFormat> format = ChooseFormat(ctx, args.format, args.file);
  if (!format.ok()) return format.status();
  absl::StatusOr<std::string> text;
  uint64_t generation = 0;
  size_t vip_count = 1;
  if (args.vip.empty()) {
    auto response =
        ctx.Call(&v1::LoadBalancer::Stub::GetConfig, v1::GetConfigRequest());
    if (!response.ok()) return response.status();
    generation = response->generation();
    vip_count = response->config().vips_size();
    text = SerializeDocument(response->config(), *format);
  } else {
    absl::StatusOr<v1::VipKey> key = ParseVipKey(args.vip);
    if (!key.ok()) return key.status();
    v1::GetVipRequest request;
    *request.mutable_key() = *key;
    auto response = ctx.Call(&v1::LoadBalancer::Stub::GetVip, request);
    if (!response.ok()) return response.status();
    generation = response->generation();
    text = SerializeDocument(response->vip(), *format);
  }
  if (!text.ok()) return text.status();
  if (args.file.empty() || args.file == "-") {
    ctx.out << *text;
    return absl::OkStatus();
  }
  if (absl::Status s = WriteFileAtomically(args.file, *text); !s.ok()) {
    return s;
  }
  ctx.err << "wrote " << vip_count << " VIP" << (vip_count == 1 ? "" : "s")
          << " to " << args.file << " (generation " << generation << ")\n";
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadInput(const std::string& path) {
  if (path == "-") {
    return std::string(std::istreambuf_iterator<char>(std::cin), {});
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat("-f: cannot read ", path));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::Status RunApply(Context& ctx, const ApplyArgs& args) {
  absl::StatusOr<FileFormat> format = ChooseFormat(ctx, args.format, args.file);
  if (!format.ok()) return format.status();
  if (args.file == "-" && args.format.empty()) *format = FileFormat::kYaml;
  absl::StatusOr<std::string> text = ReadInput(args.file);
  if (!text.ok()) return text.status();
  const std::string source = args.file == "-" ? "stdin" : args.file;
  absl::StatusOr<ConfigDocument> document =
      ParseConfigDocument(*text, *format, source);
  if (!document.ok()) return document.status();
  if (absl::Status s = CheckDocumentAddresses(*document, source); !s.ok()) {
    return s;
  }
  auto current =
      ctx.Call(&v1::LoadBalancer::Stub::GetConfig, v1::GetConfigRequest());
  if (!current.ok()) return current.status();
  ConfigDiff diff = document->is_single_vip
                        ? DiffVip(current->config(), document->vip)
                        : DiffConfigs(current->config(), document->config);
  uint64_t expected = args.generation_opt->count() > 0 ? args.generation
                                                       : current->generation();
  std::string summary =
      absl::StrCat(diff.vips_created, " to create, ", diff.vips_changed,
                   " to change, ", diff.vips_deleted, " to delete");
  if (!ctx.json()) {
    if (diff.empty()) {
      ctx.out << "no changes: the agent's configuration (generation "
              << current->generation() << ") already matches " << args.file
              << "\n";
    } else {
      ctx.out << "changes from generation " << current->generation() << " ("
              << summary << "):\n";
      for (const std::string& line : diff.lines) ctx.out << line << "\n";
    }
  }
  bool apply = !diff.empty() && !args.dry_run;
  uint64_t new_generation = current->generation();
  if (apply) {
    absl::StatusOr<uint64_t> applied;
    if (document->is_single_vip) {
      v1::SetVipRequest request;
      *request.mutable_vip() = document->vip;
      request.set_expected_generation(expected);
      auto response = ctx.Call(&v1::LoadBalancer::Stub::SetVip, request);
      if (!response.ok()) return response.status();
      new_generation = response->generation();
    } else {
      v1::SetConfigRequest request;
      *request.mutable_config() = document->config;
      request.set_expected_generation(expected);
      auto response = ctx.Call(&v1::LoadBalancer::Stub::SetConfig, request);
      if (!response.ok()) return response.status();
      new_generation = response->generation();
    }
  }
  if (ctx.json()) {
    std::vector<std::string> lines;
    for (const std::string& line : diff.lines)
      lines.push_back(JsonString(line));
    ctx.out << "{\"generation_read\": \"" << current->generation()
            << "\", \"changes\": [" << absl::StrJoin(lines, ", ")
            << "], \"vips_created\": " << diff.vips_created
            << ", \"vips_changed\": " << diff.vips_changed
            << ", \"vips_deleted\": " << diff.vips_deleted
            << ", \"dry_run\": " << (args.dry_run ? "true" : "false")
            << ", \"applied\": " << (apply ? "true" : "false")
            << ", \"generation\": \"" << new_generation << "\"}\n";
  } else if (apply) {
    ctx.out << "applied (generation " << new_generation << ")\n";
  } else if (args.dry_run && !diff.empty()) {
    ctx.out << "dry run: nothing changed\n";
  }
  return absl::OkStatus();
}

}  // namespace

void AddConfigCommands(CLI::App& app, Context& ctx) {
  CLI::App* config = app.add_subcommand(
      "config", "Read or apply the whole configuration as a file");
  config->require_subcommand(1);

  auto get_args = std::make_shared<GetArgs>();
  CLI::App* get = config->add_subcommand(
      "get", "Write the configuration (or one VIP) as YAML or JSON");
  get->add_option("-f,--file", get_args->file,
                  "Write to FILE (atomically) instead of stdout");
  get->add_option("--format", get_args->format,
                  "yaml or json (default: from FILE's extension; on stdout "
                  "yaml, or json with -o json)")
      ->check(CLI::IsMember({"yaml", "json"}));
  get->add_option("--vip", get_args->vip,
                  "Only this VIP (a file `config apply` applies to it alone)");
  get->footer(
      R"(The file uses the API's field names (proto/xlb/v1/config.proto): a Config
({vips: [...]}) or, with --vip, one Vip ({key: ..., settings: ...,
backends: [...]}). Fields at their default value are left out. The
generation read is printed on stderr when writing a file.

Examples:
  xlbctl config get > lb.yaml
  xlbctl config get -f lb.json
  xlbctl config get --vip 192.0.2.10:80/tcp -f web.yaml)");
  SetAction(get, ctx,
            [get_args](Context& ctx) { return RunGet(ctx, *get_args); });

  auto apply_args = std::make_shared<ApplyArgs>();
  CLI::App* apply = config->add_subcommand(
      "apply", "Make the configuration (or one VIP) equal a file");
  apply
      ->add_option("-f,--file", apply_args->file,
                   "YAML or JSON file; - reads stdin")
      ->required();
  apply
      ->add_option("--format", apply_args->format,
                   "yaml or json (default: from the file's extension; "
                   "yaml also reads JSON)")
      ->check(CLI::IsMember({"yaml", "json"}));
  apply->add_flag("-n,--dry-run", apply_args->dry_run,
                  "Show the changes, apply nothing");
  apply_args->generation_opt = apply->add_option(
      "--generation", apply_args->generation,
      "Apply only if the configuration's generation is N (default: the "
      "generation the preview was computed from)");
  apply->footer(
      R"(A file with a top-level "vips" list is the whole configuration: VIPs not in
it are deleted. A file with a top-level "key" is one VIP: it is created or
made equal to the file, other VIPs stay. Before changing anything xlbctl
prints what will change (+ create, - delete, ~ change) against the
configuration it just read, and applies the file only if nobody changed the
configuration since (compare-and-set on its generation); otherwise it fails
(exit code 1) and changes nothing: run it again to see the new preview.
Backends kept by address keep their health and established flows.

Examples:
  xlbctl config apply -f lb.yaml --dry-run
  xlbctl config apply -f lb.yaml
  xlbctl config get -o json | jq '...' | xlbctl config apply -f - --format json
  xlbctl config apply -f web.yaml --generation 42)");
  SetAction(apply, ctx,
            [apply_args](Context& ctx) { return RunApply(ctx, *apply_args); });
}

}  // namespace xlb::xlbctl
