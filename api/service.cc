#include "api/service.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "api/stats.h"
#include "lb/agent/convert.h"
#include "lb/base/log.h"

namespace xlb::api {
namespace {

constexpr const char* kCodeNames[] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

// The model names fields of its change set ("ops[0].vip.key"); the caller
// knows them by the request's names ("vip.key").
absl::Status RenameFields(
    const absl::Status& status,
    std::initializer_list<std::pair<absl::string_view, absl::string_view>>
        replacements) {
  if (status.ok()) return status;
  return absl::Status(status.code(),
                      absl::StrReplaceAll(status.message(), replacements));
}

std::optional<uint64_t> ExpectedGeneration(bool has, uint64_t value) {
  if (!has) return std::nullopt;
  return value;
}

// The changes one UpdateBackends call may carry. Applying a batch costs
// time quadratic in its size under the controller's lock (100,000 adds, a
// 3.6 MB request, held it for a minute); this keeps a call under ~0.3 s.
constexpr int kMaxBackendChanges = 10000;

absl::Status Required(absl::string_view field) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": required"));
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

void RequestCounters::Count(const std::string& method,
                            const std::string& code) {
  absl::MutexLock lock(&mu_);
  ++counts_[{method, code}];
}

std::map<std::pair<std::string, std::string>, uint64_t>
RequestCounters::Snapshot() const {
  absl::MutexLock lock(&mu_);
  return counts_;
}

LoadBalancerService::LoadBalancerService(agent::Controller* controller,
                                         Dataplane* dataplane, AgentInfo info,
                                         RequestCounters* counters,
                                         size_t max_event_watchers,
                                         const bgp::Announcer* announcer)
    : controller_(controller),
      dataplane_(dataplane),
      info_(std::move(info)),
      counters_(counters),
      announcer_(announcer),
      event_streams_(&controller->events(), max_event_watchers) {}

template <typename Fn>
grpc::Status LoadBalancerService::Handle(const char* method, Fn&& fn) {
  const absl::Status status = fn();
  const int code = static_cast<int>(status.code());
  const char* code_name = code >= 0 && code < 17 ? kCodeNames[code] : "UNKNOWN";
  if (counters_ != nullptr) counters_->Count(method, code_name);
  if (!status.ok()) {
    const bool server_side = status.code() == absl::StatusCode::kInternal ||
                             status.code() == absl::StatusCode::kUnavailable ||
                             status.code() == absl::StatusCode::kDataLoss;
    Log(server_side ? LogLevel::kError : LogLevel::kInfo, "api",
        "request refused",
        {{"method", method}, {"code", code_name}, {"error", status.message()}});
  }
  return ToGrpcStatus(status);
}

grpc::Status LoadBalancerService::CreateVip(grpc::ServerContext*,
                                            const v1::CreateVipRequest* request,
                                            v1::CreateVipResponse* response) {
  return Handle("CreateVip", [&]() -> absl::Status {
    if (!request->has_vip()) return Required("vip");
    absl::StatusOr<VipConfig> vip =
        agent::VipFromProto(request->vip(), controller_->limits(), "vip");
    if (!vip.ok()) return vip.status();
    absl::StatusOr<uint64_t> generation =
        controller_->Change(ChangeSet{.ops = {CreateVipOp{*std::move(vip)}},
                                      .expected_generation = ExpectedGeneration(
                                          request->has_expected_generation(),
                                          request->expected_generation())},
                            "CreateVip");
    if (!generation.ok()) {
      return RenameFields(generation.status(), {{"ops[0].", ""}});
    }
    response->set_generation(*generation);
    return absl::OkStatus();
  });
}

