#include "lb/dataplane/in_memory_maps.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace xlb {

bool VipKeyBytesLess::operator()(const xlb_vip_key& a,
                                 const xlb_vip_key& b) const {
  return std::memcmp(&a, &b, sizeof(a)) < 0;
}

bool InMemoryMaps::Contents::operator==(const Contents& other) const {
  auto same_bytes = [](const auto& a, const auto& b) {
    return std::memcmp(&a, &b, sizeof(a)) == 0;
  };
  if (backends.size() != other.backends.size() ||
      vips.size() != other.vips.size() || rings != other.rings) {
    return false;
  }
  for (auto a = backends.begin(), b = other.backends.begin();
       a != backends.end(); ++a, ++b) {
    if (a->first != b->first || !same_bytes(a->second, b->second)) return false;
  }
  for (auto a = vips.begin(), b = other.vips.begin(); a != vips.end();
       ++a, ++b) {
    if (!same_bytes(a->first, b->first) || !same_bytes(a->second, b->second)) {
      return false;
    }
  }
  return true;
}

InMemoryMaps::InMemoryMaps(DataplaneLimits limits) : limits_(limits) {}

absl::Status InMemoryMaps::CountWrite() {
  ++write_count_;
  if (failing_writes_.contains(write_count_)) {
    return absl::UnavailableError(
        absl::StrCat("injected failure of map write #", write_count_));
  }
  return absl::OkStatus();
}

absl::Status InMemoryMaps::SetBackend(uint32_t index,
                                      const xlb_backend& backend) {
  if (absl::Status s = CountWrite(); !s.ok()) return s;
  if (index >= limits_.max_backends) {
    return absl::OutOfRangeError(absl::StrCat(
        "backend index ", index, " >= max_backends ", limits_.max_backends));
  }
  xlb_backend zero{};
  if (std::memcmp(&backend, &zero, sizeof(zero)) == 0) {
    contents_.backends.erase(index);
  } else {
    contents_.backends[index] = backend;
  }
  return absl::OkStatus();
}

absl::StatusOr<xlb_backend> InMemoryMaps::GetBackend(uint32_t index) {
  if (index >= limits_.max_backends) {
    return absl::OutOfRangeError(absl::StrCat(
        "backend index ", index, " >= max_backends ", limits_.max_backends));
  }
  auto it = contents_.backends.find(index);
  return it == contents_.backends.end() ? xlb_backend{} : it->second;
}

absl::Status InMemoryMaps::SetVip(const xlb_vip_key& key,
                                  const xlb_vip_value& value) {
  if (absl::Status s = CountWrite(); !s.ok()) return s;
  if (!contents_.vips.contains(key) &&
      contents_.vips.size() >= limits_.max_vips) {
    return absl::ResourceExhaustedError(
        absl::StrCat("vips map full: ", limits_.max_vips, " entries"));
  }
  contents_.vips[key] = value;
  return absl::OkStatus();
}

absl::Status InMemoryMaps::DeleteVip(const xlb_vip_key& key) {
  if (absl::Status s = CountWrite(); !s.ok()) return s;
  if (contents_.vips.erase(key) == 0) {
    return absl::NotFoundError("vips: no such key");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::pair<xlb_vip_key, xlb_vip_value>>>
InMemoryMaps::ListVips() {
  return std::vector<std::pair<xlb_vip_key, xlb_vip_value>>(
      contents_.vips.begin(), contents_.vips.end());
}

absl::Status InMemoryMaps::SetRing(uint32_t vip_index,
                                   absl::Span<const uint32_t> ring) {
  if (absl::Status s = CountWrite(); !s.ok()) return s;
  ++set_ring_count_;
  if (vip_index >= limits_.max_vips) {
    return absl::OutOfRangeError(absl::StrCat(
        "VIP index ", vip_index, " >= max_vips ", limits_.max_vips));
  }
  if (ring.empty() || ring.size() > limits_.max_ring_size) {
    return absl::InvalidArgumentError(absl::StrCat("ring of ", ring.size(),
                                                   " entries is outside [1, ",
                                                   limits_.max_ring_size, "]"));
  }
  contents_.rings[vip_index].assign(ring.begin(), ring.end());
  return absl::OkStatus();
}

absl::Status InMemoryMaps::UpdateRing(uint32_t vip_index,
                                      absl::Span<const uint32_t> held,
                                      absl::Span<const uint32_t> ring) {
  if (absl::Status s = CountWrite(); !s.ok()) return s;
  ++set_ring_count_;
  auto it = contents_.rings.find(vip_index);
  if (it == contents_.rings.end()) {
    return absl::NotFoundError(absl::StrCat("ring for VIP index ", vip_index));
  }
  if (held.size() != ring.size() || it->second.size() != ring.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ring of ", ring.size(), " entries over one of ",
                     it->second.size(), " for VIP index ", vip_index));
  }
  for (size_t slot = 0; slot < ring.size(); ++slot) {
    if (held[slot] != ring[slot]) it->second[slot] = ring[slot];
  }
  return absl::OkStatus();
}

absl::Status InMemoryMaps::DeleteRing(uint32_t vip_index) {
  if (absl::Status s = CountWrite(); !s.ok()) return s;
  if (contents_.rings.erase(vip_index) == 0) {
    return absl::NotFoundError(
        absl::StrCat("VIP index ", vip_index, " has no ring"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint32_t>> InMemoryMaps::GetRing(
    uint32_t vip_index) {
  auto it = contents_.rings.find(vip_index);
  if (it == contents_.rings.end()) {
    return absl::NotFoundError(
        absl::StrCat("VIP index ", vip_index, " has no ring"));
  }
  return it->second;
}

absl::Status InMemoryMaps::DeleteConns(const std::set<uint32_t>& vip_indexes) {
  purged_conn_vips_.insert(purged_conn_vips_.end(), vip_indexes.begin(),
                           vip_indexes.end());
  return absl::OkStatus();
}

}  // namespace xlb
