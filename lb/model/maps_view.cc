#include "lb/model/maps_view.h"

#include <arpa/inet.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace xlb {

absl::StatusOr<std::vector<uint32_t>> RingInputs::Build() const {
  absl::StatusOr<std::vector<uint32_t>> table =
      BuildMaglevTable(members, size, seed);
  if (!table.ok()) {
    return absl::InternalError(
        absl::StrCat("building a ring: ", table.status().message()));
  }
  return table;
}

uint64_t TableDigest(const std::vector<uint32_t>& table) {
  return XxHash64(absl::string_view(reinterpret_cast<const char*>(table.data()),
                                    table.size() * sizeof(uint32_t)),
                  0);
}

// Backend indexes depend on each host's history (the order backends came and
// went, what an earlier agent left), so it hashes what is the same on every
// host that places the same backends in the same slots: the members' keys
// (family byte and 16 address bytes) in key order, then the table with each
// slot holding its backend's rank in that order, from 1 (0 for an empty slot),
// as 4 bytes little-endian.
uint64_t PlacementDigest(absl::Span<const MaglevBackend> members,
                         absl::Span<const uint32_t> table) {
  uint32_t max_index = 0;
  size_t key_bytes = 0;
  for (const MaglevBackend& m : members) {
    max_index = std::max(max_index, m.index);
    key_bytes += m.key.size();
  }
  std::vector<uint32_t> rank_of(max_index + 1, 0);
  std::string bytes(key_bytes + table.size() * 4, '\0');
  char* out = bytes.data();
  for (size_t i = 0; i < members.size(); ++i) {
    rank_of[members[i].index] = static_cast<uint32_t>(i + 1);
    out = std::copy(members[i].key.begin(), members[i].key.end(), out);
  }
  for (uint32_t index : table) {
    const uint32_t rank = index <= max_index ? rank_of[index] : 0;
    *out++ = static_cast<char>(rank & 0xff);
    *out++ = static_cast<char>((rank >> 8) & 0xff);
    *out++ = static_cast<char>((rank >> 16) & 0xff);
    *out++ = static_cast<char>((rank >> 24) & 0xff);
  }
  return XxHash64(bytes, 0);
}

xlb_vip_key AbiVipKey(const IpAddress& address, uint16_t port, uint8_t proto) {
  xlb_vip_key key{};
  address.ToAbi(key.addr);
  key.port = htons(port);
  key.proto = proto;
  key.family = address.family();
  return key;
}

}  // namespace xlb