grpc::Status LoadBalancerService::UpdateVip(grpc::ServerContext*,
                                            const v1::UpdateVipRequest* request,
                                            v1::UpdateVipResponse* response) {
  return Handle("UpdateVip", [&]() -> absl::Status {
    if (!request->has_key()) return Required("key");
    absl::StatusOr<VipKey> key = agent::VipKeyFromProto(request->key(), "key");
    if (!key.ok()) return key.status();
    absl::StatusOr<VipSettings> settings = agent::VipSettingsFromProto(
        request->settings(), *key, controller_->limits(), "settings");
    if (!settings.ok()) return settings.status();
    absl::StatusOr<uint64_t> generation = controller_->Change(
        ChangeSet{.ops = {UpdateVipOp{.key = *key, .settings = *settings}},
                  .expected_generation =
                      ExpectedGeneration(request->has_expected_generation(),
                                         request->expected_generation())},
        "UpdateVip");
    if (!generation.ok()) {
      return RenameFields(generation.status(), {{"ops[0].", ""}});
    }
    response->set_generation(*generation);
    return absl::OkStatus();
  });
}

grpc::Status LoadBalancerService::DeleteVip(grpc::ServerContext*,
                                            const v1::DeleteVipRequest* request,
                                            v1::DeleteVipResponse* response) {
  return Handle("DeleteVip", [&]() -> absl::Status {
    if (!request->has_key()) return Required("key");
    absl::StatusOr<VipKey> key = agent::VipKeyFromProto(request->key(), "key");
    if (!key.ok()) return key.status();
    absl::StatusOr<uint64_t> generation =
        controller_->Change(ChangeSet{.ops = {DeleteVipOp{.key = *key}},
                                      .expected_generation = ExpectedGeneration(
                                          request->has_expected_generation(),
                                          request->expected_generation())},
                            "DeleteVip");
    if (!generation.ok()) {
      return RenameFields(generation.status(), {{"ops[0].", ""}});
    }
    response->set_generation(*generation);
    return absl::OkStatus();
  });
}

grpc::Status LoadBalancerService::GetVip(grpc::ServerContext*,
                                         const v1::GetVipRequest* request,
                                         v1::GetVipResponse* response) {
  return Handle("GetVip", [&]() -> absl::Status {
    if (!request->has_key()) return Required("key");
    absl::StatusOr<VipKey> key = agent::VipKeyFromProto(request->key(), "key");
    if (!key.ok()) return key.status();
    const agent::Controller::ConfigSnapshot snapshot = controller_->GetConfig();
    for (const VipConfig& vip : snapshot.config.vips) {
      if (vip.key != *key) continue;
      *response->mutable_vip() = agent::VipToProto(vip);
      response->set_generation(snapshot.generation);
      // Deleted since the snapshot: no ring, so no digest.
      if (absl::StatusOr<VipStatus> status = controller_->GetVipStatus(*key);
          status.ok()) {
        response->set_ring_digest(controller_->RingDigest(*status));
      }
      return absl::OkStatus();
    }
    return absl::NotFoundError(absl::StrCat("key: no VIP ", key->ToString()));
  });
}

grpc::Status LoadBalancerService::ListVips(grpc::ServerContext*,
                                           const v1::ListVipsRequest*,
                                           v1::ListVipsResponse* response) {
  return Handle("ListVips", [&]() -> absl::Status {
    const agent::Controller::ConfigSnapshot snapshot = controller_->GetConfig();
    for (const VipConfig& vip : snapshot.config.vips) {
      *response->add_vips() = agent::VipToProto(vip);
    }
    response->set_generation(snapshot.generation);
    return absl::OkStatus();
  });
}

grpc::Status LoadBalancerService::UpdateBackends(
    grpc::ServerContext*, const v1::UpdateBackendsRequest* request,
    v1::UpdateBackendsResponse* response) {
  return Handle("UpdateBackends", [&]() -> absl::Status {
    if (request->changes_size() == 0) {
      return absl::InvalidArgumentError("changes: empty; give at least one");
    }
    if (request->changes_size() > kMaxBackendChanges) {
      return absl::InvalidArgumentError(absl::StrCat(
          "changes: ", request->changes_size(), " exceed the ",
          kMaxBackendChanges, " one call may carry; split the batch"));
    }
    ChangeSet changes{.expected_generation =
                          ExpectedGeneration(request->has_expected_generation(),
                                             request->expected_generation())};
    for (int i = 0; i < request->changes_size(); ++i) {
      absl::StatusOr<Operation> op = agent::BackendChangeFromProto(
          request->changes(i), absl::StrCat("changes[", i, "]"));
      if (!op.ok()) return op.status();
      changes.ops.push_back(*std::move(op));
    }
    absl::StatusOr<uint64_t> generation =
        controller_->Change(changes, "UpdateBackends");
    if (!generation.ok()) {
      return RenameFields(generation.status(),
                          {{"ops[", "changes["},
                           {".backend.address", ".address"},
                           {".backend.health_override", ".add.health_override"},
                           {".weight", ".set_weight"}});
    }
    response->set_generation(*generation);
    return absl::OkStatus();
  });
}

