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

// True when `text` holds only printable ASCII without spaces: safe to put
// in a request line or header.
bool IsHeaderToken(absl::string_view text) {
  for (char c : text) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
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

absl::Status ValidateHealthOverride(const HealthOverride& o,
                                    const HealthCheckSpec* spec,
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
                     absl::FormatDuration(kMaxHealthInterval), "]"));
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
        absl::StrCat(absl::FormatDuration(*o.timeout), " is not positive"));
  }
  if (o.jitter.has_value() && *o.jitter < absl::ZeroDuration()) {
    return Invalid(
        path, "jitter",
        absl::StrCat(absl::FormatDuration(*o.jitter), " is negative"));
  }
  // The pairs bound by the interval, once the values in force are known.
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
  if (spec.interval < kMinHealthInterval ||
      spec.interval > kMaxHealthInterval) {
    return Invalid(
        path, "interval",
        absl::StrCat(absl::FormatDuration(spec.interval), " is outside [",
                     absl::FormatDuration(kMinHealthInterval), ", ",
                     absl::FormatDuration(kMaxHealthInterval), "]"));
  }
  if (spec.timeout <= absl::ZeroDuration() || spec.timeout > spec.interval) {
    return Invalid(path, "timeout",
                   absl::StrCat(absl::FormatDuration(spec.timeout),
                                " is outside (0, interval ",
                                absl::FormatDuration(spec.interval), "]"));
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
  const absl::string_view type = HealthCheckTypeName(spec.type);
  if (spec.type == HealthCheckType::kHttp ||
      spec.type == HealthCheckType::kHttps) {
    if (spec.http_path.empty() || spec.http_path[0] != '/' ||
        !IsHeaderToken(spec.http_path)) {
      return Invalid(path, "http_path",
                     absl::StrCat("\"", spec.http_path,
                                  "\" must start with '/' and hold no spaces "
                                  "or control characters"));
    }
    if (!IsHeaderToken(spec.http_host)) {
      return Invalid(path, "http_host",
                     absl::StrCat("\"", spec.http_host,
                                  "\" holds spaces or control characters"));
    }
    if (spec.http_expected_codes.empty()) {
      return Invalid(path, "http_expected_codes",
                     absl::StrCat("empty: a ", type,
                                  " check needs at least one status code"));
    }
    for (size_t i = 0; i < spec.http_expected_codes.size(); ++i) {
      const uint32_t code = spec.http_expected_codes[i];
      if (code < 100 || code > 599) {
        return Invalid(path, absl::StrCat("http_expected_codes[", i, "]"),
                       absl::StrCat(code, " is not an HTTP status code"));
      }
    }
  }
  if (spec.type == HealthCheckType::kUdp) {
    if (spec.udp_request.empty()) {
      return Invalid(path, "udp_request", "empty: a udp check sends a request");
    }
    for (auto [name, bytes] : {std::pair<absl::string_view, size_t>{
                                   "udp_request", spec.udp_request.size()},
                               {"udp_response", spec.udp_response.size()}}) {
      if (bytes > kMaxUdpProbeBytes) {
        return Invalid(
            path, name,
            absl::StrCat(bytes, " bytes exceed ", kMaxUdpProbeBytes));
      }
    }
  }
  if (spec.https_verify && spec.type != HealthCheckType::kHttps) {
    return Invalid(path, "https_verify",
                   absl::StrCat("true: only an https check verifies "
                                "certificates, this one is ",
                                type));
  }
  if (spec.type == HealthCheckType::kGrpc &&
      !IsHeaderToken(spec.grpc_service)) {
    return Invalid(path, "grpc_service",
                   absl::StrCat("\"", spec.grpc_service,
                                "\" holds spaces or control characters"));
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
  if (!(settings.min_healthy_fraction >= 0.0 &&
        settings.min_healthy_fraction <= 1.0)) {
    return Invalid(
        path, "min_healthy_fraction",
        absl::StrCat(settings.min_healthy_fraction, " is outside [0, 1]"));
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
