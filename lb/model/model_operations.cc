// The operations of a change set, applied to a copy of the model's state:
// validation, NotFound / AlreadyExists, and what each does to health.
#include <set>
#include <string>
#include <variant>

#include "absl/strings/str_cat.h"
#include "lb/model/model.h"

namespace xlb {
namespace {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};

bool HasHealthCheck(const VipConfig& vip) {
  return vip.settings.health_check.has_value();
}

BackendConfig* FindBackend(VipConfig& vip, const IpAddress& address) {
  for (BackendConfig& backend : vip.backends) {
    if (backend.address == address) return &backend;
  }
  return nullptr;
}

absl::Status NoVip(const std::string& field, const VipKey& key) {
  return absl::NotFoundError(absl::StrCat(field, ": no VIP ", key.ToString()));
}

}  // namespace

absl::Status Balancer::ApplyOperation(const Operation& op,
                                      const std::string& path,
                                      State& next) const {
  // Resolves `vip` and `address` of a backend operation, or says why not.
  auto find = [&](const VipKey& vip, const IpAddress& address,
                  VipState*& vip_state,
                  BackendConfig*& backend) -> absl::Status {
    if (!next.vips.contains(vip)) return NoVip(path + ".vip", vip);
    vip_state = &MutableVip(next, vip);
    backend = FindBackend(vip_state->config, address);
    if (backend == nullptr) {
      return absl::NotFoundError(
          absl::StrCat(path, ".address: ", address.ToString(),
                       " is not a backend of ", vip.ToString()));
    }
    return absl::OkStatus();
  };
  VipState* vip = nullptr;
  BackendConfig* backend = nullptr;
  return std::visit(
      Overloaded{
          [&](const CreateVipOp& o) -> absl::Status {
            if (absl::Status s =
                    ValidateVipConfig(o.vip, limits_, path + ".vip");
                !s.ok()) {
              return s;
            }
            if (next.vips.contains(o.vip.key)) {
              return absl::AlreadyExistsError(absl::StrCat(
                  path, ".vip.key: ", o.vip.key.ToString(), " already exists"));
            }
            return ApplyReplaceVip(o.vip, next);
          },
          [&](const UpdateVipOp& o) -> absl::Status {
            if (absl::Status s = ValidateVipKey(o.key, path + ".key");
                !s.ok()) {
              return s;
            }
            if (absl::Status s = ValidateVipSettings(o.settings, o.key, limits_,
                                                     path + ".settings");
                !s.ok()) {
              return s;
            }
            auto it = next.vips.find(o.key);
            if (it == next.vips.end()) return NoVip(path + ".key", o.key);
            VipConfig config = it->second->config;
            config.settings = o.settings;
            // The new check must suit the backends' overrides.
            if (HasHealthCheck(config)) {
              for (const BackendConfig& b : config.backends) {
                if (!b.health_override.has_value()) continue;
                if (absl::Status s = ValidateHealthOverride(
                        *b.health_override, &*config.settings.health_check,
                        absl::StrCat(path, ".settings.health_check: backend ",
                                     b.address.ToString(),
                                     "'s health_override"));
                    !s.ok()) {
                  return s;
                }
              }
            }
            return ApplyReplaceVip(config, next);
          },
          [&](const DeleteVipOp& o) -> absl::Status {
            if (next.vips.erase(o.key) == 0) return NoVip(path + ".key", o.key);
            return absl::OkStatus();
          },
          [&](const AddBackendOp& o) -> absl::Status {
            auto it = next.vips.find(o.vip);
            if (it == next.vips.end()) return NoVip(path + ".vip", o.vip);
            const VipConfig& config = it->second->config;
            if (absl::Status s =
                    ValidateBackend(o.backend, o.vip, path + ".backend");
                !s.ok()) {
              return s;
            }
            if (o.backend.health_override.has_value() &&
                HasHealthCheck(config)) {
              if (absl::Status s =
                      ValidateHealthOverride(*o.backend.health_override,
                                             &*config.settings.health_check,
                                             path + ".backend.health_override");
                  !s.ok()) {
                return s;
              }
            }
            for (const BackendConfig& b : config.backends) {
              if (b.address == o.backend.address) {
                return absl::AlreadyExistsError(absl::StrCat(
                    path, ".backend.address: ", o.backend.address.ToString(),
                    " is already a backend of ", o.vip.ToString()));
              }
            }
            VipState& state = MutableVip(next, o.vip);
            state.config.backends.push_back(o.backend);
            state.healthy[o.backend.address] = !HasHealthCheck(state.config);
            return absl::OkStatus();
          },
          [&](const RemoveBackendOp& o) -> absl::Status {
            if (absl::Status s = find(o.vip, o.address, vip, backend);
                !s.ok()) {
              return s;
            }
            std::vector<BackendConfig>& list = vip->config.backends;
            list.erase(list.begin() + (backend - list.data()));
            vip->healthy.erase(o.address);
            return absl::OkStatus();
          },
          [&](const SetWeightOp& o) -> absl::Status {
            if (absl::Status s = find(o.vip, o.address, vip, backend);
                !s.ok()) {
              return s;
            }
            if (o.weight > kMaxBackendWeight) {
              return absl::InvalidArgumentError(absl::StrCat(
                  path, ".weight: ", o.weight, " exceeds ", kMaxBackendWeight));
            }
            backend->weight = o.weight;
            return absl::OkStatus();
          },
          [&](const SetDrainOp& o) -> absl::Status {
            if (absl::Status s = find(o.vip, o.address, vip, backend);
                !s.ok()) {
              return s;
            }
            backend->drained = o.drained;
            return absl::OkStatus();
          },
          [&](const SetHealthOp& o) -> absl::Status {
            if (absl::Status s = find(o.vip, o.address, vip, backend);
                !s.ok()) {
              return s;
            }
            if (!HasHealthCheck(vip->config)) {
              return absl::FailedPreconditionError(
                  absl::StrCat(path, ".vip: ", o.vip.ToString(),
                               " has no health check; its backends are "
                               "always healthy"));
            }
            vip->healthy[o.address] = o.healthy;
            return absl::OkStatus();
          },
          [&](const ReplaceVipOp& o) -> absl::Status {
            if (absl::Status s =
                    ValidateVipConfig(o.vip, limits_, path + ".vip");
                !s.ok()) {
              return s;
            }
            return ApplyReplaceVip(o.vip, next);
          },
          [&](const ReplaceAllOp& o) -> absl::Status {
            if (absl::Status s =
                    ValidateBalancerConfig(o.config, limits_, path);
                !s.ok()) {
              return s;
            }
            std::set<VipKey> wanted;
            for (const VipConfig& config : o.config.vips) {
              wanted.insert(config.key);
              if (absl::Status s = ApplyReplaceVip(config, next); !s.ok()) {
                return s;
              }
            }
            std::erase_if(next.vips, [&](const auto& entry) {
              return !wanted.contains(entry.first);
            });
            return absl::OkStatus();
          },
      },
      op);
}

absl::Status Balancer::ApplyReplaceVip(const VipConfig& config,
                                       State& next) const {
  VipState& vip = MutableVip(next, config.key);  // created when absent
  const bool checked = HasHealthCheck(config);
  std::map<IpAddress, bool> healthy;
  for (const BackendConfig& backend : config.backends) {
    auto it = vip.healthy.find(backend.address);
    // Kept health stands while checked; new backends wait for their first
    // successful probe; unchecked backends are healthy.
    // After adoption, health comes from the maps until the first probe.
    healthy[backend.address] =
        !checked ||
        (it != vip.healthy.end() ? it->second : AdoptedHealth(config, backend));
  }
  vip.healthy = std::move(healthy);
  vip.config = config;
  return absl::OkStatus();
}

}  // namespace xlb
