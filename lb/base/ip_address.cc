// IpAddress parsing (by the field rules) and printing.
#include "lb/base/ip_address.h"

#include <arpa/inet.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace xlb {

absl::StatusOr<IpAddress> IpAddress::Parse(absl::string_view text) {
  absl::StatusOr<AddressBytes> parsed = ParseAddressText(text);
  if (!parsed.ok()) return parsed.status();
  IpAddress address;
  address.family_ = parsed->v6 ? XLB_FAMILY_V6 : XLB_FAMILY_V4;
  address.bytes_ = parsed->bytes;
  return address;
}

AddressBytes IpAddress::bytes() const {
  return AddressBytes{.v6 = family_ == XLB_FAMILY_V6, .bytes = bytes_};
}

IpAddress IpAddress::FromAbi(uint8_t family, const __be32 addr[4]) {
  IpAddress address;
  address.family_ = family;
  std::memcpy(address.bytes_.data(), addr,
              family == XLB_FAMILY_V4 ? 4 : address.bytes_.size());
  return address;
}

void IpAddress::ToAbi(__be32 addr[4]) const {
  std::memcpy(addr, bytes_.data(), bytes_.size());
}

std::string IpAddress::IdentityBytes() const {
  std::string key(1, static_cast<char>(family_));
  key.append(reinterpret_cast<const char*>(bytes_.data()), bytes_.size());
  return key;
}

std::string IpAddress::ToString() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (family_ == XLB_FAMILY_V4) {
    inet_ntop(AF_INET, bytes_.data(), text, sizeof(text));
  } else if (family_ == XLB_FAMILY_V6) {
    inet_ntop(AF_INET6, bytes_.data(), text, sizeof(text));
  } else {
    return "<unset>";
  }
  return text;
}

}  // namespace xlb
