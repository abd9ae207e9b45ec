#include "tools/xlbctl/arguments.h"

#include "gtest/gtest.h"

namespace xlb::xlbctl {
namespace {

TEST(ParseVipKeyTest, ReadsIpv4WithProtocol) {
  auto key = ParseVipKey("192.0.2.10:80/udp");
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->address(), "192.0.2.10");
  EXPECT_EQ(key->port(), 80u);
  EXPECT_EQ(key->protocol(), v1::PROTOCOL_UDP);
}

TEST(ParseVipKeyTest, DefaultsToTcp) {
  auto key = ParseVipKey("192.0.2.10:443");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->protocol(), v1::PROTOCOL_TCP);
}

TEST(ParseVipKeyTest, ReadsBracketedIpv6) {
  auto key = ParseVipKey("[2001:db8::10]:443/tcp");
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->address(), "2001:db8::10");
  EXPECT_EQ(key->port(), 443u);
}

TEST(ParseVipKeyTest, PortZeroIsTheWildcard) {
  auto key = ParseVipKey("192.0.2.10:0/udp");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->port(), 0u);
}

TEST(ParseVipKeyTest, RejectsMalformedVipsNamingTheProblem) {
  struct Case {
    const char* text;
    const char* message_part;
  } cases[] = {
      {"192.0.2.10", "missing :PORT"},
      {"192.0.2.10:70000/tcp", "port must be"},
      {"192.0.2.10:80/sctp", "unknown protocol"},
      {"2001:db8::10:80/tcp", "needs brackets"},
      {"[2001:db8::10/tcp", "missing ']'"},
      {"example.com:80/tcp", "not an IPv4 or IPv6 address"},
      {"192.0.2.300:80", "not an IPv4 or IPv6 address"},
  };
  for (const Case& c : cases) {
    auto key = ParseVipKey(c.text);
    ASSERT_FALSE(key.ok()) << c.text;
    EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(key.status().message().find(c.message_part), std::string::npos)
        << c.text << ": " << key.status();
  }
}

TEST(FormatVipKeyTest, RoundTripsThroughParse) {
  for (const char* text :
       {"192.0.2.10:80/tcp", "[2001:db8::10]:443/udp", "192.0.2.1:0/udp"}) {
    auto key = ParseVipKey(text);
    ASSERT_TRUE(key.ok());
    EXPECT_EQ(FormatVipKey(*key), text);
  }
}

TEST(ParseDurationTest, ReadsGoStyleDurations) {
  auto d = ParseDuration("--interval", "1m30s");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->seconds(), 90);
  d = ParseDuration("--timeout", "250ms");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->seconds(), 0);
  EXPECT_EQ(d->nanos(), 250000000);
  EXPECT_EQ(FormatDuration(*d), "250ms");
}

TEST(ParseDurationTest, RejectsGarbageAndNegativeNamingTheFlag) {
  auto d = ParseDuration("--interval", "5 seconds");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("--interval"), std::string::npos);
  EXPECT_FALSE(ParseDuration("--interval", "-1s").ok());
}

TEST(EnumNamesTest, ParseAcceptsEveryAdvertisedName) {
  for (const auto& name : HashModeNames()) {
    auto mode = ParseHashMode(name);
    ASSERT_TRUE(mode.ok());
    EXPECT_EQ(HashModeName(*mode), name);
  }
  for (const auto& name : HealthCheckTypeNames()) {
    auto type = ParseHealthCheckType(name);
    ASSERT_TRUE(type.ok());
    EXPECT_EQ(HealthCheckTypeName(*type), name);
  }
  EXPECT_FALSE(ParseHealthCheckType("icmp").ok());
}

}  // namespace
}  // namespace xlb::xlbctl
