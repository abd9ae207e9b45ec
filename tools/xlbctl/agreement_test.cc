#include "tools/xlbctl/agreement.h"

#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/xlbctl/exit_codes.h"

namespace xlb::xlbctl {
namespace {

using ::testing::HasSubstr;

constexpr char kWeb[] = "192.0.2.10:80/tcp";
constexpr char kDns[] = "192.0.2.53:53/udp";
constexpr char kSame[] = "0123456789abcdef";
constexpr char kOther[] = "fedcba9876543210";

AgentRings Agent(std::string server, std::vector<AgentRings::Vip> vips) {
  return AgentRings{.server = std::move(server), .vips = std::move(vips)};
}

TEST(RingsOfTest, TakesEachVipsKeyAndDigestInTheAgentsOrder) {
  v1::GetStatusResponse status;
  v1::VipStatus* web = status.add_vips();
  web->mutable_key()->set_address("192.0.2.10");
  web->mutable_key()->set_port(80);
  web->mutable_key()->set_protocol(v1::PROTOCOL_TCP);
  web->set_ring_digest(kSame);
  v1::VipStatus* dns = status.add_vips();
  dns->mutable_key()->set_address("192.0.2.53");
  dns->mutable_key()->set_port(53);
  dns->mutable_key()->set_protocol(v1::PROTOCOL_UDP);
  const AgentRings rings = RingsOf("lb1:50051", status);
  EXPECT_EQ(rings.server, "lb1:50051");
  ASSERT_EQ(rings.vips.size(), 2u);
  EXPECT_EQ(rings.vips[0].key, kWeb);
  EXPECT_EQ(rings.vips[0].ring_digest, kSame);
  EXPECT_EQ(rings.vips[1].key, kDns);
  EXPECT_EQ(rings.vips[1].ring_digest, "");
}

TEST(CompareRingsTest, AgentsWithEqualDigestsAgreeEvenWithoutARing) {
  const RingComparison c =
      CompareRings({Agent("a", {{kWeb, kSame}, {kDns, ""}}),
                    Agent("b", {{kWeb, kSame}, {kDns, ""}})});
  EXPECT_TRUE(c.agree());
  EXPECT_TRUE(c.disagreeing_vips().empty());
  std::ostringstream out;
  PrintRingComparison(out, c);
  EXPECT_EQ(out.str(),
            "VIP                a                 b                 AGREE\n"
            "192.0.2.10:80/tcp  0123456789abcdef  0123456789abcdef  yes\n"
            "192.0.2.53:53/udp  -                 -                 yes\n");
}

TEST(CompareRingsTest, ADifferentOrMissingDigestIsADisagreement) {
  const RingComparison c = CompareRings(
      {Agent("a", {{kWeb, kSame}, {kDns, ""}}), Agent("b", {{kWeb, kOther}}),
       Agent("c", {{kWeb, kSame}, {kDns, ""}})});
  EXPECT_FALSE(c.agree());
  EXPECT_THAT(c.disagreeing_vips(), ::testing::ElementsAre(kWeb, kDns));
  std::ostringstream out;
  PrintRingComparison(out, c, "  ");
  EXPECT_EQ(
      out.str(),
      "  VIP                a                 b                 c          "
      "       AGREE\n"
      "  192.0.2.10:80/tcp  0123456789abcdef  fedcba9876543210  "
      "0123456789abcdef  NO\n"
      "  192.0.2.53:53/udp  -                 absent            -        "
      "         NO\n");

  const absl::Status status = DisagreementStatus(c, "after the apply");
  EXPECT_EQ(ExitCodeFor(status), kExitDisagree);
  EXPECT_THAT(status.message(),
              HasSubstr("agents disagree after the apply on 2 VIPs: "
                        "192.0.2.10:80/tcp (a 0123456789abcdef, b "
                        "fedcba9876543210, c 0123456789abcdef); "
                        "192.0.2.53:53/udp (a -, b absent, c -)"));
}

TEST(CompareRingsTest, VipsComeInTheOrderFirstSeen) {
  const RingComparison c =
      CompareRings({Agent("a", {{kDns, kSame}}),
                    Agent("b", {{kWeb, kSame}, {kDns, kSame}})});
  ASSERT_EQ(c.rows.size(), 2u);
  EXPECT_EQ(c.rows[0].vip, kDns);
  EXPECT_TRUE(c.rows[0].agree);
  EXPECT_EQ(c.rows[1].vip, kWeb);
  EXPECT_EQ(c.rows[1].digests[0], std::nullopt);
}

TEST(RingComparisonJsonTest, GivesEachAgentsDigestAndNullWhereAbsent) {
  const RingComparison c = CompareRings(
      {Agent("a", {{kWeb, kSame}}), Agent("b", {{kWeb, ""}, {kDns, kOther}})});
  const google::protobuf::Struct json = RingComparisonJson(c);
  EXPECT_FALSE(json.fields().at("agree").bool_value());
  const auto& vips = json.fields().at("vips").list_value();
  ASSERT_EQ(vips.values_size(), 2);
  const auto& web = vips.values(0).struct_value().fields();
  EXPECT_EQ(web.at("vip").string_value(), kWeb);
  EXPECT_FALSE(web.at("agree").bool_value());
  const auto& digests = web.at("ring_digests").struct_value().fields();
  EXPECT_EQ(digests.at("a").string_value(), kSame);
  EXPECT_EQ(digests.at("b").string_value(), "");
  const auto& dns = vips.values(1).struct_value().fields();
  EXPECT_TRUE(
      dns.at("ring_digests").struct_value().fields().at("a").has_null_value());
}

TEST(ExitCodeTest, OnlyTheDisagreementMarkGivesSix) {
  EXPECT_EQ(ExitCodeFor(absl::FailedPreconditionError("generation")),
            kExitFailure);
  EXPECT_EQ(ExitCodeFor(DisagreementError("x")), kExitDisagree);
}

}  // namespace
}  // namespace xlb::xlbctl
