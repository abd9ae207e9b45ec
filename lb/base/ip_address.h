// IpAddress: an IPv4 or IPv6 address as the maps store it, parsed from and
// printed as text. Used by the model, the decap loader and the tools alike.
#ifndef XLB_LB_BASE_IP_ADDRESS_H_
#define XLB_LB_BASE_IP_ADDRESS_H_

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lb/base/field_rules.h"
#include "xlb_abi.h"

namespace xlb {

// An IPv4 or IPv6 address, kept as network-order bytes (IPv4 in the first
// four). A default-constructed address is unset and fails validation.
class IpAddress {
 public:
  IpAddress() = default;
  // Accepts what ParseAddressText does (lb/base/field_rules.h): dotted-quad
  // IPv4 and RFC 4291 IPv6 text. Whether the address can carry traffic is
  // CheckUsableAddress's question.
  static absl::StatusOr<IpAddress> Parse(absl::string_view text);
  // `family` is XLB_FAMILY_V4 or XLB_FAMILY_V6; `addr` as stored in the maps.
  static IpAddress FromAbi(uint8_t family, const __be32 addr[4]);

  bool is_set() const { return family_ != 0; }
  bool is_v4() const { return family_ == XLB_FAMILY_V4; }
  uint8_t family() const { return family_; }  // XLB_FAMILY_*, 0 when unset
  AddressBytes bytes() const;
  void ToAbi(__be32 addr[4]) const;
  // The family byte followed by the 16 address bytes: the backend's identity
  // in the Maglev table, so a backend keeps its slots whatever its index.
  std::string IdentityBytes() const;
  std::string ToString() const;

  auto operator<=>(const IpAddress&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const IpAddress& a) {
    return H::combine(std::move(h), a.family_, a.bytes_);
  }

 private:
  uint8_t family_ = 0;
  std::array<uint8_t, 16> bytes_{};
};

}  // namespace xlb

#endif  // XLB_LB_BASE_IP_ADDRESS_H_
