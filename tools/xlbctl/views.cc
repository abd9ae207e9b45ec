#include "tools/xlbctl/views.h"

#include <map>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "tools/xlbctl/arguments.h"
#include "tools/xlbctl/output.h"

namespace xlb::xlbctl {
namespace {

bool SameKey(const v1::VipKey& a, const v1::VipKey& b) {
  return a.address() == b.address() && a.port() == b.port() &&
         a.protocol() == b.protocol();
}

std::string RingSize(const v1::VipSettings& settings) {
  return settings.ring_size() == 0 ? "65537"
                                   : absl::StrCat(settings.ring_size());
}

std::string SynRateLimit(const v1::VipSettings& settings) {
  return settings.syn_rate_limit() == 0
             ? "none"
             : absl::StrCat(settings.syn_rate_limit(), "/s");
}

}  // namespace

const v1::VipStatus* FindVipStatus(const v1::GetStatusResponse& status,
                                   const v1::VipKey& key) {
  for (const auto& vip : status.vips()) {
    if (SameKey(vip.key(), key)) return &vip;
  }
  return nullptr;
}

std::string HealthCheckSummary(const v1::VipSettings& settings) {
  if (!settings.has_health_check()) return "none";
  const v1::HealthCheck& hc = settings.health_check();
  std::string text = HealthCheckTypeName(hc.type());
  if (hc.port() != 0) absl::StrAppend(&text, " :", hc.port());
  if (hc.type() == v1::HEALTH_CHECK_TYPE_HTTP ||
      hc.type() == v1::HEALTH_CHECK_TYPE_HTTPS) {
    absl::StrAppend(&text, " ", hc.http_path().empty() ? "/" : hc.http_path());
  }
  if (hc.https_verify()) absl::StrAppend(&text, " (verified)");
  auto or_default = [](const google::protobuf::Duration& d,
                       const char* fallback) {
    std::string s = FormatDuration(d);
    return s == "-" ? std::string(fallback) : s;
  };
  absl::StrAppend(&text, " every ", or_default(hc.interval(), "5s"),
                  ", timeout ", or_default(hc.timeout(), "2s"), ", rise ",
                  hc.rise() == 0 ? 2 : hc.rise(), ", fall ",
                  hc.fall() == 0 ? 3 : hc.fall());
  return text;
}

std::string HealthOverrideSummary(const v1::HealthOverride& o) {
  std::vector<std::string> parts;
  if (o.has_port()) parts.push_back(absl::StrCat("port ", o.port()));
  if (o.has_interval()) {
    parts.push_back(absl::StrCat("interval ", FormatDuration(o.interval())));
  }
  if (o.has_timeout()) {
    parts.push_back(absl::StrCat("timeout ", FormatDuration(o.timeout())));
  }
  if (o.has_rise()) parts.push_back(absl::StrCat("rise ", o.rise()));
  if (o.has_fall()) parts.push_back(absl::StrCat("fall ", o.fall()));
  if (o.has_jitter()) {
    parts.push_back(absl::StrCat("jitter ", FormatDuration(o.jitter())));
  }
  return absl::StrJoin(parts, ", ");
}

void PrintHealthOverrides(std::ostream& out, const v1::Vip& vip,
                          const std::string& indent) {
  for (const v1::Backend& b : vip.backends()) {
    if (!b.has_health_override()) continue;
    const std::string summary = HealthOverrideSummary(b.health_override());
    if (summary.empty()) continue;
    out << indent << b.address() << ": " << summary << "\n";
  }
}

std::string HealthChangeSummary(const v1::HealthChanged& change) {
  std::string out = change.healthy() ? "healthy" : "unhealthy";
  if (change.reason() == v1::PROBE_OUTCOME_UNSPECIFIED) return out;
  // PROBE_OUTCOME_WRONG_STATUS -> "wrong_status".
  const std::string name =
      absl::AsciiStrToLower(v1::ProbeOutcome_Name(change.reason()));
  absl::string_view reason = name;
  absl::ConsumePrefix(&reason, "probe_outcome_");
  absl::StrAppend(&out, ": ", reason);
  if (!change.detail().empty()) {
    absl::StrAppend(&out, " (", change.detail(), ")");
  }
  if (change.latency().seconds() != 0 || change.latency().nanos() != 0) {
    absl::StrAppend(&out, ", probe took ", FormatDuration(change.latency()));
  }
  if (change.ring_changed()) {
    absl::StrAppend(&out, "; ring now ",
                    change.ring_digest().empty() ? "empty (no backend)"
                                                 : change.ring_digest());
  }
  return out;
}

void PrintVipTable(std::ostream& out,
                   const google::protobuf::RepeatedPtrField<v1::Vip>& vips) {
  Table table({"VIP", "HASH", "RING", "SEED", "ECHO", "SYN-LIMIT",
               "MIN-HEALTHY", "BACKENDS", "HEALTH-CHECK"});
  for (const auto& vip : vips) {
    const v1::VipSettings& s = vip.settings();
    table.AddRow({FormatVipKey(vip.key()), HashModeName(s.hash_mode()),
                  RingSize(s), absl::StrCat(s.maglev_seed()),
                  YesNo(s.echo_reply()), SynRateLimit(s),
                  absl::StrFormat("%g", s.min_healthy_fraction()),
                  absl::StrCat(vip.backends_size()), HealthCheckSummary(s)});
  }
  if (table.empty()) {
    out << "no VIPs configured\n";
    return;
  }
  table.Print(out);
}

void PrintVipDetails(std::ostream& out, const v1::Vip& vip,
                     const v1::VipStatus* status) {
  const v1::VipSettings& s = vip.settings();
  out << "vip " << FormatVipKey(vip.key()) << "\n";
  if (status != nullptr) {
    out << "  index:        " << status->index() << "\n"
        << "  has ring:     " << YesNo(status->has_ring())
        << (status->has_ring() ? "" : " (no eligible backend: packets dropped)")
        << "\n"
        << "  fail open:    " << YesNo(status->fail_open()) << "\n"
        << "  ring digest:  "
        << (status->ring_digest().empty() ? "-" : status->ring_digest())
        << "\n";
  }
  out << "  hash:         " << HashModeName(s.hash_mode()) << "\n"
      << "  ring size:    " << RingSize(s) << "\n"
      << "  maglev seed:  " << s.maglev_seed() << "\n"
      << "  echo reply:   " << YesNo(s.echo_reply()) << "\n"
      << "  syn limit:    " << SynRateLimit(s) << "\n"
      << "  min healthy:  " << absl::StrFormat("%g", s.min_healthy_fraction())
      << "\n"
      << "  announce min: "
      << (s.has_announce_min_healthy() ? s.announce_min_healthy() : 1u)
      << " healthy backends (BGP)\n"
      << "  health check: " << HealthCheckSummary(s) << "\n";
  if (vip.backends().empty()) {
    out << "  backends:     none\n";
    return;
  }
  out << "  backends:\n";
  if (status != nullptr) {
    PrintBackendHealthTable(out, *status, "    ");
    return;
  }
  Table table({"ADDRESS", "WEIGHT", "DRAINED"});
  for (const auto& b : vip.backends()) {
    table.AddRow({b.address(), absl::StrCat(b.has_weight() ? b.weight() : 1),
                  YesNo(b.drained())});
  }
  table.Print(out, "    ");
}

void PrintBackendHealthTable(std::ostream& out, const v1::VipStatus& status,
                             const std::string& indent) {
  Table table(
      {"ADDRESS", "WEIGHT", "DRAINED", "STATE", "HEALTHY", "IN-RING", "INDEX"});
  for (const auto& b : status.backends()) {
    table.AddRow({b.address(), absl::StrCat(b.weight()), YesNo(b.drained()),
                  BackendStateName(b.state()), YesNo(b.healthy()),
                  YesNo(b.in_ring()), absl::StrCat(b.index())});
  }
  if (table.empty()) {
    out << indent << "no backends\n";
    return;
  }
  table.Print(out, indent);
}

void PrintBgpStatus(std::ostream& out, const v1::BgpStatus& bgp,
                    const std::string& indent) {
  if (!bgp.configured()) {
    out << indent << "bgp: not configured (xlbd --bgp-api); host drained: "
        << YesNo(bgp.host_drained()) << "\n";
    return;
  }
  out << indent << "bgp\n"
      << indent << "  gobgpd api:    " << bgp.api_address() << "\n"
      << indent << "  reachable:     "
      << (bgp.daemon_reachable() ? "yes" : "NO (retrying)") << "\n";
  if (!bgp.last_error().empty()) {
    out << indent << "  last error:    " << bgp.last_error() << "\n";
  }
  out << indent << "  host drained:  " << YesNo(bgp.host_drained()) << "\n"
      << indent << "  next hop v4:   "
      << (bgp.next_hop_v4().empty() ? "(none)" : bgp.next_hop_v4()) << "\n"
      << indent << "  next hop v6:   "
      << (bgp.next_hop_v6().empty() ? "(none)" : bgp.next_hop_v6()) << "\n"
      << indent << "  paths added:   " << bgp.announcements()
      << ", withdrawn: " << bgp.withdrawals() << "\n";
  if (bgp.vips().empty()) return;
  Table table({"VIP", "ANNOUNCED", "HEALTHY", "MIN", "REASON"});
  for (const v1::BgpVipStatus& vip : bgp.vips()) {
    table.AddRow({FormatVipKey(vip.key()), YesNo(vip.announced()),
                  absl::StrCat(vip.healthy_backends()),
                  absl::StrCat(vip.announce_min_healthy()), vip.reason()});
  }
  table.Print(out, indent + "  ");
}

std::string VipAnnouncedSummary(const v1::VipAnnounced& event) {
  return absl::StrCat(FormatVipKey(event.vip()),
                      event.announced()
                          ? " announced"
                          : absl::StrCat(" withdrawn: ", event.reason()));
}

}  // namespace xlb::xlbctl
