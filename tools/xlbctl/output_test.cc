#include "tools/xlbctl/output.h"

#include <sstream>

#include "gtest/gtest.h"
#include "xlb/v1/config.pb.h"

namespace xlb::xlbctl {
namespace {

TEST(TableTest, AlignsColumnsAndRightAlignsNumbers) {
  Table table({"VIP", "PACKETS"});
  table.AddRow({"192.0.2.10:80/tcp", "7"});
  table.AddRow({"192.0.2.1:0/udp", "12345"});
  std::ostringstream out;
  table.Print(out, "  ");
  EXPECT_EQ(out.str(),
            "  VIP                PACKETS\n"
            "  192.0.2.10:80/tcp        7\n"
            "  192.0.2.1:0/udp      12345\n");
}

TEST(TableTest, ColumnsAlignedLeftStayLeftWhateverTheyHold) {
  Table table({"VIP", "DIGEST"});
  table.AlignLeft(1);
  table.AddRow({"192.0.2.10:80/tcp", "0123456789abcdef"});
  table.AddRow({"192.0.2.1:0/udp", "-"});
  std::ostringstream out;
  table.Print(out);
  EXPECT_EQ(out.str(),
            "VIP                DIGEST\n"
            "192.0.2.10:80/tcp  0123456789abcdef\n"
            "192.0.2.1:0/udp    -\n");
}

TEST(ToJsonTest, UsesProtoFieldNamesAndPrintsDefaults) {
  v1::VipKey key;
  key.set_address("192.0.2.10");
  auto json = ToJson(key, /*pretty=*/false);
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(
      *json,
      R"({"address":"192.0.2.10","port":0,"protocol":"PROTOCOL_UNSPECIFIED"})");
}

TEST(DocumentToJsonTest, SortsMembersAndEscapesStrings) {
  google::protobuf::Value document;
  auto& fields = *document.mutable_struct_value()->mutable_fields();
  fields["zeta"].set_number_value(3);
  fields["alpha"].set_string_value("say \"hi\"\\\n");
  fields["mid"].mutable_list_value()->add_values()->set_bool_value(true);
  fields["mid"].mutable_list_value()->add_values()->set_null_value(
      google::protobuf::NULL_VALUE);
  fields["ratio"].set_number_value(0.5);
  EXPECT_EQ(DocumentToJson(document),
            R"({"alpha":"say \"hi\"\\\u000a","mid":[true,null],"ratio":0.5,)"
            R"("zeta":3})");
}

TEST(HumanTest, ScalesCountsAndBytes) {
  EXPECT_EQ(HumanCount(999), "999");
  EXPECT_EQ(HumanCount(1500000), "1.50M");
  EXPECT_EQ(HumanBytes(1536), "1.50KiB");
  EXPECT_EQ(HumanBytes(10), "10B");
}

}  // namespace
}  // namespace xlb::xlbctl
