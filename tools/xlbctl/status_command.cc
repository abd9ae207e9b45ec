// xlbctl status, xlbctl version
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "google/protobuf/util/time_util.h"
#include "tools/xlbctl/arguments.h"
#include "tools/xlbctl/context.h"
#include "tools/xlbctl/views.h"

#ifndef XLB_VERSION
#define XLB_VERSION "unknown"
#endif

namespace xlb::xlbctl {
namespace {

std::string Uptime(const google::protobuf::Duration& uptime) {
  return absl::FormatDuration(absl::Seconds(uptime.seconds()));
}

std::string Time(const google::protobuf::Timestamp& time) {
  if (time.seconds() == 0 && time.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S %Z",
                          absl::FromUnixSeconds(time.seconds()),
                          absl::LocalTimeZone());
}

void PrintStatus(Context& ctx, const Connection& connection,
                 const v1::GetStatusResponse& s) {
  std::ostream& out = ctx.out;
  out << "agent\n"
      << "  server:            " << connection.target() << "\n"
      << "  version:           " << s.version() << "\n"
      << "  started:           " << Time(s.start_time()) << " (up "
      << Uptime(s.uptime()) << ")\n"
      << "  generation:        " << s.generation() << "\n"
      << "data plane\n"
      << "  interface:         "
      << (s.interface().empty() ? "(none)" : s.interface()) << "\n"
      << "  attach mode:       " << AttachModeName(s.attach_mode()) << "\n"
      << "  pin directory:     " << s.pin_dir() << "\n"
      << "  balancer program:  id " << s.balancer_program_id() << "\n"
      << "  health program:    id " << s.healthcheck_program_id() << "\n"
      << "  adopted pins:      "
      << (s.adopted_pinned_maps() ? "yes (maps kept from an earlier run)"
                                  : "no (maps created by this run)")
      << "\n";
  out << "maps\n";
  Table maps({"NAME", "USED", "CAPACITY", "USE%", "MEMORY"});
  uint64_t total_memory = 0;
  for (const auto& m : s.maps()) {
    double percent = m.capacity() == 0 ? 0 : 100.0 * m.used() / m.capacity();
    maps.AddRow({m.name(), absl::StrCat(m.used()), absl::StrCat(m.capacity()),
                 absl::StrFormat("%.1f", percent),
                 HumanBytes(m.memory_bytes())});
    total_memory += m.memory_bytes();
  }
  maps.AddRow({"total", "", "", "", HumanBytes(total_memory)});
  maps.Print(out, "  ");
  int backends = 0, up = 0, draining = 0, down = 0, no_ring = 0, fail_open = 0;
  for (const auto& vip : s.vips()) {
    if (!vip.has_ring()) ++no_ring;
    if (vip.fail_open()) ++fail_open;
    for (const auto& b : vip.backends()) {
      ++backends;
      if (b.state() == v1::BACKEND_STATE_UP) ++up;
      if (b.state() == v1::BACKEND_STATE_DRAINING) ++draining;
      if (b.state() == v1::BACKEND_STATE_DOWN) ++down;
    }
  }
  out << "vips: " << s.vips_size() << ", backends: " << backends << " (" << up
      << " up, " << draining << " draining, " << down << " down)\n";
  if (s.vips().empty()) return;
  Table vips({"VIP", "INDEX", "RING", "FAIL-OPEN", "UP", "DRAINING", "DOWN",
              "LOST-ALL"});
  for (const auto& vip : s.vips()) {
    int vip_up = 0, vip_draining = 0, vip_down = 0;
    for (const auto& b : vip.backends()) {
      vip_up += b.state() == v1::BACKEND_STATE_UP;
      vip_draining += b.state() == v1::BACKEND_STATE_DRAINING;
      vip_down += b.state() == v1::BACKEND_STATE_DOWN;
    }
    vips.AddRow({FormatVipKey(vip.key()), absl::StrCat(vip.index()),
                 vip.has_ring() ? "yes" : "NO", YesNo(vip.fail_open()),
                 absl::StrCat(vip_up), absl::StrCat(vip_draining),
                 absl::StrCat(vip_down),
                 absl::StrCat(vip.no_backend_events())});
  }
  vips.Print(out, "  ");
  if (no_ring > 0) {
    out << "warning: " << no_ring << " VIP" << (no_ring == 1 ? "" : "s")
        << " without an eligible backend: their packets are dropped\n";
  }
  if (fail_open > 0) {
    out << "warning: " << fail_open << " VIP" << (fail_open == 1 ? "" : "s")
        << " failed open: down backends get new flows\n";
  }
}

}  // namespace

void AddStatusCommand(CLI::App& app, Context& ctx) {
  CLI::App* cmd = app.add_subcommand(
      "status", "Show the agent, the data plane, map usage and VIP health");
  cmd->footer(
      R"(Everything the agent knows about itself: version and uptime, the interface
and XDP attach mode, program ids (for bpftool), whether it adopted maps
pinned by an earlier run, each map's entries, capacity and memory, and per
VIP whether it has a Maglev table and how many backends are up, draining or
down. Warnings at the end name VIPs that drop traffic or have failed open.
-o json prints the GetStatusResponse.

Examples:
  xlbctl status
  xlbctl status -o json | jq '.maps[] | select(.name == "conns")'
  XLB_SERVER=lb1.example:50051 xlbctl status --ca ca.pem)");
  SetAction(cmd, ctx, [](Context& ctx) -> absl::Status {
    auto status =
        ctx.Call(&v1::LoadBalancer::Stub::GetStatus, v1::GetStatusRequest());
    if (!status.ok()) return status.status();
    if (ctx.json()) {
      PrintJson(ctx.out, *status);
      return absl::OkStatus();
    }
    absl::StatusOr<Connection*> connection = ctx.Connect();
    PrintStatus(ctx, **connection, *status);
    return absl::OkStatus();
  });
}

void AddVersionCommand(CLI::App& app, Context& ctx) {
  auto client_only = std::make_shared<bool>(false);
  CLI::App* cmd =
      app.add_subcommand("version", "Show xlbctl's version and the agent's");
  cmd->add_flag("--client", *client_only,
                "Only xlbctl's version; do not contact the agent");
  cmd->footer(
      R"(The agent's version is read with GetStatus; if the agent cannot be reached
its line says why and the exit code is 5.

Examples:
  xlbctl version
  xlbctl version --client)");
  SetAction(cmd, ctx, [client_only](Context& ctx) -> absl::Status {
    if (*client_only) {
      if (ctx.json()) {
        ctx.out << "{\"client_version\": \"" << XLB_VERSION << "\"}\n";
      } else {
        ctx.out << "xlbctl " << XLB_VERSION << "\n";
      }
      return absl::OkStatus();
    }
    auto status =
        ctx.Call(&v1::LoadBalancer::Stub::GetStatus, v1::GetStatusRequest());
    if (ctx.json()) {
      ctx.out << "{\"client_version\": \"" << XLB_VERSION
              << "\", \"server_version\": \""
              << (status.ok() ? status->version() : "") << "\"}\n";
    } else {
      ctx.out << "xlbctl " << XLB_VERSION << "\n";
      if (status.ok()) ctx.out << "xlbd   " << status->version() << "\n";
    }
    return status.status();
  });
}

}  // namespace xlb::xlbctl