grpc::Status LoadBalancerService::SetConfig(grpc::ServerContext*,
                                            const v1::SetConfigRequest* request,
                                            v1::SetConfigResponse* response) {
  return Handle("SetConfig", [&]() -> absl::Status {
    // An empty configuration deletes everything: ask for it explicitly.
    if (!request->has_config()) {
      return absl::InvalidArgumentError(
          "config: required (send an empty Config to delete every VIP)");
    }
    absl::StatusOr<BalancerConfig> config = agent::ConfigFromProto(
        request->config(), controller_->limits(), "config");
    if (!config.ok()) return config.status();
    absl::StatusOr<uint64_t> generation =
        controller_->Change(ChangeSet{.ops = {ReplaceAllOp{*std::move(config)}},
                                      .expected_generation = ExpectedGeneration(
                                          request->has_expected_generation(),
                                          request->expected_generation())},
                            "SetConfig");
    if (!generation.ok()) {
      return RenameFields(generation.status(), {{"ops[0].", "config."}});
    }
    response->set_generation(*generation);
    return absl::OkStatus();
  });
}

grpc::Status LoadBalancerService::SetVip(grpc::ServerContext*,
                                         const v1::SetVipRequest* request,
                                         v1::SetVipResponse* response) {
  return Handle("SetVip", [&]() -> absl::Status {
    if (!request->has_vip()) return Required("vip");
    absl::StatusOr<VipConfig> vip =
        agent::VipFromProto(request->vip(), controller_->limits(), "vip");
    if (!vip.ok()) return vip.status();
    absl::StatusOr<uint64_t> generation =
        controller_->Change(ChangeSet{.ops = {ReplaceVipOp{*std::move(vip)}},
                                      .expected_generation = ExpectedGeneration(
                                          request->has_expected_generation(),
                                          request->expected_generation())},
                            "SetVip");
    if (!generation.ok()) {
      return RenameFields(generation.status(), {{"ops[0].", ""}});
    }
    response->set_generation(*generation);
    return absl::OkStatus();
  });
}

