#include "lb/agent/convert.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lb/agent/events.h"
#include "lb/maglev/maglev.h"

namespace xlb::agent {
namespace {

absl::Status Invalid(absl::string_view path, absl::string_view field,
                     absl::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat(FieldPath(path, field), ": ", problem));
}

absl::StatusOr<uint16_t> PortFromProto(uint32_t port, absl::string_view path,
                                       absl::string_view field) {
  if (port > 65535) {
    return Invalid(path, field, absl::StrCat(port, " exceeds 65535"));
  }
  return static_cast<uint16_t>(port);
}

// Unset gives `fallback`; negative or malformed durations are refused.
absl::StatusOr<absl::Duration> DurationFromProto(
    bool has, const google::protobuf::Duration& d, absl::Duration fallback,
    absl::string_view path, absl::string_view field) {
  if (!has) return fallback;
  if (d.nanos() <= -1000000000 || d.nanos() >= 1000000000 ||
      (d.seconds() > 0 && d.nanos() < 0) ||
      (d.seconds() < 0 && d.nanos() > 0)) {
    return Invalid(path, field,
                   absl::StrCat("{seconds: ", d.seconds(), ", nanos: ",
                                d.nanos(), "} is not a valid duration"));
  }
  if (d.seconds() < 0 || d.nanos() < 0) {
    return Invalid(path, field,
                   absl::StrCat("{seconds: ", d.seconds(),
                                ", nanos: ", d.nanos(), "} is negative"));
  }
  if (d.seconds() > 315576000000) {
    return Invalid(path, field,
                   absl::StrCat(d.seconds(), " seconds is out of range"));
  }
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

absl::StatusOr<Protocol> ProtocolFromProto(v1::Protocol protocol,
                                           absl::string_view path) {
  switch (protocol) {
    case v1::PROTOCOL_TCP:
      return Protocol::kTcp;
    case v1::PROTOCOL_UDP:
      return Protocol::kUdp;
    case v1::PROTOCOL_UNSPECIFIED:
      return Invalid(path, "protocol",
                     "required (PROTOCOL_TCP or PROTOCOL_UDP)");
    default:
      return Invalid(
          path, "protocol",
          absl::StrCat(static_cast<int>(protocol), " is not a Protocol value"));
  }
}

absl::StatusOr<HealthCheckType> HealthCheckTypeFromProto(
    v1::HealthCheckType type, absl::string_view path) {
  switch (type) {
    case v1::HEALTH_CHECK_TYPE_TCP:
      return HealthCheckType::kTcp;
    case v1::HEALTH_CHECK_TYPE_HTTP:
      return HealthCheckType::kHttp;
    case v1::HEALTH_CHECK_TYPE_HTTPS:
      return HealthCheckType::kHttps;
    case v1::HEALTH_CHECK_TYPE_UDP:
      return HealthCheckType::kUdp;
    case v1::HEALTH_CHECK_TYPE_GRPC:
      return HealthCheckType::kGrpc;
    case v1::HEALTH_CHECK_TYPE_UNSPECIFIED:
      return Invalid(path, "type", "required");
    default:
      return Invalid(path, "type",
                     absl::StrCat(static_cast<int>(type),
                                  " is not a HealthCheckType value"));
  }
}

v1::HealthCheckType HealthCheckTypeToProto(HealthCheckType type) {
  switch (type) {
    case HealthCheckType::kTcp:
      return v1::HEALTH_CHECK_TYPE_TCP;
    case HealthCheckType::kHttp:
      return v1::HEALTH_CHECK_TYPE_HTTP;
    case HealthCheckType::kHttps:
      return v1::HEALTH_CHECK_TYPE_HTTPS;
    case HealthCheckType::kUdp:
      return v1::HEALTH_CHECK_TYPE_UDP;
    case HealthCheckType::kGrpc:
      return v1::HEALTH_CHECK_TYPE_GRPC;
  }
  return v1::HEALTH_CHECK_TYPE_UNSPECIFIED;
}

absl::StatusOr<HealthCheckSpec> HealthCheckFromProto(const v1::HealthCheck& hc,
                                                     const VipKey& vip,
                                                     absl::string_view path) {
  HealthCheckSpec spec;
  absl::StatusOr<HealthCheckType> type =
      HealthCheckTypeFromProto(hc.type(), path);
  if (!type.ok()) return type.status();
  spec.type = *type;
  absl::StatusOr<uint16_t> port = PortFromProto(hc.port(), path, "port");
  if (!port.ok()) return port.status();
  spec.port = *port;
  absl::StatusOr<absl::Duration> interval = DurationFromProto(
      hc.has_interval(), hc.interval(), spec.interval, path, "interval");
  if (!interval.ok()) return interval.status();
  spec.interval = *interval;
  absl::StatusOr<absl::Duration> timeout = DurationFromProto(
      hc.has_timeout(), hc.timeout(), spec.timeout, path, "timeout");
  if (!timeout.ok()) return timeout.status();
  spec.timeout = *timeout;
  absl::StatusOr<absl::Duration> jitter = DurationFromProto(
      hc.has_jitter(), hc.jitter(), spec.jitter, path, "jitter");
  if (!jitter.ok()) return jitter.status();
  spec.jitter = *jitter;
  if (hc.rise() != 0) spec.rise = hc.rise();
  if (hc.fall() != 0) spec.fall = hc.fall();
  spec.http_path = hc.http_path();
  spec.http_host = hc.http_host();
  spec.http_expected_codes.assign(hc.http_expected_codes().begin(),
                                  hc.http_expected_codes().end());
  spec.http_body_substring = hc.http_body_substring();
  spec.udp_request = hc.udp_request();
  spec.udp_response = hc.udp_response();
  spec.grpc_service = hc.grpc_service();
  spec.https_verify = hc.https_verify();
  if (absl::Status s = ValidateHealthCheck(spec, vip, path); !s.ok()) return s;
  return spec;
}

v1::HealthCheck HealthCheckToProto(const HealthCheckSpec& spec) {
  v1::HealthCheck hc;
  hc.set_type(HealthCheckTypeToProto(spec.type));
  hc.set_port(spec.port);
  DurationToProto(spec.interval, hc.mutable_interval());
  DurationToProto(spec.timeout, hc.mutable_timeout());
  if (spec.jitter != absl::ZeroDuration()) {
    DurationToProto(spec.jitter, hc.mutable_jitter());
  }
  hc.set_rise(spec.rise);
  hc.set_fall(spec.fall);
  hc.set_http_path(spec.http_path);
  hc.set_http_host(spec.http_host);
  for (uint32_t code : spec.http_expected_codes)
    hc.add_http_expected_codes(code);
  hc.set_http_body_substring(spec.http_body_substring);
  hc.set_udp_request(spec.udp_request);
  hc.set_udp_response(spec.udp_response);
  hc.set_grpc_service(spec.grpc_service);
  hc.set_https_verify(spec.https_verify);
  return hc;
}

// An empty message gives nullopt, so the model never holds an empty one.
absl::StatusOr<std::optional<HealthOverride>> HealthOverrideFromProto(
    bool has, const v1::HealthOverride& o, absl::string_view path) {
  if (!has) return std::nullopt;
  HealthOverride out;
  if (o.has_port()) {
    absl::StatusOr<uint16_t> port = PortFromProto(o.port(), path, "port");
    if (!port.ok()) return port.status();
    out.port = *port;
  }
  struct {
    bool has;
    const google::protobuf::Duration& value;
    const char* field;
    std::optional<absl::Duration>& out;
  } durations[] = {
      {o.has_interval(), o.interval(), "interval", out.interval},
      {o.has_timeout(), o.timeout(), "timeout", out.timeout},
      {o.has_jitter(), o.jitter(), "jitter", out.jitter},
  };
  for (const auto& d : durations) {
    if (!d.has) continue;
    absl::StatusOr<absl::Duration> parsed =
        DurationFromProto(true, d.value, absl::ZeroDuration(), path, d.field);
    if (!parsed.ok()) return parsed.status();
    d.out = *parsed;
  }
  if (o.has_rise()) out.rise = o.rise();
  if (o.has_fall()) out.fall = o.fall();
  if (out.empty()) return std::nullopt;
  if (absl::Status s = ValidateHealthOverride(out, nullptr, path); !s.ok()) {
    return s;
  }
  return out;
}

void HealthOverrideToProto(const HealthOverride& o, v1::HealthOverride* out) {
  if (o.port) out->set_port(*o.port);
  if (o.interval) DurationToProto(*o.interval, out->mutable_interval());
  if (o.timeout) DurationToProto(*o.timeout, out->mutable_timeout());
  if (o.rise) out->set_rise(*o.rise);
  if (o.fall) out->set_fall(*o.fall);
  if (o.jitter) DurationToProto(*o.jitter, out->mutable_jitter());
}

}  // namespace

std::string FieldPath(absl::string_view path, absl::string_view field) {
  if (path.empty()) return std::string(field);
  return absl::StrCat(path, ".", field);
}

absl::StatusOr<IpAddress> AddressFromProto(const std::string& text,
                                           absl::string_view path) {
  if (text.empty())
    return absl::InvalidArgumentError(absl::StrCat(path, ": required"));
  absl::StatusOr<IpAddress> address = IpAddress::Parse(text);
  if (!address.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", address.status().message()));
  }
  return *address;
}

absl::StatusOr<VipKey> VipKeyFromProto(const v1::VipKey& key,
                                       absl::string_view path) {
  VipKey out;
  absl::StatusOr<IpAddress> address =
      AddressFromProto(key.address(), FieldPath(path, "address"));
  if (!address.ok()) return address.status();
  out.address = *address;
  absl::StatusOr<uint16_t> port = PortFromProto(key.port(), path, "port");
  if (!port.ok()) return port.status();
  out.port = *port;
  absl::StatusOr<Protocol> protocol = ProtocolFromProto(key.protocol(), path);
  if (!protocol.ok()) return protocol.status();
  out.protocol = *protocol;
  if (absl::Status s = ValidateVipKey(out, path); !s.ok()) return s;
  return out;
}

absl::StatusOr<VipSettings> VipSettingsFromProto(
    const v1::VipSettings& settings, const VipKey& vip,
    const DataplaneLimits& limits, absl::string_view path) {
  VipSettings out;
  switch (settings.hash_mode()) {
    case v1::HASH_MODE_UNSPECIFIED:
    case v1::HASH_MODE_FIVE_TUPLE:
      out.hash_mode = HashMode::kFiveTuple;
      break;
    case v1::HASH_MODE_NO_SOURCE_PORT:
      out.hash_mode = HashMode::kNoSourcePort;
      break;
    default:
      return Invalid(path, "hash_mode",
                     absl::StrCat(static_cast<int>(settings.hash_mode()),
                                  " is not a HashMode value"));
  }
  if (settings.ring_size() != 0) out.ring_size = settings.ring_size();
  out.maglev_seed = settings.maglev_seed();
  out.echo_reply = settings.echo_reply();
  out.syn_rate_limit = settings.syn_rate_limit();
  out.min_healthy_fraction = settings.min_healthy_fraction();
  if (settings.has_announce_min_healthy()) {
    out.announce_min_healthy = settings.announce_min_healthy();
  }
  if (settings.has_health_check()) {
    absl::StatusOr<HealthCheckSpec> hc = HealthCheckFromProto(
        settings.health_check(), vip, FieldPath(path, "health_check"));
    if (!hc.ok()) return hc.status();
    out.health_check = *std::move(hc);
  }
  if (absl::Status s = ValidateVipSettings(out, vip, limits, path); !s.ok()) {
    return s;
  }
  return out;
}

absl::StatusOr<BackendConfig> BackendFromProto(const v1::Backend& backend,
                                               const VipKey& vip,
                                               absl::string_view path) {
  BackendConfig out;
  absl::StatusOr<IpAddress> address =
      AddressFromProto(backend.address(), FieldPath(path, "address"));
  if (!address.ok()) return address.status();
  out.address = *address;
  if (backend.has_weight()) out.weight = backend.weight();
  out.drained = backend.drained();
  absl::StatusOr<std::optional<HealthOverride>> health_override =
      HealthOverrideFromProto(backend.has_health_override(),
                              backend.health_override(),
                              FieldPath(path, "health_override"));
  if (!health_override.ok()) return health_override.status();
  out.health_override = *health_override;
  if (absl::Status s = ValidateBackend(out, vip, path); !s.ok()) return s;
  return out;
}

absl::StatusOr<VipConfig> VipFromProto(const v1::Vip& vip,
                                       const DataplaneLimits& limits,
                                       absl::string_view path) {
  if (!vip.has_key()) return Invalid(path, "key", "required");
  VipConfig out;
  absl::StatusOr<VipKey> key =
      VipKeyFromProto(vip.key(), FieldPath(path, "key"));
  if (!key.ok()) return key.status();
  out.key = *key;
  absl::StatusOr<VipSettings> settings = VipSettingsFromProto(
      vip.settings(), out.key, limits, FieldPath(path, "settings"));
  if (!settings.ok()) return settings.status();
  out.settings = *std::move(settings);
  for (int i = 0; i < vip.backends_size(); ++i) {
    absl::StatusOr<BackendConfig> backend =
        BackendFromProto(vip.backends(i), out.key,
                         FieldPath(path, absl::StrCat("backends[", i, "]")));
    if (!backend.ok()) return backend.status();
    out.backends.push_back(*backend);
  }
  // Uniqueness and the checks spanning fields.
  if (absl::Status s = ValidateVipConfig(out, limits, path); !s.ok()) return s;
  return out;
}

absl::StatusOr<BalancerConfig> ConfigFromProto(const v1::Config& config,
                                               const DataplaneLimits& limits,
                                               absl::string_view path) {
  BalancerConfig out;
  for (int i = 0; i < config.vips_size(); ++i) {
    absl::StatusOr<VipConfig> vip = VipFromProto(
        config.vips(i), limits, FieldPath(path, absl::StrCat("vips[", i, "]")));
    if (!vip.ok()) return vip.status();
    out.vips.push_back(*std::move(vip));
  }
  if (absl::Status s = ValidateBalancerConfig(out, limits, path); !s.ok()) {
    return s;
  }
  return out;
}

absl::StatusOr<Operation> BackendChangeFromProto(
    const v1::BackendChange& change, absl::string_view path) {
  if (!change.has_vip()) return Invalid(path, "vip", "required");
  absl::StatusOr<VipKey> vip =
      VipKeyFromProto(change.vip(), FieldPath(path, "vip"));
  if (!vip.ok()) return vip.status();
  absl::StatusOr<IpAddress> address =
      AddressFromProto(change.address(), FieldPath(path, "address"));
  if (!address.ok()) return address.status();
  switch (change.change_case()) {
    case v1::BackendChange::kAdd: {
      BackendConfig backend{
          .address = *address,
          .weight = change.add().has_weight() ? change.add().weight() : 1u,
          .drained = change.add().drained()};
      if (backend.weight > kMaxBackendWeight) {
        return Invalid(
            path, "add.weight",
            absl::StrCat(backend.weight, " exceeds ", kMaxBackendWeight));
      }
      absl::StatusOr<std::optional<HealthOverride>> health_override =
          HealthOverrideFromProto(change.add().has_health_override(),
                                  change.add().health_override(),
                                  FieldPath(path, "add.health_override"));
      if (!health_override.ok()) return health_override.status();
      backend.health_override = *health_override;
      if (absl::Status s = ValidateBackend(backend, *vip, path); !s.ok()) {
        return s;
      }
      return AddBackendOp{.vip = *vip, .backend = backend};
    }
    case v1::BackendChange::kRemove:
      return RemoveBackendOp{.vip = *vip, .address = *address};
    case v1::BackendChange::kSetWeight:
      if (change.set_weight() > kMaxBackendWeight) {
        return Invalid(
            path, "set_weight",
            absl::StrCat(change.set_weight(), " exceeds ", kMaxBackendWeight));
      }
      return SetWeightOp{
          .vip = *vip, .address = *address, .weight = change.set_weight()};
    case v1::BackendChange::kSetDrained:
      return SetDrainOp{
          .vip = *vip, .address = *address, .drained = change.set_drained()};
    case v1::BackendChange::CHANGE_NOT_SET:
      break;
  }
  return Invalid(path, "change",
                 "required: one of add, remove, set_weight, set_drained");
}

v1::VipKey VipKeyToProto(const VipKey& key) {
  v1::VipKey out;
  out.set_address(key.address.ToString());
  out.set_port(key.port);
  out.set_protocol(key.protocol == Protocol::kUdp ? v1::PROTOCOL_UDP
                                                  : v1::PROTOCOL_TCP);
  return out;
}

v1::VipSettings VipSettingsToProto(const VipSettings& settings) {
  v1::VipSettings out;
  out.set_hash_mode(settings.hash_mode == HashMode::kNoSourcePort
                        ? v1::HASH_MODE_NO_SOURCE_PORT
                        : v1::HASH_MODE_FIVE_TUPLE);
  out.set_ring_size(settings.ring_size);
  out.set_maglev_seed(settings.maglev_seed);
  out.set_echo_reply(settings.echo_reply);
  out.set_syn_rate_limit(settings.syn_rate_limit);
  out.set_min_healthy_fraction(settings.min_healthy_fraction);
  out.set_announce_min_healthy(settings.announce_min_healthy);
  if (settings.health_check.has_value()) {
    *out.mutable_health_check() = HealthCheckToProto(*settings.health_check);
  }
  return out;
}

v1::Vip VipToProto(const VipConfig& vip) {
  v1::Vip out;
  *out.mutable_key() = VipKeyToProto(vip.key);
  *out.mutable_settings() = VipSettingsToProto(vip.settings);
  for (const BackendConfig& backend : vip.backends) {
    v1::Backend* b = out.add_backends();
    b->set_address(backend.address.ToString());
    b->set_weight(backend.weight);
    b->set_drained(backend.drained);
    if (backend.health_override.has_value() &&
        !backend.health_override->empty()) {
      HealthOverrideToProto(*backend.health_override,
                            b->mutable_health_override());
    }
  }
  return out;
}

v1::Config ConfigToProto(const BalancerConfig& config) {
  v1::Config out;
  for (const VipConfig& vip : config.vips) *out.add_vips() = VipToProto(vip);
  return out;
}

void DurationToProto(absl::Duration d, google::protobuf::Duration* out) {
  // Whole seconds and the rest, both truncated toward zero (the proto's
  // rule for signs); int64 nanoseconds alone end at 292 years.
  absl::Duration rest;
  out->set_seconds(absl::IDivDuration(d, absl::Seconds(1), &rest));
  out->set_nanos(static_cast<int32_t>(rest / absl::Nanoseconds(1)));
}

v1::ProbeOutcome ProbeOutcomeToProto(health::ProbeOutcome outcome) {
  switch (outcome) {
    case health::ProbeOutcome::kSuccess:
      return v1::PROBE_OUTCOME_SUCCESS;
    case health::ProbeOutcome::kRefused:
      return v1::PROBE_OUTCOME_REFUSED;
    case health::ProbeOutcome::kTimeout:
      return v1::PROBE_OUTCOME_TIMEOUT;
    case health::ProbeOutcome::kReset:
      return v1::PROBE_OUTCOME_RESET;
    case health::ProbeOutcome::kUnreachable:
      return v1::PROBE_OUTCOME_UNREACHABLE;
    case health::ProbeOutcome::kWrongStatus:
      return v1::PROBE_OUTCOME_WRONG_STATUS;
    case health::ProbeOutcome::kBadResponse:
      return v1::PROBE_OUTCOME_BAD_RESPONSE;
    case health::ProbeOutcome::kTlsError:
      return v1::PROBE_OUTCOME_TLS_ERROR;
    case health::ProbeOutcome::kLocalError:
      return v1::PROBE_OUTCOME_LOCAL_ERROR;
  }
  return v1::PROBE_OUTCOME_UNSPECIFIED;
}

v1::BackendState BackendStateToProto(BackendState state) {
  switch (state) {
    case BackendState::kUp:
      return v1::BACKEND_STATE_UP;
    case BackendState::kDraining:
      return v1::BACKEND_STATE_DRAINING;
    case BackendState::kDown:
      return v1::BACKEND_STATE_DOWN;
  }
  return v1::BACKEND_STATE_UNSPECIFIED;
}

v1::BgpStatus BgpStatusToProto(const bgp::BgpStatus& status) {
  v1::BgpStatus out;
  out.set_configured(status.configured);
  out.set_api_address(status.api_address);
  out.set_daemon_reachable(status.daemon_reachable);
  out.set_last_error(status.last_error);
  if (!status.last_error.empty()) {
    TimeToProto(status.last_error_time, out.mutable_last_error_time());
  }
  out.set_host_drained(status.host_drained);
  if (status.next_hop_v4) out.set_next_hop_v4(status.next_hop_v4->ToString());
  if (status.next_hop_v6) out.set_next_hop_v6(status.next_hop_v6->ToString());
  out.set_announcements(status.announcements);
  out.set_withdrawals(status.withdrawals);
  for (const bgp::VipAnnouncement& vip : status.vips) {
    v1::BgpVipStatus* v = out.add_vips();
    *v->mutable_key() = VipKeyToProto(vip.vip);
    v->set_announced(vip.announced);
    v->set_reason(vip.reason);
    v->set_healthy_backends(vip.healthy_backends);
    v->set_announce_min_healthy(vip.min_healthy);
  }
  return out;
}

v1::Event VipAnnouncedEvent(const bgp::VipAnnouncement& announcement) {
  v1::Event event;
  v1::VipAnnounced* a = event.mutable_vip_announced();
  *a->mutable_vip() = VipKeyToProto(announcement.vip);
  a->set_announced(announcement.announced);
  a->set_reason(announcement.reason);
  return event;
}

}  // namespace xlb::agent
