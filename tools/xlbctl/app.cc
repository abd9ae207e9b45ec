#include "tools/xlbctl/app.h"

#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "tools/xlbctl/completion.h"
#include "tools/xlbctl/connection.h"
#include "tools/xlbctl/context.h"
#include "tools/xlbctl/exit_codes.h"

namespace xlb::xlbctl {
namespace {

constexpr char kRootFooter[] =
    R"(VIPs are written ADDRESS:PORT/PROTOCOL: 192.0.2.10:80/tcp,
[2001:db8::10]:443/tcp, 192.0.2.10:0/udp (port 0: every port). Without
/PROTOCOL, tcp. Every verb has its own --help with examples.

Server: the agent's Unix socket /run/xlb/xlbd.sock by default; --server
unix:PATH or /PATH for another socket, HOST:PORT for TCP with TLS (--ca to
verify the server, --cert and --key for mutual TLS). Environment: XLB_SERVER,
XLB_CA, XLB_CERT, XLB_KEY stand in for the options. `status` and `config
apply` take several agents (--server repeated, or XLB_SERVER=A,B) and
compare them: every VIP's ring digest must be equal on all.

Exit codes: 0 success; 1 other failure (exists already, generation changed,
limit reached, internal); 2 usage error; 3 VIP or backend not found;
4 invalid value; 5 agent unreachable or too slow; 6 the agents compared
disagree on some VIP's ring.

Examples:
  xlbctl status
  xlbctl vip add 192.0.2.10:80/tcp -b 198.51.100.1 -b 198.51.100.2
  xlbctl health set 192.0.2.10:80/tcp --type http --http-path /healthz
  xlbctl backend drain 192.0.2.10:80/tcp 198.51.100.1
  xlbctl stats --watch --count 10
  xlbctl config get > lb.yaml && xlbctl config apply -f lb.yaml --dry-run
  xlbctl config apply -f lb.yaml -s lb1.example:50051 -s lb2.example:50051)";

void AddGroupFooter(CLI::App* app, const std::string& name,
                    const std::string& examples) {
  CLI::App* sub = app->get_subcommand(name);
  sub->footer(absl::StrCat("Run `xlbctl ", name,
                           " VERB --help` for a verb's options.\n\n"
                           "Examples:\n",
                           examples));
}

std::unique_ptr<CLI::App> BuildApp(Context& ctx) {
  auto app = std::make_unique<CLI::App>(
      "xlbctl: operate the xlb layer-4 load balancer through its agent, "
      "xlbd",
      "xlbctl");
  app->require_subcommand(1);
  app->fallthrough();
  app->add_option("-s,--server", ctx.servers,
                  "Agent address: unix:PATH, /PATH or HOST:PORT (TLS) "
                  "(default unix:/run/xlb/xlbd.sock); repeat it (or "
                  "separate with commas) for `status` and `config apply` to "
                  "compare several agents")
      ->envname(kServerEnvVar)
      ->delimiter(',');
  app->add_option("--ca", ctx.connection.ca_file,
                  "TCP: PEM file of the CA that signed the agent's "
                  "certificate (default: the system's)")
      ->envname("XLB_CA");
  app->add_option("--cert", ctx.connection.cert_file,
                  "TCP: PEM client certificate, for mutual TLS")
      ->envname("XLB_CERT");
  app->add_option("--key", ctx.connection.key_file,
                  "TCP: PEM client private key, for mutual TLS")
      ->envname("XLB_KEY");
  app->add_option("-o,--output", ctx.output,
                  "table (for people, the default) or json (for scripts: "
                  "the API's field names)")
      ->check(CLI::IsMember({"table", "json"}));
  app->add_option("--timeout", ctx.timeout,
                  "Deadline of each call to the agent (default 10s)");

  AddStatusCommand(*app, ctx);
  AddVipCommands(*app, ctx);
  AddBackendCommands(*app, ctx);
  AddHealthCommands(*app, ctx);
  AddStatsCommand(*app, ctx);
  AddEventsCommand(*app, ctx);
  AddConfigCommands(*app, ctx);
  AddBgpCommands(*app, ctx);
  AddVersionCommand(*app, ctx);
  AddCompletionCommand(*app, ctx);

  AddGroupFooter(app.get(), "vip",
                 "  xlbctl vip add 192.0.2.10:80/tcp\n"
                 "  xlbctl vip list\n"
                 "  xlbctl vip show 192.0.2.10:80/tcp");
  AddGroupFooter(app.get(), "backend",
                 "  xlbctl backend add 192.0.2.10:80/tcp 198.51.100.1 "
                 "198.51.100.2\n"
                 "  xlbctl backend drain 192.0.2.10:80/tcp 198.51.100.1\n"
                 "  xlbctl backend list 192.0.2.10:80/tcp");
  AddGroupFooter(app.get(), "health",
                 "  xlbctl health set 192.0.2.10:80/tcp --type tcp\n"
                 "  xlbctl health show");
  AddGroupFooter(app.get(), "bgp", "  xlbctl bgp status\n");
  AddGroupFooter(app.get(), "host",
                 "  xlbctl host drain\n"
                 "  xlbctl host undrain");
  AddGroupFooter(app.get(), "config",
                 "  xlbctl config get -f lb.yaml\n"
                 "  xlbctl config apply -f lb.yaml --dry-run");
  app->footer(kRootFooter);
  return app;
}

}  // namespace

void AddCompletionCommand(CLI::App& app, Context& ctx) {
  CLI::App* completion =
      app.add_subcommand("completion", "Print a shell completion script");
  completion->require_subcommand(1);
  CLI::App* bash =
      completion->add_subcommand("bash", "Print the bash completion script");
  bash->footer(
      R"(The script is generated from xlbctl's own command table. VIP arguments are
completed with the VIPs the agent has configured (the first agent given with
--server or XLB_SERVER).

Examples:
  source <(xlbctl completion bash)
  xlbctl completion bash > /etc/bash_completion.d/xlbctl)");
  const CLI::App* root = &app;
  SetAction(bash, ctx, [root](Context& ctx) {
    ctx.out << BashCompletionScript(*root, "xlbctl");
    return absl::OkStatus();
  });
}

int Main(int argc, const char* const* argv, std::ostream& out,
         std::ostream& err) {
  Context ctx(out, err);
  std::unique_ptr<CLI::App> app = BuildApp(ctx);
  try {
    app->parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app->exit(e, out, err);
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (!ctx.action) {
    err << "xlbctl: no command given; see xlbctl --help\n";
    return kExitUsage;
  }
  absl::Status status = ctx.action();
  out.flush();
  if (!status.ok()) {
    err << "xlbctl: " << status.message() << "\n";
  }
  return ExitCodeFor(status);
}

}  // namespace xlb::xlbctl
