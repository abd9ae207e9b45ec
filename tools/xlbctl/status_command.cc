// xlbctl status (of one agent, or of several side by side), xlbctl version
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "google/protobuf/util/time_util.h"
#include "tools/xlbctl/agreement.h"
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
  if (s.vips().empty()) {
    PrintBgpStatus(out, s.bgp());
    return;
  }
  Table vips({"VIP", "INDEX", "RING", "FAIL-OPEN", "UP", "DRAINING", "DOWN",
              "LOST-ALL", "RING-DIGEST"});
  vips.AlignLeft(8);
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
                 absl::StrCat(vip_down), absl::StrCat(vip.no_backend_events()),
                 vip.ring_digest().empty() ? "-" : vip.ring_digest()});
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
  PrintBgpStatus(out, s.bgp());
}

// Several agents: one line each, then every VIP's ring digest side by
// side. Fails when an agent cannot be read or the agents disagree.
absl::Status RunStatusOfAgents(Context& ctx,
                               const std::vector<Connection*>& agents) {
  Table table({"AGENT", "VERSION", "GENERATION", "UPTIME", "INTERFACE", "VIPS",
               "NO-RING"});
  google::protobuf::Struct json;
  auto* agents_json = (*json.mutable_fields())["agents"].mutable_list_value();
  std::vector<AgentRings> rings;
  absl::Status first_error;
  for (size_t i = 0; i < agents.size(); ++i) {
    const std::string server = ctx.ServerName(i);
    auto status = Context::Call(*agents[i], &v1::LoadBalancer::Stub::GetStatus,
                                v1::GetStatusRequest());
    google::protobuf::Struct* agent_json =
        agents_json->add_values()->mutable_struct_value();
    (*agent_json->mutable_fields())["server"].set_string_value(server);
    if (!status.ok()) {
      (*agent_json->mutable_fields())["error"].set_string_value(
          std::string(status.status().message()));
      table.AddRow({server, "unreachable"});
      if (first_error.ok()) {
        first_error =
            absl::Status(status.status().code(),
                         absl::StrCat(server, ": ", status.status().message()));
      }
      continue;
    }
    *(*agent_json->mutable_fields())["status"].mutable_struct_value() =
        ToJsonValue(*status).struct_value();
    int no_ring = 0;
    for (const auto& vip : status->vips()) no_ring += !vip.has_ring();
    table.AddRow({server, status->version(), absl::StrCat(status->generation()),
                  Uptime(status->uptime()),
                  status->interface().empty() ? "(none)" : status->interface(),
                  absl::StrCat(status->vips_size()), absl::StrCat(no_ring)});
    rings.push_back(RingsOf(server, *status));
  }
  const RingComparison comparison = CompareRings(rings);
  if (ctx.json()) {
    google::protobuf::Struct rings_json = RingComparisonJson(comparison);
    json.mutable_fields()->insert(rings_json.fields().begin(),
                                  rings_json.fields().end());
    PrintDocument(ctx.out, json);
  } else {
    table.Print(ctx.out);
    ctx.out << "ring digests";
    if (rings.size() < agents.size()) {
      ctx.out << " (of the " << rings.size() << " agents that answered)";
    }
    ctx.out << ":\n";
    PrintRingComparison(ctx.out, comparison, "  ");
    if (comparison.agree() && first_error.ok()) {
      ctx.out << "all " << agents.size()
              << " agents agree on every VIP's ring\n";
    }
  }
  if (!first_error.ok()) return first_error;
  if (!comparison.agree()) return DisagreementStatus(comparison, "now");
  return absl::OkStatus();
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
down, and its ring digest. Warnings name VIPs that drop traffic or have
failed open. The BGP section last (as `xlbctl bgp status`): whether gobgpd
is reached, the host drain, and per VIP whether its route is announced and
why not. -o json prints the GetStatusResponse.

With several --server: one line per agent, then every VIP's ring digest on
each agent side by side. Agents with equal digests for a VIP send every new
flow to it to the same backend; the exit code is 6 when some VIP differs
(or is absent on some agent), 5 when an agent cannot be reached. -o json
prints {"agents": [{"server", "status"} or {"server", "error"}], "vips":
[{"vip", "ring_digests": {SERVER: DIGEST}, "agree"}], "agree"}.

Examples:
  xlbctl status
  xlbctl status -o json | jq '.maps[] | select(.name == "conns")'
  XLB_SERVER=lb1.example:50051 xlbctl status --ca ca.pem
  xlbctl status -s lb1.example:50051 -s lb2.example:50051 --ca ca.pem)");
  SetAction(cmd, ctx, [](Context& ctx) -> absl::Status {
    if (ctx.servers.size() > 1) {
      absl::StatusOr<std::vector<Connection*>> agents = ctx.ConnectAll();
      if (!agents.ok()) return agents.status();
      return RunStatusOfAgents(ctx, *agents);
    }
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