grpc::Status LoadBalancerService::GetConfig(grpc::ServerContext*,
                                            const v1::GetConfigRequest*,
                                            v1::GetConfigResponse* response) {
  return Handle("GetConfig", [&]() -> absl::Status {
    const agent::Controller::ConfigSnapshot snapshot = controller_->GetConfig();
    *response->mutable_config() = agent::ConfigToProto(snapshot.config);
    response->set_generation(snapshot.generation);
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::GetStatsResponse> LoadBalancerService::Stats() const {
  if (dataplane_ == nullptr) {
    return absl::FailedPreconditionError(
        "this agent runs without a data plane; there are no counters");
  }
  return ReadStats(*dataplane_, controller_->ListVipStatus(),
                   controller_->ListBackendStatus());
}

grpc::Status LoadBalancerService::GetStats(grpc::ServerContext*,
                                           const v1::GetStatsRequest*,
                                           v1::GetStatsResponse* response) {
  return Handle("GetStats", [&]() -> absl::Status {
    absl::StatusOr<v1::GetStatsResponse> stats = Stats();
    if (!stats.ok()) return stats.status();
    *response = *std::move(stats);
    return absl::OkStatus();
  });
}

grpc::Status LoadBalancerService::GetStatus(grpc::ServerContext*,
                                            const v1::GetStatusRequest*,
                                            v1::GetStatusResponse* response) {
  return Handle("GetStatus", [&]() -> absl::Status {
    response->set_version(info_.version);
    response->set_interface(info_.interface);
    response->set_attach_mode(info_.attach_mode);
    response->set_pin_dir(info_.pin_dir);
    if (dataplane_ != nullptr) {
      response->set_balancer_program_id(dataplane_->balancer_prog_id());
      response->set_healthcheck_program_id(dataplane_->healthcheck_prog_id());
    }
    agent::TimeToProto(info_.start_time, response->mutable_start_time());
    const int64_t uptime_ns =
        absl::ToInt64Nanoseconds(absl::Now() - info_.start_time);
    response->mutable_uptime()->set_seconds(uptime_ns / 1000000000);
    response->mutable_uptime()->set_nanos(
        static_cast<int32_t>(uptime_ns % 1000000000));
    response->set_adopted_pinned_maps(info_.adopted_pinned_maps);
    const agent::Controller::ConfigSnapshot snapshot = controller_->GetConfig();
    response->set_generation(snapshot.generation);
    const std::vector<VipStatus> vips = controller_->ListVipStatus();
    const std::vector<BackendStatus> backends =
        controller_->ListBackendStatus();
    for (v1::MapUsage& usage : MapUsages(dataplane_, controller_->limits(),
                                         snapshot.config, vips, backends)) {
      *response->add_maps() = std::move(usage);
    }
    std::map<VipKey, const VipConfig*> configs;
    for (const VipConfig& vip : snapshot.config.vips) configs[vip.key] = &vip;
    for (const VipStatus& vip : vips) {
      v1::VipStatus* out = response->add_vips();
      *out->mutable_key() = agent::VipKeyToProto(vip.key);
      out->set_index(vip.index);
      out->set_has_ring(vip.has_ring);
      out->set_fail_open(vip.fail_open);
      out->set_no_backend_events(vip.no_backend_events);
      out->set_ring_digest(controller_->RingDigest(vip));
      const VipConfig* config =
          configs.contains(vip.key) ? configs.at(vip.key) : nullptr;
      for (const VipBackendStatus& backend : vip.backends) {
        v1::BackendHealth* b = out->add_backends();
        b->set_address(backend.address.ToString());
        b->set_index(backend.index);
        b->set_healthy(backend.healthy);
        b->set_in_ring(backend.in_ring);
        b->set_state(agent::BackendStateToProto(backend.state));
        if (config == nullptr) continue;
        for (const BackendConfig& c : config->backends) {
          if (c.address != backend.address) continue;
          b->set_weight(c.weight);
          b->set_drained(c.drained);
        }
      }
    }
    bgp::BgpStatus bgp;
    if (announcer_ != nullptr) bgp = announcer_->Status();
    bgp.host_drained = controller_->host_drained();
    *response->mutable_bgp() = agent::BgpStatusToProto(bgp);
    return absl::OkStatus();
  });
}

grpc::Status LoadBalancerService::SetHostDrain(
    grpc::ServerContext*, const v1::SetHostDrainRequest* request,
    v1::SetHostDrainResponse* response) {
  return Handle("SetHostDrain", [&]() -> absl::Status {
    absl::StatusOr<bool> was_drained =
        controller_->SetHostDrain(request->drained());
    if (!was_drained.ok()) return was_drained.status();
    response->set_was_drained(*was_drained);
    return absl::OkStatus();
  });
}

grpc::ServerWriteReactor<v1::Event>* LoadBalancerService::WatchEvents(
    grpc::CallbackServerContext*, const v1::WatchEventsRequest* request) {
  grpc::ServerWriteReactor<v1::Event>* stream = nullptr;
  const grpc::Status status = Handle("WatchEvents", [&]() -> absl::Status {
    absl::StatusOr<grpc::ServerWriteReactor<v1::Event>*> opened =
        event_streams_.Open(*request);
    if (!opened.ok()) return opened.status();
    stream = *opened;
    return absl::OkStatus();
  });
  if (stream != nullptr) return stream;
  // A refused stream: finished before it starts.
  class Refused final : public grpc::ServerWriteReactor<v1::Event> {
   public:
    explicit Refused(const grpc::Status& status) { Finish(status); }
    void OnDone() override { delete this; }
  };
  return new Refused(status);
}

}  // namespace xlb::api
