// Shorthands shared by the balancer model's tests.
#ifndef XLB_LB_MODEL_TESTING_MODEL_TESTING_H_
#define XLB_LB_MODEL_TESTING_MODEL_TESTING_H_

#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "lb/model/model.h"

namespace xlb::testing {

inline IpAddress Ip(absl::string_view text) {
  absl::StatusOr<IpAddress> address = IpAddress::Parse(text);
  EXPECT_TRUE(address.ok()) << address.status();
  return address.value_or(IpAddress());
}

inline VipKey Key(absl::string_view address, uint16_t port,
                  Protocol protocol = Protocol::kTcp) {
  return VipKey{.address = Ip(address), .port = port, .protocol = protocol};
}

inline BackendConfig Backend(absl::string_view address, uint32_t weight = 1) {
  return BackendConfig{.address = Ip(address), .weight = weight};
}

inline VipConfig Vip(const VipKey& key, std::vector<BackendConfig> backends,
                     VipSettings settings = {}) {
  return VipConfig{
      .key = key, .settings = settings, .backends = std::move(backends)};
}

inline ChangeSet Ops(std::vector<Operation> ops) {
  return ChangeSet{.ops = std::move(ops)};
}

// Everything the model reports, to compare before and after a failed Apply.
struct ModelSnapshot {
  uint64_t generation;
  BalancerConfig config;
  std::vector<VipStatus> vips;
  std::vector<BackendStatus> backends;
  bool operator==(const ModelSnapshot&) const = default;
};

inline ModelSnapshot Snapshot(const Balancer& balancer) {
  return {balancer.generation(), balancer.desired_config(),
          balancer.ListVipStatus(), balancer.ListBackendStatus()};
}

}  // namespace xlb::testing

#endif  // XLB_LB_MODEL_TESTING_MODEL_TESTING_H_
