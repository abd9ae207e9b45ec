#include "tools/xlbctl/context.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "lb/base/field_rules.h"

namespace xlb::xlbctl {

absl::StatusOr<Connection*> Context::Connect() {
  if (servers.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--server: given ", servers.size(),
        " times, but this verb talks to one agent (only `status` and "
        "`config apply` compare several)"));
  }
  absl::StatusOr<std::vector<Connection*>> all = ConnectAll();
  if (!all.ok()) return all.status();
  return all->front();
}

absl::StatusOr<std::vector<Connection*>> Context::ConnectAll() {
  if (connections_.empty()) {
    absl::Duration deadline;
    if (!absl::ParseDuration(timeout, &deadline) ||
        deadline <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--timeout ", QuoteValue(timeout),
                       ": expected a duration such as 10s"));
    }
    std::vector<std::string> names = servers;
    if (names.empty()) names.push_back("");
    std::set<std::string> targets;
    std::vector<std::unique_ptr<Connection>> opened;
    for (const std::string& name : names) {
      ConnectionOptions options = connection;
      options.server = name;
      options.timeout = deadline;
      absl::StatusOr<std::unique_ptr<Connection>> one =
          Connection::Open(options);
      if (!one.ok()) return one.status();
      if (!targets.insert((*one)->target()).second) {
        return absl::InvalidArgumentError(
            absl::StrCat("--server: ", QuoteValue((*one)->target()),
                         " is given more than once"));
      }
      opened.push_back(*std::move(one));
    }
    connections_ = std::move(opened);
  }
  std::vector<Connection*> all;
  for (const auto& c : connections_) all.push_back(c.get());
  return all;
}

std::string Context::ServerName(size_t i) const {
  if (i < servers.size()) return servers[i];
  return i < connections_.size() ? connections_[i]->target() : "";
}

void SetAction(CLI::App* command, Context& ctx,
               std::function<absl::Status(Context&)> run) {
  command->callback([&ctx, run = std::move(run)] {
    ctx.action = [&ctx, run] { return run(ctx); };
  });
}

CLI::Option* AddGenerationOption(CLI::App* command, uint64_t* generation) {
  return command->add_option(
      "--generation", *generation,
      "Change only if the configuration's generation is still N "
      "(compare-and-set; see `xlbctl status` or `config get`)");
}

}  // namespace xlb::xlbctl
