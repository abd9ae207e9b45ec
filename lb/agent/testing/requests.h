// Small builders of xlb.v1 requests for tests and benchmarks.
#ifndef XLB_LB_AGENT_TESTING_REQUESTS_H_
#define XLB_LB_AGENT_TESTING_REQUESTS_H_

#include <string>

#include "xlb/v1/xlb.pb.h"

namespace xlb::agent::testing {

inline v1::VipKey Key(const std::string& address, uint32_t port,
                      v1::Protocol protocol = v1::PROTOCOL_TCP) {
  v1::VipKey key;
  key.set_address(address);
  key.set_port(port);
  key.set_protocol(protocol);
  return key;
}

inline v1::Vip Vip(const v1::VipKey& key,
                   std::initializer_list<const char*> backends = {}) {
  v1::Vip vip;
  *vip.mutable_key() = key;
  for (const char* b : backends) vip.add_backends()->set_address(b);
  return vip;
}

inline v1::BackendChange Add(const v1::VipKey& vip, const std::string& address,
                             uint32_t weight = 1) {
  v1::BackendChange change;
  *change.mutable_vip() = vip;
  change.set_address(address);
  change.mutable_add()->set_weight(weight);
  return change;
}

inline v1::BackendChange Remove(const v1::VipKey& vip,
                                const std::string& address) {
  v1::BackendChange change;
  *change.mutable_vip() = vip;
  change.set_address(address);
  change.mutable_remove();
  return change;
}

inline v1::BackendChange Drain(const v1::VipKey& vip,
                               const std::string& address,
                               bool drained = true) {
  v1::BackendChange change;
  *change.mutable_vip() = vip;
  change.set_address(address);
  change.set_set_drained(drained);
  return change;
}

inline v1::BackendChange Weight(const v1::VipKey& vip,
                                const std::string& address, uint32_t weight) {
  v1::BackendChange change;
  *change.mutable_vip() = vip;
  change.set_address(address);
  change.set_set_weight(weight);
  return change;
}

}  // namespace xlb::agent::testing

#endif  // XLB_LB_AGENT_TESTING_REQUESTS_H_
