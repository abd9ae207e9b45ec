// The operations of a change set, applied to a copy of the model's state:
// validation, NotFound / AlreadyExists, and what each does to health.
#include <set>
#include <string>
#include <variant>

#include "absl/strings/str_cat.h"
#include "lb/model/model.h"

namespace xlb {
namespace {

bool HasHealthCheck(const VipConfig& vip) {
  return vip.settings.health_check.has_value();
}

}  // namespace

// Applies one operation to `next`: one call operator per operation type.
// `path` names the operation in errors.
struct Balancer::Operations {
  const Balancer& balancer;
  const std::string& path;
  State& next;

  absl::Status operator()(const CreateVipOp& o) const {
    if (absl::Status s =
            ValidateVipConfig(o.vip, balancer.limits_, path + ".vip");
        !s.ok()) {
      return s;
    }
    if (next.vips.contains(o.vip.key)) {
      return absl::AlreadyExistsError(absl::StrCat(
          path, ".vip.key: ", o.vip.key.ToString(), " already exists"));
    }
    return balancer.ApplyReplaceVip(o.vip, next);
  }

  absl::Status operator()(const UpdateVipOp& o) const {
    if (absl::Status s = ValidateVipKey(o.key, path + ".key"); !s.ok()) {
      return s;
    }
    if (absl::Status s = ValidateVipSettings(
            o.settings, o.key, balancer.limits_, path + ".settings");
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
                             b.address.ToString(), "'s health_override"));
            !s.ok()) {
          return s;
        }
      }
    }
    return balancer.ApplyReplaceVip(config, next);
  }

  absl::Status operator()(const DeleteVipOp& o) const {
    if (next.vips.erase(o.key) == 0) return NoVip(path + ".key", o.key);
    return absl::OkStatus();
  }

  absl::Status operator()(const AddBackendOp& o) const {
    auto it = next.vips.find(o.vip);
    if (it == next.vips.end()) return NoVip(path + ".vip", o.vip);
    const VipConfig& config = it->second->config;
    if (absl::Status s = ValidateBackend(o.backend, o.vip, path + ".backend");
        !s.ok()) {
      return s;
    }
    if (o.backend.health_override.has_value() && HasHealthCheck(config)) {
      if (absl::Status s = ValidateHealthOverride(
              *o.backend.health_override, &*config.settings.health_check,
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
  }

  absl::Status operator()(const RemoveBackendOp& o) const {
    absl::StatusOr<Backend> found = Find(o.vip, o.address);
    if (!found.ok()) return found.status();
    std::vector<BackendConfig>& list = found->vip->config.backends;
    list.erase(list.begin() + (found->backend - list.data()));
    found->vip->healthy.erase(o.address);
    return absl::OkStatus();
  }

  absl::Status operator()(const SetWeightOp& o) const {
    absl::StatusOr<Backend> found = Find(o.vip, o.address);
    if (!found.ok()) return found.status();
    if (o.weight > kMaxBackendWeight) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ".weight: ", o.weight, " exceeds ", kMaxBackendWeight));
    }
    found->backend->weight = o.weight;
    return absl::OkStatus();
  }

  absl::Status operator()(const SetDrainOp& o) const {
    absl::StatusOr<Backend> found = Find(o.vip, o.address);
    if (!found.ok()) return found.status();
    found->backend->drained = o.drained;
    return absl::OkStatus();
  }

  absl::Status operator()(const SetHealthOp& o) const {
    absl::StatusOr<Backend> found = Find(o.vip, o.address);
    if (!found.ok()) return found.status();
    if (!HasHealthCheck(found->vip->config)) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, ".vip: ", o.vip.ToString(),
                       " has no health check; its backends are "
                       "always healthy"));
    }
    found->vip->healthy[o.address] = o.healthy;
    return absl::OkStatus();
  }

  absl::Status operator()(const ReplaceVipOp& o) const {
    if (absl::Status s =
            ValidateVipConfig(o.vip, balancer.limits_, path + ".vip");
        !s.ok()) {
      return s;
    }
    return balancer.ApplyReplaceVip(o.vip, next);
  }

  absl::Status operator()(const ReplaceAllOp& o) const {
    if (absl::Status s =
            ValidateBalancerConfig(o.config, balancer.limits_, path);
        !s.ok()) {
      return s;
    }
    std::set<VipKey> wanted;
    for (const VipConfig& config : o.config.vips) {
      wanted.insert(config.key);
      if (absl::Status s = balancer.ApplyReplaceVip(config, next); !s.ok()) {
        return s;
      }
    }
    std::erase_if(next.vips, [&](const auto& entry) {
      return !wanted.contains(entry.first);
    });
    return absl::OkStatus();
  }

  // A backend operation's VIP (made writable) and backend, or why not.
  struct Backend {
    VipState* vip;
    BackendConfig* backend;
  };
  absl::StatusOr<Backend> Find(const VipKey& key,
                               const IpAddress& address) const {
    if (!next.vips.contains(key)) return NoVip(path + ".vip", key);
    VipState& vip = MutableVip(next, key);
    for (BackendConfig& backend : vip.config.backends) {
      if (backend.address == address) return Backend{&vip, &backend};
    }
    return absl::NotFoundError(
        absl::StrCat(path, ".address: ", address.ToString(),
                     " is not a backend of ", key.ToString()));
  }
};

absl::Status Balancer::ApplyOperation(const Operation& op,
                                      const std::string& path,
                                      State& next) const {
  return std::visit(Operations{*this, path, next}, op);
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
