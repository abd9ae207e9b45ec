// Validation of the desired configuration.
#include <cmath>
#include <cstring>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lb/maglev/maglev.h"
#include "lb/model/model_config.h"

namespace xlb {
namespace {

std::string Field(absl::string_view path, absl::string_view field) {
  if (path.empty()) return std::string(field);
  return absl::StrCat(path, ".", field);
}

absl::Status Invalid(absl::string_view path, absl::string_view field,
                     absl::string_view message) {
  return absl::InvalidArgumentError(
      absl::StrCat(Field(path, field), ": ", message));
}

// `rule`'s verdict on a field, its message prefixed with the field's path.
absl::Status Check(absl::string_view path, absl::string_view field,
                   const absl::Status& rule) {
  if (rule.ok()) return rule;
  return Invalid(path, field, rule.message());
}

absl::string_view HealthCheckTypeName(HealthCheckType type) {
  switch (type) {
    case HealthCheckType::kTcp:
      return "tcp";
    case HealthCheckType::kHttp:
      return "http";
    case HealthCheckType::kHttps:
      return "https";
    case HealthCheckType::kUdp:
      return "udp";
    case HealthCheckType::kGrpc:
      return "grpc";
  }
  return "unknown";
}

// After an explicit zero duration: the default is what leaving the field
// unset gives (a zero is never read as "the default").
std::string ZeroHint(absl::Duration value, absl::Duration default_value) {
  if (value != absl::ZeroDuration()) return "";
  return absl::StrCat("; leave it unset for the default ",
                      absl::FormatDuration(default_value));
}

// A field of another check type is refused, not ignored: whoever set it
// expects it to do something.
absl::Status ValidateCheckTypeFields(const HealthCheckSpec& spec,
                                     absl::string_view path) {
  const bool http = spec.type == HealthCheckType::kHttp ||
                    spec.type == HealthCheckType::kHttps;
  struct Specific {
    absl::string_view field;
    bool applies;
    bool set;
    std::string value;      // as the message shows it
    absl::string_view who;  // the checks that use it, and what for
  };
  const Specific fields[] = {
      {"http_path", http, !spec.http_path.empty(), QuoteValue(spec.http_path),
       "http and https checks send a request path"},
      {"http_host", http, !spec.http_host.empty(), QuoteValue(spec.http_host),
       "http and https checks send a Host header"},
      {"http_expected_codes", http, !spec.http_expected_codes.empty(),
       absl::StrCat("[", absl::StrJoin(spec.http_expected_codes, ", "), "]"),
       "http and https checks read a status code"},
      {"http_body_substring", http, !spec.http_body_substring.empty(),
       QuoteValue(spec.http_body_substring),
       "http and https checks read a body"},
      {"udp_request", spec.type == HealthCheckType::kUdp,
       !spec.udp_request.empty(),
       absl::StrCat(spec.udp_request.size(), " bytes"),
       "a udp check sends a datagram"},
      {"udp_response", spec.type == HealthCheckType::kUdp,
       !spec.udp_response.empty(),
       absl::StrCat(spec.udp_response.size(), " bytes"),
       "a udp check reads a reply"},
      {"grpc_service", spec.type == HealthCheckType::kGrpc,
       !spec.grpc_service.empty(), QuoteValue(spec.grpc_service),
       "a grpc check asks about a service"},
      {"https_verify", spec.type == HealthCheckType::kHttps, spec.https_verify,
       "true", "an https check verifies certificates"},
  };
  for (const Specific& f : fields) {
    if (f.set && !f.applies) {
      return Invalid(path, f.field,
                     absl::StrCat(f.value, ": only ", f.who, ", this one is ",
                                  HealthCheckTypeName(spec.type)));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string VipKey::ToString() const {
  std::string host = address.family() == XLB_FAMILY_V6
                         ? absl::StrCat("[", address.ToString(), "]")
                         : address.ToString();
  return absl::StrCat(host, ":", port,
                      protocol == Protocol::kUdp ? "/udp" : "/tcp");
}

absl::Status ValidateVipKey(const VipKey& key, absl::string_view path) {
  if (!key.address.is_set()) {
    return Invalid(path, "address", "required");
  }
  if (absl::Status s =
          Check(path, "address", CheckUsableAddress(key.address.bytes()));
      !s.ok()) {
    return s;
  }
  if (key.protocol != Protocol::kTcp && key.protocol != Protocol::kUdp) {
    return Invalid(path, "protocol",
                   absl::StrCat(static_cast<int>(key.protocol),
                                " is neither TCP (6) nor UDP (17)"));
  }
  return absl::OkStatus();
}

absl::Status ValidateBackend(const BackendConfig& backend, const VipKey& vip,
                             absl::string_view path) {
  if (!backend.address.is_set()) {
    return Invalid(path, "address", "required");
  }
  if (absl::Status s =
          Check(path, "address", CheckUsableAddress(backend.address.bytes()));
      !s.ok()) {
    return s;
  }
  if (backend.address == vip.address) {
    return Invalid(path, "address",
                   absl::StrCat(backend.address.ToString(),
                                " is the VIP's own address: packets "
                                "encapsulated to it would come back to the "
                                "balancer"));
  }
  // The data plane encapsulates IPv4 in IPv4 or IPv6, IPv6 only in IPv6.
  if (vip.address.family() == XLB_FAMILY_V6 && backend.address.is_v4()) {
    return Invalid(
        path, "address",
        absl::StrCat("IPv4 backend ", backend.address.ToString(),
                     " cannot carry traffic of IPv6 VIP ", vip.ToString()));
  }
  if (backend.weight > kMaxBackendWeight) {
    return Invalid(
        path, "weight",
        absl::StrCat(backend.weight, " exceeds ", kMaxBackendWeight));
  }
  if (backend.health_override.has_value()) {
    return ValidateHealthOverride(*backend.health_override, nullptr,
                                  Field(path, "health_override"));
  }
  return absl::OkStatus();
}

namespace {

// An override's values taken one by one.
absl::Status ValidateOverrideValues(const HealthOverride& o,
                                    absl::string_view path) {
  if (o.port.has_value() && *o.port == 0) {
    return Invalid(path, "port", "0 is not a port (leave it unset to inherit)");
  }
  if (o.interval.has_value() &&
      (*o.interval < kMinHealthInterval || *o.interval > kMaxHealthInterval)) {
    return Invalid(
        path, "interval",
        absl::StrCat(absl::FormatDuration(*o.interval), " is outside [",
                     absl::FormatDuration(kMinHealthInterval), ", ",
                     absl::FormatDuration(kMaxHealthInterval), "]",
                     *o.interval == absl::ZeroDuration()
                         ? " (leave it unset to inherit)"
                         : ""));
  }
  for (auto [name, value] :
       {std::pair<absl::string_view, std::optional<uint32_t>>{"rise", o.rise},
        {"fall", o.fall}}) {
    if (value.has_value() && (*value < 1 || *value > kMaxHealthThreshold)) {
      return Invalid(
          path, name,
          absl::StrCat(*value, " is outside [1, ", kMaxHealthThreshold, "]"));
    }
  }
  if (o.timeout.has_value() && *o.timeout <= absl::ZeroDuration()) {
    return Invalid(
        path, "timeout",
        absl::StrCat(absl::FormatDuration(*o.timeout),
                     " is not positive (leave it unset to inherit)"));
  }
  if (o.jitter.has_value() && *o.jitter < absl::ZeroDuration()) {
    return Invalid(
        path, "jitter",
        absl::StrCat(absl::FormatDuration(*o.jitter), " is negative"));
  }
  // Bound by the longest interval even while no interval is known (a VIP
  // without a health check), so no value is kept that no check can use.
  if (o.timeout.has_value() && *o.timeout > kMaxHealthInterval) {
    return Invalid(path, "timeout",
                   absl::StrCat(absl::FormatDuration(*o.timeout),
                                " exceeds the longest interval, ",
                                absl::FormatDuration(kMaxHealthInterval)));
  }
  if (o.jitter.has_value() && *o.jitter >= kMaxHealthInterval) {
    return Invalid(path, "jitter",
                   absl::StrCat(absl::FormatDuration(*o.jitter),
                                " is not below the longest interval, ",
                                absl::FormatDuration(kMaxHealthInterval)));
  }
  return absl::OkStatus();
}

// The pairs an interval bounds, once the values in force are known: the
// override's, else the check's (`spec`, null when the VIP has none).
absl::Status ValidateOverrideAgainstInterval(const HealthOverride& o,
                                             const HealthCheckSpec* spec,
                                             absl::string_view path) {
  std::optional<absl::Duration> interval = o.interval;
  std::optional<absl::Duration> timeout = o.timeout;
  std::optional<absl::Duration> jitter = o.jitter;
  if (spec != nullptr) {
    if (!interval) interval = spec->interval;
    if (!timeout) timeout = spec->timeout;
    if (!jitter) jitter = spec->jitter;
  }
  if (!interval.has_value()) return absl::OkStatus();
  const std::string whose =
      o.interval.has_value() ? "" : " (the health check's)";
  if (timeout.has_value() && *timeout > *interval) {
    // Name the field the override set: that is what to change.
    return o.timeout.has_value()
               ? Invalid(path, "timeout",
                         absl::StrCat(absl::FormatDuration(*timeout),
                                      " exceeds interval ",
                                      absl::FormatDuration(*interval), whose))
               : Invalid(path, "interval",
                         absl::StrCat(absl::FormatDuration(*interval),
                                      " is below the health check's timeout ",
                                      absl::FormatDuration(*timeout),
                                      "; override the timeout too"));
  }
  if (jitter.has_value() && *jitter >= *interval) {
    return o.jitter.has_value()
               ? Invalid(path, "jitter",
                         absl::StrCat(absl::FormatDuration(*jitter),
                                      " is not below interval ",
                                      absl::FormatDuration(*interval), whose))
               : Invalid(path, "interval",
                         absl::StrCat(absl::FormatDuration(*interval),
                                      " is not above the health check's "
                                      "jitter ",
                                      absl::FormatDuration(*jitter),
                                      "; override the jitter too"));
  }
  return absl::OkStatus();
}

// A check's interval, timeout, rise, fall and jitter.
absl::Status ValidateCheckTiming(const HealthCheckSpec& spec,
                                 absl::string_view path) {
  if (spec.interval < kMinHealthInterval ||
      spec.interval > kMaxHealthInterval) {
    return Invalid(
        path, "interval",
        absl::StrCat(absl::FormatDuration(spec.interval), " is outside [",
                     absl::FormatDuration(kMinHealthInterval), ", ",
                     absl::FormatDuration(kMaxHealthInterval), "]",
                     ZeroHint(spec.interval, HealthCheckSpec().interval)));
  }
  if (spec.timeout <= absl::ZeroDuration() || spec.timeout > spec.interval) {
    return Invalid(
        path, "timeout",
        absl::StrCat(absl::FormatDuration(spec.timeout),
                     " is outside (0, interval ",
                     absl::FormatDuration(spec.interval), "]",
                     ZeroHint(spec.timeout, HealthCheckSpec().timeout)));
  }
  for (auto [name, value] :
       {std::pair<absl::string_view, uint32_t>{"rise", spec.rise},
        {"fall", spec.fall}}) {
    if (value < 1 || value > kMaxHealthThreshold) {
      return Invalid(
          path, name,
          absl::StrCat(value, " is outside [1, ", kMaxHealthThreshold, "]"));
    }
  }
  if (spec.jitter < absl::ZeroDuration() || spec.jitter >= spec.interval) {
    return Invalid(path, "jitter",
                   absl::StrCat(absl::FormatDuration(spec.jitter),
                                " is outside [0, interval ",
                                absl::FormatDuration(spec.interval), ")"));
  }
  return absl::OkStatus();
}

absl::Status ValidateHttpFields(const HealthCheckSpec& spec,
                                absl::string_view path) {
  if (!spec.http_path.empty()) {
    if (absl::Status s =
            Check(path, "http_path", CheckHttpPath(spec.http_path));
        !s.ok()) {
      return s;
    }
  }
  if (!spec.http_host.empty()) {
    if (absl::Status s =
            Check(path, "http_host", CheckHttpHost(spec.http_host));
        !s.ok()) {
      return s;
    }
  }
  // Each code once, so the list holds at most the 500 codes there are.
  std::map<uint32_t, size_t> seen;
  for (size_t i = 0; i < spec.http_expected_codes.size(); ++i) {
    const uint32_t code = spec.http_expected_codes[i];
    const std::string field = absl::StrCat("http_expected_codes[", i, "]");
    if (code < 100 || code > 599) {
      return Invalid(path, field,
                     absl::StrCat(code, " is not an HTTP status code"));
    }
    auto [it, inserted] = seen.emplace(code, i);
    if (!inserted) {
      return Invalid(
          path, field,
          absl::StrCat(code, " repeats http_expected_codes[", it->second, "]"));
    }
  }
  return Check(path, "http_body_substring",
               CheckHttpBodySubstring(spec.http_body_substring));
}

}  // namespace

absl::Status ValidateHealthOverride(const HealthOverride& o,
                                    const HealthCheckSpec* spec,
                                    absl::string_view path) {
  if (absl::Status s = ValidateOverrideValues(o, path); !s.ok()) return s;
  return ValidateOverrideAgainstInterval(o, spec, path);
}

absl::Status ValidateHealthCheck(const HealthCheckSpec& spec, const VipKey& vip,
                                 absl::string_view path) {
  switch (spec.type) {
    case HealthCheckType::kTcp:
    case HealthCheckType::kHttp:
    case HealthCheckType::kHttps:
    case HealthCheckType::kUdp:
    case HealthCheckType::kGrpc:
      break;
    default:
      return Invalid(path, "type",
                     absl::StrCat(static_cast<int>(spec.type),
                                  " is not a health-check type"));
  }
  if (spec.port == 0 && vip.port == 0) {
    return Invalid(path, "port", "0: required for a port-wildcard VIP");
  }
  if (absl::Status s = ValidateCheckTiming(spec, path); !s.ok()) return s;
  if (absl::Status s = ValidateCheckTypeFields(spec, path); !s.ok()) {
    return s;
  }
  switch (spec.type) {
    case HealthCheckType::kHttp:
    case HealthCheckType::kHttps:
      return ValidateHttpFields(spec, path);
    case HealthCheckType::kUdp:
      if (spec.udp_request.empty()) {
        return Invalid(path, "udp_request",
                       "empty: a udp check sends a request");
      }
      if (absl::Status s =
              Check(path, "udp_request", CheckUdpPayload(spec.udp_request));
          !s.ok()) {
        return s;
      }
      return Check(path, "udp_response", CheckUdpPayload(spec.udp_response));
    case HealthCheckType::kGrpc:
      return Check(path, "grpc_service", CheckGrpcService(spec.grpc_service));
    case HealthCheckType::kTcp:
      break;
  }
  return absl::OkStatus();
}

absl::Status ValidateVipSettings(const VipSettings& settings, const VipKey& vip,
                                 const DataplaneLimits& limits,
                                 absl::string_view path) {
  if (settings.hash_mode != HashMode::kFiveTuple &&
      settings.hash_mode != HashMode::kNoSourcePort) {
    return Invalid(path, "hash_mode",
                   absl::StrCat(static_cast<int>(settings.hash_mode),
                                " is not a hash mode"));
  }
  if (!IsSupportedRingSize(settings.ring_size)) {
    return Invalid(
        path, "ring_size",
        absl::StrCat(settings.ring_size,
                     " is not a supported ring size (one of ",
                     absl::StrJoin(SupportedRingSizes(), ", "), ")"));
  }
  if (settings.ring_size > limits.max_ring_size) {
    return absl::ResourceExhaustedError(absl::StrCat(
        Field(path, "ring_size"), ": ", settings.ring_size,
        " exceeds the data plane's max_ring_size ", limits.max_ring_size));
  }
  if (settings.syn_rate_limit > kMaxSynRateLimit) {
    return Invalid(path, "syn_rate_limit",
                   absl::StrCat(settings.syn_rate_limit, " exceeds ",
                                kMaxSynRateLimit, " SYNs per second"));
  }
  if (settings.syn_rate_limit != 0 && vip.protocol != Protocol::kTcp) {
    return Invalid(path, "syn_rate_limit",
                   absl::StrCat(settings.syn_rate_limit,
                                ": only a TCP VIP "
                                "receives SYNs, this one is UDP"));
  }
  if (!(settings.min_healthy_fraction >= 0.0 &&
        settings.min_healthy_fraction <= 1.0)) {
    return Invalid(
        path, "min_healthy_fraction",
        absl::StrCat(settings.min_healthy_fraction, " is outside [0, 1]"));
  }
  // Index 0 of the backends map is reserved, so a VIP has at most
  // max_backends - 1 backends.
  if (settings.announce_min_healthy > limits.max_backends - 1) {
    return Invalid(
        path, "announce_min_healthy",
        absl::StrCat(
            settings.announce_min_healthy,
            " exceeds the most backends a VIP can have on this agent (",
            limits.max_backends - 1, "): it could never be met"));
  }
  if (settings.health_check.has_value()) {
    return ValidateHealthCheck(*settings.health_check, vip,
                               Field(path, "health_check"));
  }
  return absl::OkStatus();
}

absl::Status ValidateVipConfig(const VipConfig& vip,
                               const DataplaneLimits& limits,
                               absl::string_view path) {
  if (absl::Status s = ValidateVipKey(vip.key, Field(path, "key")); !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateVipSettings(vip.settings, vip.key, limits,
                                           Field(path, "settings"));
      !s.ok()) {
    return s;
  }
  std::map<IpAddress, size_t> seen;
  for (size_t i = 0; i < vip.backends.size(); ++i) {
    const std::string backend_path =
        Field(path, absl::StrCat("backends[", i, "]"));
    if (absl::Status s =
            ValidateBackend(vip.backends[i], vip.key, backend_path);
        !s.ok()) {
      return s;
    }
    if (vip.backends[i].health_override.has_value() &&
        vip.settings.health_check.has_value()) {
      if (absl::Status s = ValidateHealthOverride(
              *vip.backends[i].health_override, &*vip.settings.health_check,
              Field(backend_path, "health_override"));
          !s.ok()) {
        return s;
      }
    }
    auto [it, inserted] = seen.emplace(vip.backends[i].address, i);
    if (!inserted) {
      return Invalid(backend_path, "address",
                     absl::StrCat(vip.backends[i].address.ToString(),
                                  " repeats backends[", it->second, "]"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateBalancerConfig(const BalancerConfig& config,
                                    const DataplaneLimits& limits,
                                    absl::string_view path) {
  std::map<VipKey, size_t> seen;
  for (size_t i = 0; i < config.vips.size(); ++i) {
    const std::string vip_path = Field(path, absl::StrCat("vips[", i, "]"));
    if (absl::Status s = ValidateVipConfig(config.vips[i], limits, vip_path);
        !s.ok()) {
      return s;
    }
    auto [it, inserted] = seen.emplace(config.vips[i].key, i);
    if (!inserted) {
      return Invalid(vip_path, "key",
                     absl::StrCat(config.vips[i].key.ToString(),
                                  " repeats vips[", it->second, "]"));
    }
  }
  return absl::OkStatus();
}

}  // namespace xlb
