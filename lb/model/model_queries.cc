// What the model answers about its state: configuration, status, and the
// backend a flow would get.
#include <arpa/inet.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "lb/model/model.h"
#include "lib/flow_hash.h"

namespace xlb {

BalancerConfig Balancer::desired_config() const {
  BalancerConfig config;
  for (const auto& [key, vip] : state_.vips) config.vips.push_back(vip->config);
  return config;
}

absl::StatusOr<VipConfig> Balancer::GetVipConfig(const VipKey& key) const {
  auto it = state_.vips.find(key);
  if (it == state_.vips.end()) return NoVip("key", key);
  return it->second->config;
}

absl::StatusOr<VipStatus> Balancer::GetVipStatus(const VipKey& key) const {
  auto it = state_.vips.find(key);
  if (it == state_.vips.end()) return NoVip("key", key);
  return StatusOf(*it->second);
}

std::vector<VipStatus> Balancer::ListVipStatus() const {
  std::vector<VipStatus> all;
  for (const auto& [key, vip] : state_.vips) all.push_back(StatusOf(*vip));
  return all;
}

absl::StatusOr<BackendStatus> Balancer::GetBackendStatus(
    const IpAddress& address) const {
  const BackendSlot* slot = state_.backends.Find(address);
  if (slot == nullptr) {
    return absl::NotFoundError(absl::StrCat("address: ", address.ToString(),
                                            " is a backend of no VIP"));
  }
  return BackendStatus{.address = address,
                       .index = slot->index,
                       .generation = slot->generation,
                       .refcount = slot->refcount,
                       .state = slot->state};
}

std::vector<BackendStatus> Balancer::ListBackendStatus() const {
  std::vector<BackendStatus> all;
  state_.backends.ForEach([&](const IpAddress& address, const BackendSlot&) {
    all.push_back(*GetBackendStatus(address));
  });
  std::sort(all.begin(), all.end(),
            [](const BackendStatus& a, const BackendStatus& b) {
              return a.address < b.address;
            });
  return all;
}

absl::StatusOr<std::optional<PredictedBackend>> Balancer::PredictBackend(
    const xlb_flow& flow, uint32_t flow_hash_seed) const {
  VipKey key{.address = IpAddress::FromAbi(flow.family, flow.dst),
             .port = ntohs(flow.dport),
             .protocol = static_cast<Protocol>(flow.proto)};
  auto it = state_.vips.find(key);
  if (it == state_.vips.end()) {
    key.port = 0;
    it = state_.vips.find(key);
  }
  if (it == state_.vips.end()) {
    key.port = ntohs(flow.dport);
    return absl::NotFoundError(
        absl::StrCat("flow: no VIP for ", key.ToString()));
  }
  const VipState& vip = *it->second;
  if (vip.ring == nullptr) return std::nullopt;
  absl::StatusOr<std::vector<uint32_t>> ring = vip.ring->Build();
  if (!ring.ok()) return ring.status();
  const bool with_src_port =
      vip.config.settings.hash_mode == HashMode::kFiveTuple;
  const uint32_t slot = xlb_ring_slot(
      xlb_flow_hash(&flow, flow_hash_seed, with_src_port), ring->size());
  const uint32_t index = (*ring)[slot];
  std::optional<PredictedBackend> predicted;  // none: the data plane drops too
  state_.backends.ForEach(
      [&](const IpAddress& address, const BackendSlot& backend) {
        if (backend.index == index) {
          predicted = PredictedBackend{.index = index, .address = address};
        }
      });
  return predicted;
}

}  // namespace xlb
