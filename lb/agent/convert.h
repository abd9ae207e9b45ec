// Conversion between xlb.v1 messages and the balancer model's types
// (lb/model/model_config.h). Proto-to-model conversion checks what only the
// wire format can get wrong (address text, port and enum ranges, durations) and
// then runs the model's validation, so every INVALID_ARGUMENT names the
// request field by its proto path ("vip.backends[2].weight") and its value.
#ifndef XLB_LB_AGENT_CONVERT_H_
#define XLB_LB_AGENT_CONVERT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "lb/bgp/announcer.h"
#include "lb/dataplane/dataplane_maps.h"
#include "lb/health/probe_outcome.h"
#include "lb/model/model.h"
#include "lb/model/model_config.h"
#include "xlb/v1/config.pb.h"
#include "xlb/v1/xlb.pb.h"

namespace xlb::agent {

// `path` names the message in errors; "" for a top-level field.
absl::StatusOr<IpAddress> AddressFromProto(const std::string& text,
                                           absl::string_view path);
absl::StatusOr<VipKey> VipKeyFromProto(const v1::VipKey& key,
                                       absl::string_view path);
// `vip` is the VIP the settings are for (checks depend on its port).
absl::StatusOr<VipSettings> VipSettingsFromProto(
    const v1::VipSettings& settings, const VipKey& vip,
    const DataplaneLimits& limits, absl::string_view path);
absl::StatusOr<BackendConfig> BackendFromProto(const v1::Backend& backend,
                                               const VipKey& vip,
                                               absl::string_view path);
absl::StatusOr<VipConfig> VipFromProto(const v1::Vip& vip,
                                       const DataplaneLimits& limits,
                                       absl::string_view path);
absl::StatusOr<BalancerConfig> ConfigFromProto(const v1::Config& config,
                                               const DataplaneLimits& limits,
                                               absl::string_view path);
// One change of UpdateBackends as a model operation.
absl::StatusOr<Operation> BackendChangeFromProto(
    const v1::BackendChange& change, absl::string_view path);

v1::VipKey VipKeyToProto(const VipKey& key);
v1::VipSettings VipSettingsToProto(const VipSettings& settings);
v1::Vip VipToProto(const VipConfig& vip);
v1::Config ConfigToProto(const BalancerConfig& config);
v1::BackendState BackendStateToProto(BackendState state);
v1::ProbeOutcome ProbeOutcomeToProto(health::ProbeOutcome outcome);
void DurationToProto(absl::Duration d, google::protobuf::Duration* out);
v1::BgpStatus BgpStatusToProto(const bgp::BgpStatus& status);
// The VipAnnounced event of one announce or withdraw.
v1::Event VipAnnouncedEvent(const bgp::VipAnnouncement& announcement);

// "field" under `path`: "path.field", or "field" when path is empty.
std::string FieldPath(absl::string_view path, absl::string_view field);

}  // namespace xlb::agent

#endif  // XLB_LB_AGENT_CONVERT_H_
