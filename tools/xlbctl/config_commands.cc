// xlbctl config get|apply: the declarative configuration as a file, applied
// to one agent or to several that must then agree.
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
#include "tools/xlbctl/agreement.h"
#include "tools/xlbctl/arguments.h"
#include "tools/xlbctl/config_diff.h"
#include "tools/xlbctl/config_file.h"
#include "tools/xlbctl/context.h"
#include "tools/xlbctl/output.h"

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

// One agent's part of `config apply`.
struct AgentApply {
  std::string server;  // as given with --server
  Connection* connection = nullptr;
  v1::GetConfigResponse current;
  ConfigDiff diff;
  bool applied = false;
  uint64_t generation = 0;  // after the apply; the one read if none
  absl::Status status;      // of the apply
};

void PrintPreview(Context& ctx, const AgentApply& agent,
                  const std::string& prefix, const std::string& file) {
  const ConfigDiff& diff = agent.diff;
  if (diff.empty()) {
    ctx.out << prefix << "no changes: the agent's configuration (generation "
            << agent.current.generation() << ") already matches " << file
            << "\n";
    return;
  }
  ctx.out << prefix << "changes from generation " << agent.current.generation()
          << " (" << diff.vips_created << " to create, " << diff.vips_changed
          << " to change, " << diff.vips_deleted << " to delete):\n";
  for (const std::string& line : diff.lines) ctx.out << line << "\n";
}

// Makes the agent's configuration (or one VIP) equal the document, if it is
// still at generation `expected`.
absl::StatusOr<uint64_t> ApplyDocument(Connection& connection,
                                       const ConfigDocument& document,
                                       uint64_t expected) {
  if (document.is_single_vip) {
    v1::SetVipRequest request;
    *request.mutable_vip() = document.vip;
    request.set_expected_generation(expected);
    auto response =
        Context::Call(connection, &v1::LoadBalancer::Stub::SetVip, request);
    if (!response.ok()) return response.status();
    return response->generation();
  }
  v1::SetConfigRequest request;
  *request.mutable_config() = document.config;
  request.set_expected_generation(expected);
  auto response =
      Context::Call(connection, &v1::LoadBalancer::Stub::SetConfig, request);
  if (!response.ok()) return response.status();
  return response->generation();
}

google::protobuf::Struct ApplyJson(const AgentApply& agent, bool dry_run) {
  google::protobuf::Struct json;
  auto& fields = *json.mutable_fields();
  fields["generation_read"].set_string_value(
      absl::StrCat(agent.current.generation()));
  auto* changes = fields["changes"].mutable_list_value();
  for (const std::string& line : agent.diff.lines) {
    changes->add_values()->set_string_value(line);
  }
  fields["vips_created"].set_number_value(agent.diff.vips_created);
  fields["vips_changed"].set_number_value(agent.diff.vips_changed);
  fields["vips_deleted"].set_number_value(agent.diff.vips_deleted);
  fields["dry_run"].set_bool_value(dry_run);
  fields["applied"].set_bool_value(agent.applied);
  fields["generation"].set_string_value(absl::StrCat(agent.generation));
  if (!agent.status.ok()) {
    fields["error"].set_string_value(std::string(agent.status.message()));
  }
  return json;
}

