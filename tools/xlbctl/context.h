// What every command gets: the global options, the output streams and the
// connections to the agents (--server, repeatable), opened on first use.
// Most verbs talk to one agent; the verbs that compare agents (status,
// config apply) take several. Commands are registered on the CLI11 command
// tree by the Add*Commands functions below; each one's callback stores the
// action to run in Context::action, and app.cc runs it once parsing has
// succeeded.
#ifndef XLB_TOOLS_XLBCTL_CONTEXT_H_
#define XLB_TOOLS_XLBCTL_CONTEXT_H_

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

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

  // Global options, filled in by the parser. `connection` holds the TLS
  // files; its server is set per agent from `servers` (none given: the
  // default socket).
  ConnectionOptions connection;
  std::vector<std::string> servers;
  std::string output = "table";
  std::string timeout = "10s";

  // Set by the chosen command's parse callback.
  std::function<absl::Status()> action;

  bool json() const { return output == "json"; }

  // The one agent's connection, opened on first use. INVALID_ARGUMENT when
  // several servers were given: only the verbs that compare agents take
  // several.
  absl::StatusOr<Connection*> Connect();
  // A connection to every server, in the order given (the default socket
  // when none was). INVALID_ARGUMENT when a server is given twice.
  absl::StatusOr<std::vector<Connection*>> ConnectAll();
  // How to name an agent in output: the --server text as given.
  std::string ServerName(size_t i) const;

  // Calls a unary method of the LoadBalancer service with the per-call
  // deadline and returns its response or the translated error: on the one
  // agent, or on `connection`.
  template <typename Request, typename Response>
  absl::StatusOr<Response> Call(
      grpc::Status (v1::LoadBalancer::Stub::*method)(grpc::ClientContext*,
                                                     const Request&, Response*),
      const Request& request) {
    absl::StatusOr<Connection*> connection = Connect();
    if (!connection.ok()) return connection.status();
    return Call(**connection, method, request);
  }
  template <typename Request, typename Response>
  static absl::StatusOr<Response> Call(
      Connection& connection,
      grpc::Status (v1::LoadBalancer::Stub::*method)(grpc::ClientContext*,
                                                     const Request&, Response*),
      const Request& request) {
    auto context = connection.NewContext();
    Response response;
    grpc::Status status =
        (connection.stub().*method)(context.get(), request, &response);
    if (!status.ok()) return connection.Translate(status);
    return response;
  }

 private:
  std::vector<std::unique_ptr<Connection>> connections_;
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
// `bgp status` and `host drain|undrain`.
void AddBgpCommands(CLI::App& app, Context& ctx);
void AddCompletionCommand(CLI::App& app, Context& ctx);

}  // namespace xlb::xlbctl

#endif  // XLB_TOOLS_XLBCTL_CONTEXT_H_
