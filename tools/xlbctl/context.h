// What every command gets: the global options, the output streams and a
// connection to the agent opened on first use. Commands are registered on
// the CLI11 command tree by the Add*Commands functions below; each one's
// callback stores the action to run in Context::action, and app.cc runs it
// once parsing has succeeded.
#ifndef XLB_TOOLS_XLBCTL_CONTEXT_H_
#define XLB_TOOLS_XLBCTL_CONTEXT_H_

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tools/xlbctl/connection.h"
#include "tools/xlbctl/output.h"
#include "xlb/v1/xlb.grpc.pb.h"

namespace xlb::xlbctl {

class Context {
 public:
  Context(std::ostream& out, std::ostream& err) : out(out), err(err) {}

  std::ostream& out;
  std::ostream& err;

  // Global options, filled in by the parser.
  ConnectionOptions connection;
  std::string output = "table";
  std::string timeout = "10s";

  // Set by the chosen command's parse callback.
  std::function<absl::Status()> action;

  bool json() const { return output == "json"; }

  // The connection, opened on first use with the global options.
  absl::StatusOr<Connection*> Connect();

  // Calls a unary method of the LoadBalancer service with the per-call
  // deadline and returns its response or the translated error.
  template <typename Request, typename Response>
  absl::StatusOr<Response> Call(
      grpc::Status (v1::LoadBalancer::Stub::*method)(grpc::ClientContext*,
                                                     const Request&, Response*),
      const Request& request) {
    absl::StatusOr<Connection*> connection = Connect();
    if (!connection.ok()) return connection.status();
    auto context = (*connection)->NewContext();
    Response response;
    grpc::Status status =
        ((*connection)->stub().*method)(context.get(), request, &response);
    if (!status.ok()) return (*connection)->Translate(status);
    return response;
  }

 private:
  std::unique_ptr<Connection> connection_;
};

// Stores `run` (called with the context) as the command's action.
void SetAction(CLI::App* command, Context& ctx,
               std::function<absl::Status(Context&)> run);

// Adds "--generation N" (compare-and-set) to a mutating command.
CLI::Option* AddGenerationOption(CLI::App* command, uint64_t* generation);

// Each adds one top-level verb (and its sub-verbs) to `app`.
void AddStatusCommand(CLI::App& app, Context& ctx);
void AddVersionCommand(CLI::App& app, Context& ctx);
void AddVipCommands(CLI::App& app, Context& ctx);
void AddBackendCommands(CLI::App& app, Context& ctx);
void AddHealthCommands(CLI::App& app, Context& ctx);
void AddStatsCommand(CLI::App& app, Context& ctx);
void AddEventsCommand(CLI::App& app, Context& ctx);
void AddConfigCommands(CLI::App& app, Context& ctx);
void AddCompletionCommand(CLI::App& app, Context& ctx);

}  // namespace xlb::xlbctl

#endif  // XLB_TOOLS_XLBCTL_CONTEXT_H_