// After applying to several agents: their ring digests, compared.
absl::Status CompareAgentsAfterApply(Context& ctx,
                                     const std::vector<AgentApply>& agents,
                                     google::protobuf::Struct& json) {
  std::vector<AgentRings> rings;
  for (const AgentApply& agent : agents) {
    auto status =
        Context::Call(*agent.connection, &v1::LoadBalancer::Stub::GetStatus,
                      v1::GetStatusRequest());
    if (!status.ok()) {
      return absl::Status(status.status().code(),
                          absl::StrCat(agent.server,
                                       ": reading the ring "
                                       "digests after the apply: ",
                                       status.status().message()));
    }
    rings.push_back(RingsOf(agent.server, *status));
  }
  const RingComparison comparison = CompareRings(rings);
  if (ctx.json()) {
    google::protobuf::Struct rings_json = RingComparisonJson(comparison);
    json.mutable_fields()->insert(rings_json.fields().begin(),
                                  rings_json.fields().end());
  } else {
    ctx.out << "ring digests after the apply:\n";
    PrintRingComparison(ctx.out, comparison, "  ");
    if (comparison.agree()) {
      ctx.out << "all " << agents.size()
              << " agents agree on every VIP's ring\n";
    }
  }
  if (!comparison.agree()) {
    return DisagreementStatus(comparison, "after the apply");
  }
  return absl::OkStatus();
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
  absl::StatusOr<std::vector<Connection*>> connections = ctx.ConnectAll();
  if (!connections.ok()) return connections.status();
  const bool several = connections->size() > 1;
  if (several && args.generation_opt->count() > 0) {
    return absl::InvalidArgumentError(
        "--generation: each agent has its own generation; give it with one "
        "--server only");
  }

  // Read every agent first: one that cannot be read stops the apply before
  // anything changes anywhere.
  std::vector<AgentApply> agents;
  for (size_t i = 0; i < connections->size(); ++i) {
    AgentApply agent{.server = ctx.ServerName(i),
                     .connection = (*connections)[i]};
    auto current =
        Context::Call(*agent.connection, &v1::LoadBalancer::Stub::GetConfig,
                      v1::GetConfigRequest());
    if (!current.ok()) {
      if (!several) return current.status();
      return absl::Status(
          current.status().code(),
          absl::StrCat(agent.server, ": ", current.status().message(),
                       "; nothing was applied to any agent"));
    }
    agent.current = *std::move(current);
    agent.diff = document->is_single_vip
                     ? DiffVip(agent.current.config(), document->vip)
                     : DiffConfigs(agent.current.config(), document->config);
    agent.generation = agent.current.generation();
    if (!ctx.json()) {
      PrintPreview(ctx, agent, several ? agent.server + ": " : "", args.file);
    }
    agents.push_back(std::move(agent));
  }

  // Apply to each; a failure on one does not stop the others, so the
  // agents that can take the file all end up with it.
  absl::Status first_failure;
  size_t failures = 0;
  for (AgentApply& agent : agents) {
    if (agent.diff.empty() || args.dry_run) continue;
    const uint64_t expected = args.generation_opt->count() > 0
                                  ? args.generation
                                  : agent.current.generation();
    absl::StatusOr<uint64_t> generation =
        ApplyDocument(*agent.connection, *document, expected);
    if (!generation.ok()) {
      if (!several) return generation.status();
      agent.status = generation.status();
      if (failures++ == 0) first_failure = agent.status;
      continue;
    }
    agent.applied = true;
    agent.generation = *generation;
  }

  if (!several) {
    const AgentApply& agent = agents.front();
    if (ctx.json()) {
      PrintDocument(ctx.out, ApplyJson(agent, args.dry_run));
    } else if (agent.applied) {
      ctx.out << "applied (generation " << agent.generation << ")\n";
    } else if (args.dry_run && !agent.diff.empty()) {
      ctx.out << "dry run: nothing changed\n";
    }
    return absl::OkStatus();
  }

  google::protobuf::Struct json;
  auto* agents_json = (*json.mutable_fields())["agents"].mutable_list_value();
  for (const AgentApply& agent : agents) {
    google::protobuf::Struct one = ApplyJson(agent, args.dry_run);
    (*one.mutable_fields())["server"].set_string_value(agent.server);
    *agents_json->add_values()->mutable_struct_value() = std::move(one);
    if (ctx.json() || args.dry_run) continue;
    ctx.out << agent.server << ": ";
    if (!agent.status.ok()) {
      ctx.out << "FAILED: " << agent.status.message() << "\n";
    } else if (agent.applied) {
      ctx.out << "applied (generation " << agent.generation << ")\n";
    } else {
      ctx.out << "no changes (generation " << agent.generation << ")\n";
    }
  }
  absl::Status result;
  if (args.dry_run) {
    if (!ctx.json()) ctx.out << "dry run: nothing changed\n";
  } else if (failures > 0) {
    result = absl::Status(
        first_failure.code(),
        absl::StrCat(
            "the apply failed on ", failures, " of ", agents.size(),
            " agents (the others have the file): ", first_failure.message()));
  } else {
    result = CompareAgentsAfterApply(ctx, agents, json);
  }
  if (ctx.json()) PrintDocument(ctx.out, json);
  return result;
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

Several agents (--server repeated, e.g. the hosts of one ECMP group): every
agent is read first (one that cannot be read stops the apply before anything
changes), then the file is applied to each, each against its own generation;
a failure on one does not stop the others. Then every VIP's ring digest is
read back from each agent and shown side by side: agents with equal digests
send every new flow to the same backend. Exit code 6 when they disagree on
some VIP (different --hash-seed, or a backend's health seen differently),
with the VIPs and agents named; otherwise the first failure's code. --dry-run
previews each agent's changes. -o json prints {"agents": [{"server", ...the
one-agent fields..., "error"}], "vips": [{"vip", "ring_digests", "agree"}],
"agree"}.

Examples:
  xlbctl config apply -f lb.yaml --dry-run
  xlbctl config apply -f lb.yaml
  xlbctl config get -o json | jq '...' | xlbctl config apply -f - --format json
  xlbctl config apply -f web.yaml --generation 42
  xlbctl config apply -f lb.yaml -s lb1.example:50051 -s lb2.example:50051)");
  SetAction(apply, ctx,
            [apply_args](Context& ctx) { return RunApply(ctx, *apply_args); });
}

}  // namespace xlb::xlbctl
