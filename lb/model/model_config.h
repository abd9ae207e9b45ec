// The balancer's desired configuration: VIPs, their backends and health-check
// specs, as plain data with validation. lb/model/model.h turns it into map
// contents.
#ifndef XLB_LB_MODEL_MODEL_CONFIG_H_
#define XLB_LB_MODEL_MODEL_CONFIG_H_

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "lb/base/field_rules.h"
#include "lb/base/ip_address.h"
#include "lb/dataplane/dataplane_maps.h"
#include "xlb_abi.h"

namespace xlb {

enum class Protocol : uint8_t { kTcp = 6, kUdp = 17 };

// Which fields pick a flow's backend. kNoSourcePort sends every connection
// of one client address to the same backend.
enum class HashMode : uint8_t { kFiveTuple, kNoSourcePort };

enum class HealthCheckType : uint8_t { kTcp, kHttp, kHttps, kUdp, kGrpc };

// Active health check of every backend of one VIP. Data only: the prober
// lives in lb/health/.
struct HealthCheckSpec {
  HealthCheckType type = HealthCheckType::kTcp;
  // Port probed on the backend; 0 probes the VIP's port (required for a
  // port-wildcard VIP).
  uint16_t port = 0;
  absl::Duration interval = absl::Seconds(5);
  absl::Duration timeout = absl::Seconds(2);  // at most `interval`
  uint32_t rise = 2;  // consecutive successes that mark a backend up
  uint32_t fall = 3;  // consecutive failures that mark it down
  // Each probe is delayed by a random amount in [0, jitter), below interval.
  absl::Duration jitter = absl::ZeroDuration();
  // The fields below belong to one or two types each and must stay empty
  // (false) for the others. Empty means the default given.
  // kHttp / kHttps (text rules: lb/base/field_rules.h).
  std::string http_path;  // empty: "/"
  std::string http_host;  // empty: the address probed (VIP when tunnelled)
  std::vector<uint32_t> http_expected_codes;  // empty: {200}
  std::string http_body_substring;            // empty: any body
  // kUdp: the datagram sent (required), and the reply expected (empty: any
  // reply).
  std::string udp_request;
  std::string udp_response;
  // kGrpc: grpc.health.v1 service name; empty asks about the whole server.
  std::string grpc_service;
  // kHttps: verify the certificate chain and name. Off by default: backends
  // often serve self-signed certificates.
  bool https_verify = false;

  bool operator==(const HealthCheckSpec&) const = default;
};

inline constexpr uint32_t kMaxBackendWeight = 65535;
// The weights of one VIP's backends sum to at most this (Maglev apportions
// the ring over the sum in 32 bits; reachable only past 65,537 backends).
inline constexpr uint64_t kMaxVipWeightSum = 0xffffffff;
// SYNs per second a VIP's syn_rate_limit may admit (more than any one host
// receives).
inline constexpr uint32_t kMaxSynRateLimit = 100000000;
inline constexpr uint32_t kMaxHealthThreshold = 100;  // rise and fall
inline constexpr absl::Duration kMinHealthInterval = absl::Milliseconds(100);
inline constexpr absl::Duration kMaxHealthInterval = absl::Hours(1);
// Below this fraction of healthy backends a VIP fails open (see VipSettings).
inline constexpr double kDefaultMinHealthyFraction = 0.0;
// A VIP's route is announced over BGP while it has at least this many
// healthy backends (see VipSettings::announce_min_healthy).
inline constexpr uint32_t kDefaultAnnounceMinHealthy = 1;

// Per-backend exceptions to the VIP's HealthCheckSpec; unset fields
// inherit. The effective values (override, else spec) obey the spec's
// rules: interval in [kMinHealthInterval, kMaxHealthInterval], timeout in
// (0, interval], jitter in [0, interval), rise and fall in
// [1, kMaxHealthThreshold]; port 1..65535. Ignored while the VIP has no
// health check.
struct HealthOverride {
  std::optional<uint16_t> port;
  std::optional<absl::Duration> interval;
  std::optional<absl::Duration> timeout;
  std::optional<uint32_t> rise;
  std::optional<uint32_t> fall;
  std::optional<absl::Duration> jitter;

