// xlbctl bgp status, xlbctl host drain|undrain
#include <string>

#include "tools/xlbctl/context.h"
#include "tools/xlbctl/views.h"

namespace xlb::xlbctl {
namespace {

void AddHostDrainVerb(CLI::App* host, Context& ctx, bool drain) {
  CLI::App* cmd = host->add_subcommand(
      drain ? "drain" : "undrain",
      drain ? "Withdraw every VIP route this host announces over BGP"
            : "Announce again the VIP routes this host withdrew for a drain");
  cmd->footer(
      drain
          ? R"(Withdraws every VIP route the host announces through gobgpd while the
data plane keeps forwarding: the router moves new traffic to the other
hosts, and established connections follow without a reset (every host
builds the same Maglev table). The drain is persisted: it survives an xlbd
restart until `host undrain`. Watch `xlbctl bgp status` for the routes.

Examples:
  xlbctl host drain
  xlbctl host drain && sleep 30 && systemctl stop xlbd)"
          : R"(Ends a drain: every VIP that qualifies (enough healthy backends) is
announced again.

Examples:
  xlbctl host undrain)");
  SetAction(cmd, ctx, [drain](Context& ctx) -> absl::Status {
    v1::SetHostDrainRequest request;
    request.set_drained(drain);
    auto response = ctx.Call(&v1::LoadBalancer::Stub::SetHostDrain, request);
    if (!response.ok()) return response.status();
    if (ctx.json()) {
      PrintJson(ctx.out, *response);
      return absl::OkStatus();
    }
    if (response->was_drained() == drain) {
      ctx.out << "host already " << (drain ? "drained" : "undrained") << "\n";
    } else {
      ctx.out << "host "
              << (drain ? "drained: VIP routes withdrawn"
                        : "undrained: qualifying VIPs announced")
              << "\n";
    }
    return absl::OkStatus();
  });
}

}  // namespace

void AddBgpCommands(CLI::App& app, Context& ctx) {
  CLI::App* bgp =
      app.add_subcommand("bgp", "BGP announcement of the VIPs through gobgpd");
  bgp->require_subcommand(1);
  CLI::App* status = bgp->add_subcommand(
      "status", "Show whether each VIP is announced, and why not");
  status->footer(
      R"txt(Whether xlbd reaches gobgpd (--bgp-api) and holds its paths there in
sync, the last error talking to it, whether the host is drained, the next
hops, and per VIP whether its route is announced, its healthy backends
against announce_min_healthy, and the reason when it is not announced
("too few healthy backends (0 < 1)", "host drained", "BGP daemon
unreachable", "no next hop for IPv6", ...). -o json prints the bgp
section of GetStatus.

Examples:
  xlbctl bgp status
  xlbctl bgp status -o json | jq '.vips[] | select(.announced | not)')txt");
  SetAction(status, ctx, [](Context& ctx) -> absl::Status {
    auto response =
        ctx.Call(&v1::LoadBalancer::Stub::GetStatus, v1::GetStatusRequest());
    if (!response.ok()) return response.status();
    if (ctx.json()) {
      PrintJson(ctx.out, response->bgp());
      return absl::OkStatus();
    }
    PrintBgpStatus(ctx.out, response->bgp());
    return absl::OkStatus();
  });

  CLI::App* host = app.add_subcommand(
      "host", "Drain or undrain this whole host (BGP announcement)");
  host->require_subcommand(1);
  AddHostDrainVerb(host, ctx, true);
  AddHostDrainVerb(host, ctx, false);
}

}  // namespace xlb::xlbctl
