#include "tools/xlbd/host_network.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/xlbd/agent.h"

namespace xlb::xlbd {
namespace {

constexpr char kRoute[] =
    "Iface\tDestination\tGateway "
    "\tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
    "eth0\t00000000\t0100A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
    "eth0\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
constexpr char kArp[] =
    "IP address       HW type     Flags       HW address            Mask     "
    "Device\n"
    "192.168.0.1      0x1         0x2         52:54:00:12:34:56     *        "
    "eth0\n"
    "192.168.0.7      0x1         0x0         00:00:00:00:00:00     *        "
    "eth0\n";

TEST(HostNetworkTest, DefaultGatewayComesFromTheRouteTable) {
  EXPECT_EQ(*DefaultGatewayV4FromRouteTable(kRoute, "eth0"), "192.168.0.1");
  EXPECT_FALSE(DefaultGatewayV4FromRouteTable(kRoute, "eth1").ok());
}

TEST(HostNetworkTest, GatewayMacComesFromACompleteArpEntry) {
  EXPECT_EQ(FormatMac(*MacFromArpTable(kArp, "192.168.0.1", "eth0")),
            "52:54:00:12:34:56");
  EXPECT_FALSE(
      MacFromArpTable(kArp, "192.168.0.7", "eth0").ok());  // incomplete
  EXPECT_FALSE(MacFromArpTable(kArp, "192.168.0.1", "eth1").ok());
}

TEST(HostNetworkTest, MacParsingIsStrict) {
  EXPECT_TRUE(ParseMac("aa:bb:cc:dd:ee:0f").ok());
  EXPECT_FALSE(ParseMac("aa:bb:cc:dd:ee").ok());
  EXPECT_FALSE(ParseMac("aa:bb:cc:dd:ee:fg").ok());
  EXPECT_FALSE(ParseMac("aabb.ccdd.eeff").ok());
}

TEST(AgentOptionsTest, SourcePrefixesAreChecked) {
  AgentOptions o;
  o.listeners.unix_socket = "/tmp/x.sock";
  o.source_v4 = "198.51.100.10/33";
  EXPECT_FALSE(ValidateAgentOptions(o).ok());
  o.source_v4 = "2001:db8::1";
  EXPECT_FALSE(ValidateAgentOptions(o).ok());
  o.source_v4 = "198.51.100.0/28";
  o.source_v6 = "2001:db8::10/128";
  EXPECT_TRUE(ValidateAgentOptions(o).ok());
  auto config = BuildDataplaneConfig(o);
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->src_v4_prefix_len, 28);
  EXPECT_EQ(config->src_v6_prefix_len, 128);
  EXPECT_EQ(config->tcp_idle_timeout_ns, 300'000'000'000u);
  EXPECT_EQ(config->udp_idle_timeout_ns, 30'000'000'000u);
}

TEST(AgentOptionsTest, SourcesAndInterfaceFollowTheFieldRules) {
  struct Case {
    std::string interface;
    std::string source_v4;
    std::string source_v6;
    std::string message;
  } cases[] = {
      {"eth0", "127.0.0.1/32", "",
       "--source-v4: 127.0.0.1 is a loopback "
       "address"},
      {"eth0", "0.0.0.0", "", "--source-v4: 0.0.0.0 is the unspecified"},
      {"eth0", "", "ff02::1", "--source-v6: ff02::1 is a multicast address"},
      {"eth0", "198.51.100.1\n", "",
       "--source-v4: \"198.51.100.1\\n\" holds a control character (0x0a) "
       "at offset 12"},
      // A longer name would be cut to 15 bytes by the kernel's interfaces,
      // naming another interface.
      {"eth0123456789abc", "198.51.100.1", "",
       "--interface: \"eth0123456789abc\" is 16 bytes, over the limit of 15"},
      {"eth0/../lo", "198.51.100.1", "",
       "--interface: \"eth0/../lo\" holds '/' at offset 4"},
  };
  for (const Case& c : cases) {
    AgentOptions o;
    o.listeners.unix_socket = "/tmp/x.sock";
    o.interface = c.interface;
    o.source_v4 = c.source_v4;
    o.source_v6 = c.source_v6;
    absl::Status status = ValidateAgentOptions(o);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), ::testing::HasSubstr(c.message));
  }
  AgentOptions o;
  o.listeners.unix_socket = "/tmp/x.sock";
  o.interface = "eth0123456789ab";
  o.source_v4 = "198.51.100.1";
  EXPECT_TRUE(ValidateAgentOptions(o).ok());
}

TEST(AgentOptionsTest, AttachingNeedsAnOuterSource) {
  AgentOptions o;
  o.interface = "eth0";
  EXPECT_FALSE(ValidateAgentOptions(o).ok());
}

}  // namespace
}  // namespace xlb::xlbd
