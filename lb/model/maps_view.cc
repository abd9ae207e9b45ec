#include "lb/model/maps_view.h"

#include <arpa/inet.h>

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

xlb_vip_key AbiVipKey(const IpAddress& address, uint16_t port, uint8_t proto) {
  xlb_vip_key key{};
  address.ToAbi(key.addr);
  key.port = htons(port);
  key.proto = proto;
  key.family = address.family();
  return key;
}

}  // namespace xlb
