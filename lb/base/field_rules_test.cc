// Each text field's rule: what it accepts up to its limit, and that every
// refusal says what is wrong with the value.
#include "lb/base/field_rules.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace xlb {
namespace {

using ::testing::HasSubstr;

std::string Nul(absl::string_view before, absl::string_view after) {
  std::string s(before);
  s.push_back('\0');
  s.append(after.data(), after.size());
  return s;
}

std::string Problem(const absl::Status& status) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  return std::string(status.message());
}

TEST(QuoteValueTest, EscapesAndCutsLongValues) {
  EXPECT_EQ(QuoteValue(Nul("192.0.2.40", "junk")), "\"192.0.2.40\\x00junk\"");
  EXPECT_EQ(QuoteValue("a\nb\xc3\xa9"), "\"a\\nb\\xc3\\xa9\"");
  EXPECT_EQ(QuoteValue(std::string(100, 'x')),
            "\"" + std::string(64, 'x') + "\"...");
}

TEST(AddressTextTest, ParsesBothFamiliesUpToTheLongestText) {
  absl::StatusOr<AddressBytes> v4 = ParseAddressText("192.0.2.1");
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_FALSE(v4->v6);
  EXPECT_EQ(FormatAddress(*v4), "192.0.2.1");
  const std::string longest = "2001:0db8:ffff:ffff:ffff:ffff:255.255.255.255";
  ASSERT_EQ(longest.size(), kMaxAddressTextBytes);
  absl::StatusOr<AddressBytes> v6 = ParseAddressText(longest);
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_TRUE(v6->v6);
  EXPECT_EQ(FormatAddress(*v6), "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
}

TEST(AddressTextTest, NamesWhatIsWrong) {
  struct Case {
    std::string text;
    std::string problem;
  } cases[] = {
      {Nul("192.0.2.40", "junk"),
       "\"192.0.2.40\\x00junk\" holds a NUL byte at offset 10; an address is "
       "IPv4 or IPv6 text"},
      {Nul("192.0.2.40", ""), "holds a NUL byte at offset 10"},
      {"192.0.2.\xd9\xa1", "holds a non-ASCII byte (0xd9) at offset 8"},
      {"192.0.2.1\n", "holds a control character (0x0a) at offset 9"},
      {" 192.0.2.1", "holds a space at offset 0"},
      {"2001:0db8:ffff:ffff:ffff:ffff:255.255.255.2555",
       "is 46 bytes; the longest IPv4 or IPv6 address is 45"},
      {std::string(100000, '1'), "is 100000 bytes"},
      {"300.1.1.1", "\"300.1.1.1\" is not an IPv4 or IPv6 address"},
      {"192.0.2.0/24", "is not an IPv4 or IPv6 address"},
      {"fe80::1%eth0", "is not an IPv4 or IPv6 address"},
      {"lb.example", "is not an IPv4 or IPv6 address"},
      {"", "\"\" is not an IPv4 or IPv6 address"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(Problem(ParseAddressText(c.text).status()),
                HasSubstr(c.problem))
        << QuoteValue(c.text);
  }
}

TEST(UsableAddressTest, RefusesAddressesNoPacketCanReach) {
  struct Case {
    const char* text;
    const char* problem;
  } cases[] = {
      {"0.0.0.0", "0.0.0.0 is the unspecified address"},
      {"0.1.2.3", "0.1.2.3 is in 0.0.0.0/8"},
      {"127.0.0.1", "127.0.0.1 is a loopback address"},
      {"127.255.0.9", "127.255.0.9 is a loopback address"},
      {"169.254.1.1", "169.254.1.1 is a link-local address"},
      {"224.0.0.1", "224.0.0.1 is a multicast address"},
      {"239.255.255.250", "239.255.255.250 is a multicast address"},
      {"255.255.255.255", "255.255.255.255 is the broadcast address"},
      {"::", ":: is the unspecified address"},
      {"::1", "::1 is the loopback address"},
      {"ff02::1", "ff02::1 is a multicast address"},
      {"fe80::1", "fe80::1 is a link-local address"},
      {"febf::1", "febf::1 is a link-local address"},
      {"::ffff:192.0.2.1",
       "::ffff:192.0.2.1 is an IPv4-mapped address, which never appears on "
       "the wire: write it as 192.0.2.1"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<AddressBytes> address = ParseAddressText(c.text);
    ASSERT_TRUE(address.ok()) << address.status();
    EXPECT_THAT(Problem(CheckUsableAddress(*address)), HasSubstr(c.problem));
  }
  for (const char* usable :
       {"192.0.2.1", "10.0.0.1", "1.0.0.0", "126.255.255.255", "128.0.0.1",
        "169.253.0.1", "223.255.255.255", "240.0.0.1", "255.255.255.254",
        "2001:db8::1", "fc00::1", "fec0::1", "::2", "::ffff:0:1:2"}) {
    absl::StatusOr<AddressBytes> address = ParseAddressText(usable);
    ASSERT_TRUE(address.ok()) << address.status();
    EXPECT_TRUE(CheckUsableAddress(*address).ok()) << usable;
  }
}

// A rule, the longest value it accepts, and refused values with the cause
// each message must name.
struct FieldCase {
  const char* field;
  absl::Status (*check)(absl::string_view);
  std::string longest_accepted;
  std::vector<std::pair<std::string, std::string>> refused;
};

std::vector<FieldCase> FieldCases() {
  return {
      {"http_path",
       CheckHttpPath,
       "/" + std::string(kMaxHttpPathBytes - 1, 'a'),
       {{"/" + std::string(kMaxHttpPathBytes, 'a'),
         "is 1025 bytes, over the limit of 1024"},
        {"/" + std::string(100 * 1024, 'a'), "is 102401 bytes"},
        {Nul("/health", "z"), "holds a NUL byte at offset 7"},
        {"/caf\xc3\xa9",
         "\"/caf\\xc3\\xa9\" holds a non-ASCII byte (0xc3) at offset 4; "
         "percent-encode it (%C3)"},
        {"/a b", "holds a space at offset 2; percent-encode it (%20)"},
        {"/a\r\nX-Evil: 1", "holds a control character (0x0d) at offset 2"},
        {"/a\x7f", "holds a control character (0x7f) at offset 2"},
        {"healthz", "\"healthz\" does not start with '/'"}}},
      {"http_host",
       CheckHttpHost,
       std::string(kMaxHttpHostBytes - 4, 'h') + ":443",
       {{std::string(kMaxHttpHostBytes + 1, 'h'),
         "is 256 bytes, over the limit of 255"},
        {Nul("example.com", ""), "holds a NUL byte at offset 11"},
        {"b\xc3\xbc"
         "cher.example",
         "holds a non-ASCII byte (0xc3) at offset 1; write an "
         "internationalized name in its ASCII form (xn--...)"},
        {"a\nb", "holds a control character (0x0a) at offset 1"},
        {"a b", "holds a space at offset 1"},
        {"example.com/x", "holds '/' at offset 11: a host is a DNS name"},
        {"user@example.com", "holds '@' at offset 4"},
        {"example.com:0", "has port \"0\", not 1..65535"},
        {"example.com:65536", "has port \"65536\", not 1..65535"},
        {"example.com:+80", "has port \"+80\""},
        {"example.com:", "has port \"\""},
        {":80", "has no host name"},
        {"2001:db8::1", "an IPv6 address goes in brackets"},
        {"[2001:db8::1", "lacks the ']'"},
        {"[192.0.2.1]:80", "has \"192.0.2.1\" in brackets, not an IPv6"},
        {"[2001:db8::1]x", "has something other than :PORT after ']'"}}},
      {"http_body_substring",
       CheckHttpBodySubstring,
       std::string(kMaxHttpBodySubstringBytes, 'b'),
       {{std::string(kMaxHttpBodySubstringBytes + 1, 'b'),
         "is 1025 bytes, over the limit of 1024"},
        {Nul("ok", ""), "holds a NUL byte at offset 2"},
        {"ok\x1b[31m", "holds a control character (0x1b) at offset 2"}}},
      {"grpc_service",
       CheckGrpcService,
       std::string(kMaxGrpcServiceBytes, 's'),
       {{std::string(kMaxGrpcServiceBytes + 1, 's'),
         "is 256 bytes, over the limit of 255"},
        {Nul("my.Service", ""), "holds a NUL byte at offset 10"},
        {"my.Servi\xc3\xa7o",
         "holds a non-ASCII byte (0xc3) at offset 8; service names are "
         "ASCII"},
        {"my service", "holds a space at offset 2"},
        {"my\tservice", "holds a control character (0x09) at offset 2"}}},
      {"udp payload",
       CheckUdpPayload,
       std::string(kMaxUdpProbeBytes, '\0'),
       {{std::string(kMaxUdpProbeBytes + 1, 'u'),
         "1025 bytes, over the limit of 1024"}}},
      {"interface",
       CheckInterfaceName,
       std::string(kMaxInterfaceNameBytes, 'e'),
       {{std::string(kMaxInterfaceNameBytes + 1, 'e'),
         "is 16 bytes, over the limit of 15"},
        {"", "\"\" is empty"},
        {Nul("eth0", ""), "holds a NUL byte at offset 4"},
        {"eth 0", "holds a space at offset 3"},
        {"eth0\n", "holds a control character (0x0a) at offset 4"},
        {"../eth0", "holds '/' at offset 2"},
        {"eth0:1", "holds ':' at offset 4"},
        {"..", "is not an interface name"}}},
  };
}

TEST(FieldRulesTest, EachFieldTakesItsLongestValueAndRefusesHostileOnes) {
  for (const FieldCase& c : FieldCases()) {
    SCOPED_TRACE(c.field);
    EXPECT_TRUE(c.check(c.longest_accepted).ok())
        << c.check(c.longest_accepted);
    for (const auto& [value, problem] : c.refused) {
      EXPECT_THAT(Problem(c.check(value)), HasSubstr(problem))
          << QuoteValue(value);
    }
  }
}

TEST(FieldRulesTest, AcceptsOrdinaryValues) {
  for (const char* path : {"/", "/healthz", "/a%20b?x=1&y=%C3%A9#frag"}) {
    EXPECT_TRUE(CheckHttpPath(path).ok()) << path;
  }
  for (const char* host :
       {"example.com", "api.example.com:8443", "192.0.2.1", "192.0.2.1:80",
        "[2001:db8::1]", "[2001:db8::1]:443", "under_score.internal"}) {
    EXPECT_TRUE(CheckHttpHost(host).ok()) << host;
  }
  EXPECT_TRUE(CheckHttpBodySubstring("status: \"ok\"\r\n\tcaf\xc3\xa9").ok());
  EXPECT_TRUE(CheckGrpcService("grpc.health.v1.Health").ok());
  EXPECT_TRUE(CheckInterfaceName("eth0").ok());
  EXPECT_TRUE(CheckInterfaceName("enp0s31f6.100").ok());
}

}  // namespace
}  // namespace xlb