  bool empty() const {
    return !port && !interval && !timeout && !rise && !fall && !jitter;
  }
  bool operator==(const HealthOverride&) const = default;
};

struct BackendConfig {
  IpAddress address;
  // 0..kMaxBackendWeight; 0 keeps established flows but takes no new ones.
  uint32_t weight = 1;
  // Drained in this VIP: no new flows from it, established ones stay.
  bool drained = false;
  // Unset (or empty): the VIP's health check as it is.
  std::optional<HealthOverride> health_override;

  bool operator==(const BackendConfig&) const = default;
};

struct VipKey {
  IpAddress address;
  uint16_t port = 0;  // host order; 0 is a port wildcard
  Protocol protocol = Protocol::kTcp;

  auto operator<=>(const VipKey&) const = default;
  std::string ToString() const;  // "192.0.2.1:80/tcp", "[2001:db8::1]:0/udp"
};

struct VipSettings {
  HashMode hash_mode = HashMode::kFiveTuple;
  uint32_t ring_size = XLB_DEFAULT_RING_SIZE;  // IsSupportedRingSize
  uint32_t maglev_seed = 0;
  bool echo_reply = false;  // answer ICMP echo to the VIP address from XDP
  // TCP SYNs per second the data plane admits for the VIP, at most
  // kMaxSynRateLimit; 0: no limit. TCP VIPs only.
  uint32_t syn_rate_limit = 0;
  // When fewer than this fraction of the VIP's weighted, undrained backends
  // are healthy, new flows go to all of them, down ones included ("fail
  // open", Envoy's panic threshold). The default 0.0 never fails open: a
  // down verdict comes from probing the real path, and sending new flows to
  // backends that refuse them turns a partial outage into resets for their
  // clients. Set e.g. 0.5 to prefer Envoy's behaviour.
  double min_healthy_fraction = kDefaultMinHealthyFraction;
  // Without a health check every backend counts as healthy.
  std::optional<HealthCheckSpec> health_check;
  // With BGP announcement (lb/bgp/), the VIP's address is announced only
  // while at least this many backends are healthy and in the ring; 0
  // announces it whenever the data plane is attached. At most
  // limits.max_backends - 1 (more could never be met).
  uint32_t announce_min_healthy = kDefaultAnnounceMinHealthy;

  bool operator==(const VipSettings&) const = default;
};

struct VipConfig {
  VipKey key;
  VipSettings settings;
  std::vector<BackendConfig> backends;  // addresses unique within the VIP

  bool operator==(const VipConfig&) const = default;
};

struct BalancerConfig {
  std::vector<VipConfig> vips;  // keys unique

  bool operator==(const BalancerConfig&) const = default;
};

// Validation. `path` names the value in messages ("vips[0]"), which read
// "vips[0].backends[3].weight: 70000 exceeds 65535". ValidateBackend checks
// a health override on its own; ValidateVipConfig also against the VIP's
// health check. Malformed values give
// InvalidArgument; values beyond `limits` give ResourceExhausted.
absl::Status ValidateVipKey(const VipKey& key, absl::string_view path);
absl::Status ValidateBackend(const BackendConfig& backend, const VipKey& vip,
                             absl::string_view path);
absl::Status ValidateHealthCheck(const HealthCheckSpec& spec, const VipKey& vip,
                                 absl::string_view path);
// `path` names the override ("vips[0].backends[1].health_override"). With
// `spec` (the VIP's check) the effective values are checked; without, only
// the override's own fields (and the pairs it sets itself).
absl::Status ValidateHealthOverride(const HealthOverride& override_spec,
                                    const HealthCheckSpec* spec,
                                    absl::string_view path);
absl::Status ValidateVipSettings(const VipSettings& settings, const VipKey& vip,
                                 const DataplaneLimits& limits,
                                 absl::string_view path);
absl::Status ValidateVipConfig(const VipConfig& vip,
                               const DataplaneLimits& limits,
                               absl::string_view path);
// `path` prefixes "vips[i]"; empty gives "vips[0].port".
absl::Status ValidateBalancerConfig(const BalancerConfig& config,
                                    const DataplaneLimits& limits,
                                    absl::string_view path);

}  // namespace xlb

#endif  // XLB_LB_MODEL_MODEL_CONFIG_H_
