#include "lb/health/target.h"

#include <arpa/inet.h>

#include "absl/strings/str_cat.h"

namespace xlb::health {

const SharedSpec& DefaultSpec() {
  static const SharedSpec* spec =
      new SharedSpec(std::make_shared<const HealthCheckSpec>());
  return *spec;
}

HealthCheckSpec& HealthTarget::mutable_spec() {
  auto copy = std::make_shared<HealthCheckSpec>(*spec);
  HealthCheckSpec& editable = *copy;
  spec = std::move(copy);
  return editable;
}

bool HealthTarget::operator==(const HealthTarget& other) const {
  return id == other.id && mode == other.mode && address == other.address &&
         port == other.port && mark == other.mark &&
         (spec == other.spec || *spec == *other.spec) &&
         override_spec == other.override_spec &&
         initial_status == other.initial_status &&
         verify_tls == other.verify_tls;
}

EffectiveSchedule ResolveSchedule(const HealthTarget& target) {
  const HealthCheckSpec& spec = *target.spec;
  const HealthOverride& o = target.override_spec;
  EffectiveSchedule s;
  s.port = o.port.value_or(spec.port != 0 ? spec.port : target.port);
  s.interval = o.interval.value_or(spec.interval);
  s.timeout = o.timeout.value_or(spec.timeout);
  s.rise = o.rise.value_or(spec.rise);
  s.fall = o.fall.value_or(spec.fall);
  s.jitter = o.jitter.value_or(spec.jitter);
  return s;
}

absl::Status ValidateTarget(const HealthTarget& target) {
  auto invalid = [&](auto&&... parts) {
    return absl::InvalidArgumentError(
        absl::StrCat("health target ", target.id, ": ", parts...));
  };
  in6_addr buf;
  if (inet_pton(AF_INET, target.address.c_str(), &buf) != 1 &&
      inet_pton(AF_INET6, target.address.c_str(), &buf) != 1) {
    return invalid("address: '", target.address, "' is not an IP address");
  }
  const EffectiveSchedule s = ResolveSchedule(target);
  if (s.port == 0) return invalid("port: 0 (no port to probe)");
  if (s.interval <= absl::ZeroDuration()) {
    return invalid("interval: ", absl::FormatDuration(s.interval),
                   " is not positive");
  }
  if (s.timeout <= absl::ZeroDuration() || s.timeout > s.interval) {
    return invalid("timeout: ", absl::FormatDuration(s.timeout),
                   " is not in (0, interval ", absl::FormatDuration(s.interval),
                   "]");
  }
  if (s.jitter < absl::ZeroDuration() || s.jitter >= s.interval) {
    return invalid("jitter: ", absl::FormatDuration(s.jitter),
                   " is not in [0, interval ", absl::FormatDuration(s.interval),
                   ")");
  }
  if (s.rise < 1 || s.rise > kMaxHealthThreshold) {
    return invalid("rise: ", s.rise, " is not in [1, ", kMaxHealthThreshold,
                   "]");
  }
  if (s.fall < 1 || s.fall > kMaxHealthThreshold) {
    return invalid("fall: ", s.fall, " is not in [1, ", kMaxHealthThreshold,
                   "]");
  }
  if (target.mode == ProbeMode::kTunnelled &&
      (target.mark & XLB_HC_MARK_TAG_MASK) != XLB_HC_MARK_TAG) {
    return invalid("mark: 0x", absl::Hex(target.mark),
                   " lacks the tunnel tag 0x", absl::Hex(XLB_HC_MARK_TAG));
  }
  if (target.spec->type == HealthCheckType::kUdp &&
      target.spec->udp_request.size() > kMaxUdpProbeBytes) {
    return invalid("udp_request: ", target.spec->udp_request.size(),
                   " bytes exceed ", kMaxUdpProbeBytes);
  }
  return absl::OkStatus();
}

}  // namespace xlb::health
