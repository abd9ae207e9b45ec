// IpAddress: text in both families, and the maps' byte layout.
#include "lb/base/ip_address.h"

#include "gtest/gtest.h"

namespace xlb {
namespace {

IpAddress Parsed(absl::string_view text) {
  absl::StatusOr<IpAddress> address = IpAddress::Parse(text);
  EXPECT_TRUE(address.ok()) << address.status();
  return address.value_or(IpAddress());
}

TEST(IpAddressTest, ParsesAndFormatsBothFamilies) {
  EXPECT_EQ(Parsed("192.0.2.1").family(), XLB_FAMILY_V4);
  EXPECT_EQ(Parsed("192.0.2.1").ToString(), "192.0.2.1");
  EXPECT_EQ(Parsed("2001:DB8::1").family(), XLB_FAMILY_V6);
  EXPECT_EQ(Parsed("2001:DB8::1").ToString(), "2001:db8::1");
  EXPECT_EQ(IpAddress::Parse("192.0.2.256").status().message(),
            "\"192.0.2.256\" is not an IPv4 or IPv6 address");
  EXPECT_FALSE(IpAddress().is_set());
}

TEST(IpAddressTest, RoundTripsThroughTheAbiLayout) {
  __be32 addr[4] = {};
  Parsed("192.0.2.1").ToAbi(addr);
  const uint8_t* bytes = reinterpret_cast<const uint8_t*>(addr);
  EXPECT_EQ(bytes[0], 192);
  EXPECT_EQ(bytes[3], 1);
  EXPECT_EQ(IpAddress::FromAbi(XLB_FAMILY_V4, addr), Parsed("192.0.2.1"));
  Parsed("2001:db8::7").ToAbi(addr);
  EXPECT_EQ(IpAddress::FromAbi(XLB_FAMILY_V6, addr), Parsed("2001:db8::7"));
}

}  // namespace
}  // namespace xlb
