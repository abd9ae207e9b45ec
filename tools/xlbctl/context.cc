#include "tools/xlbctl/context.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "lb/base/field_rules.h"

namespace xlb::xlbctl {

absl::StatusOr<Connection*> Context::Connect() {
  if (connection_ == nullptr) {
    absl::Duration deadline;
    if (!absl::ParseDuration(timeout, &deadline) ||
        deadline <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--timeout ", QuoteValue(timeout),
                       ": expected a duration such as 10s"));
    }
    ConnectionOptions options = connection;
    options.timeout = deadline;
    absl::StatusOr<std::unique_ptr<Connection>> opened =
        Connection::Open(options);
    if (!opened.ok()) return opened.status();
    connection_ = *std::move(opened);
  }
  return connection_.get();
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
