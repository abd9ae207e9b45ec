#include "tools/xlbctl/arguments.h"

#include "gmock/gmock.h"
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

// Hostile text is refused by the agent's own rules (lb/base/field_rules.h),
// naming the cause, and echoed escaped: never a raw NUL or escape sequence
// on the operator's terminal.
TEST(ParseVipKeyTest, RefusesHostileTextAndUnusableAddresses) {
  struct Case {
    std::string text;
    std::string message_part;
  } cases[] = {
      {std::string("192.0.2.40\0junk:80", 18),
       "VIP \"192.0.2.40\\x00junk:80\": \"192.0.2.40\\x00junk\" holds a NUL "
       "byte at offset 10"},
      {"192.0.2.4\xd9\xa0:80", "holds a non-ASCII byte (0xd9) at offset 9"},
      {"\x1b[2J192.0.2.1:80", "holds a control character (0x1b) at offset 0"},
      {"[2001:0db8:ffff:ffff:ffff:ffff:255.255.255.2555]:80",
       "is 46 bytes; the longest IPv4 or IPv6 address is 45"},
      {"127.0.0.1:80", "127.0.0.1 is a loopback address"},
      {"0.0.0.0:80", "0.0.0.0 is the unspecified address"},
      {"[ff02::1]:80", "ff02::1 is a multicast address"},
      {"[::ffff:192.0.2.1]:80", "write it as 192.0.2.1"},
  };
  for (const Case& c : cases) {
    auto key = ParseVipKey(c.text);
    ASSERT_FALSE(key.ok()) << c.text;
    EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(key.status().message(), ::testing::HasSubstr(c.message_part));
    EXPECT_EQ(key.status().message().find_first_of(std::string("\0\x1b", 2)),
              absl::string_view::npos);
  }
  auto longest =
      ParseVipKey("[2001:0db8:ffff:ffff:ffff:ffff:255.255.255.255]:80");
  EXPECT_TRUE(longest.ok()) << longest.status();
}

TEST(CheckAddressTest, AppliesTheAgentsAddressRules) {
  EXPECT_TRUE(CheckAddress("backend", "198.51.100.99").ok());
  EXPECT_TRUE(
      CheckAddress("backend", "2001:0db8:ffff:ffff:ffff:ffff:255.255.255.255")
          .ok());
  struct Case {
    std::string address;
    std::string message;
  } cases[] = {
      {std::string("198.51.100.99\0evil", 18),
       "backend: \"198.51.100.99\\x00evil\" holds a NUL byte at offset 13"},
      {"198.51.100.9\n",
       "backend: \"198.51.100.9\\n\" holds a control "
       "character (0x0a) at offset 12"},
      {"backend-1", "backend: \"backend-1\" is not an IPv4 or IPv6 address"},
      {"::1", "backend: ::1 is the loopback address"},
      {"255.255.255.255", "backend: 255.255.255.255 is the broadcast address"},
      {"169.254.0.1", "backend: 169.254.0.1 is a link-local address"},
  };
  for (const Case& c : cases) {
    absl::Status status = CheckAddress("backend", c.address);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), ::testing::HasSubstr(c.message));
  }
}

TEST(ParseDurationTest, RefusesHostileTextEscaped) {
  auto d = ParseDuration("--interval", std::string("5s\0", 3));
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message(),
            "--interval \"5s\\x00\": expected a duration such as 500ms, 5s, "
            "1m");
  d = ParseDuration("--timeout", "5\xc2\xb5s");
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(d.status().message(), ::testing::HasSubstr("\"5\\xc2\\xb5s\""));
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

TEST(ParseDurationTest, KeepsLongDurationsExactAndRefusesUnsendableOnes) {
  // Past what int64 nanoseconds hold (292 years), still exact.
  auto d = ParseDuration("--interval", "3000000h0.5s");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->seconds(), int64_t{3000000} * 3600);
  EXPECT_EQ(d->nanos(), 500000000);
  d = ParseDuration("--interval", "0s");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->seconds(), 0);
  EXPECT_EQ(d->nanos(), 0);
  // google.protobuf.Duration ends at 315,576,000,000 s.
  for (const char* text : {"87660000h", "inf", "1000000000000h"}) {
    d = ParseDuration("--timeout", text);
    ASSERT_FALSE(d.ok()) << text;
    EXPECT_NE(d.status().message().find("--timeout"), std::string::npos);
  }
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
