#include "tools/xlbctl/config_file.h"

#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace xlb::xlbctl {
namespace {

constexpr char kYaml[] = R"(
vips:
  - key: {address: 192.0.2.10, port: 80, protocol: PROTOCOL_TCP}
    settings:
      ring_size: 1021
      echo_reply: yes
      min_healthy_fraction: 0.5
      health_check:
        type: HEALTH_CHECK_TYPE_HTTP
        interval: 2s
        http_path: /healthz
        http_host: 8080
        http_expected_codes: [200, 204]
    backends:
      - address: 198.51.100.1
        weight: 3
      - {address: "2001:db8::1", drained: true}
)";

TEST(ParseConfigDocumentTest, ReadsYamlWithProtoFieldNames) {
  auto doc = ParseConfigDocument(kYaml, FileFormat::kYaml, "lb.yaml");
  ASSERT_TRUE(doc.ok()) << doc.status();
  ASSERT_FALSE(doc->is_single_vip);
  ASSERT_EQ(doc->config.vips_size(), 1);
  const v1::Vip& vip = doc->config.vips(0);
  EXPECT_EQ(vip.key().port(), 80u);
  EXPECT_EQ(vip.settings().ring_size(), 1021u);
  EXPECT_TRUE(vip.settings().echo_reply());
  EXPECT_DOUBLE_EQ(vip.settings().min_healthy_fraction(), 0.5);
  const v1::HealthCheck& hc = vip.settings().health_check();
  EXPECT_EQ(hc.interval().seconds(), 2);
  // A number-looking scalar in a string field stays a string.
  EXPECT_EQ(hc.http_host(), "8080");
  EXPECT_EQ(hc.http_expected_codes_size(), 2);
  EXPECT_EQ(vip.backends(0).weight(), 3u);
  EXPECT_TRUE(vip.backends(1).drained());
  EXPECT_FALSE(vip.backends(1).has_weight());
}

TEST(ParseConfigDocumentTest, TopLevelKeyMeansOneVip) {
  auto doc = ParseConfigDocument(
      R"({"key": {"address": "192.0.2.10", "port": 53, "protocol": "PROTOCOL_UDP"}})",
      FileFormat::kJson, "vip.json");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_TRUE(doc->is_single_vip);
  EXPECT_EQ(doc->vip.key().protocol(), v1::PROTOCOL_UDP);
}

TEST(ParseConfigDocumentTest, EmptyFileIsAnEmptyConfiguration) {
  auto doc = ParseConfigDocument("", FileFormat::kYaml, "empty.yaml");
  ASSERT_TRUE(doc.ok());
  EXPECT_FALSE(doc->is_single_vip);
  EXPECT_EQ(doc->config.vips_size(), 0);
}

TEST(ParseConfigDocumentTest, UnknownFieldIsAnErrorNamingTheFile) {
  auto doc = ParseConfigDocument(
      "vips:\n  - key: {address: 192.0.2.1}\n    "
      "weight: 3\n",
      FileFormat::kYaml, "lb.yaml");
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(doc.status().message().find("lb.yaml"), std::string::npos);
  EXPECT_NE(doc.status().message().find("weight"), std::string::npos)
      << doc.status();
}

TEST(ParseConfigDocumentTest, YamlSyntaxErrorGivesTheLine) {
  auto doc = ParseConfigDocument("vips:\n  - key: [unclosed\n",
                                 FileFormat::kYaml, "bad.yaml");
  ASSERT_FALSE(doc.ok());
  EXPECT_NE(doc.status().message().find("line"), std::string::npos)
      << doc.status();
}

// Files can carry what a command line cannot (a NUL through a YAML "\0" or
// a JSON "\u0000" escape): every address is checked by the agent's rules
// before anything is sent, naming the file and the field.
TEST(CheckDocumentAddressesTest, RefusesHostileAndUnusableAddresses) {
  struct Case {
    std::string text;
    FileFormat format;
    std::string message;
  } cases[] = {
      {"key: {address: \"192.0.2.40\\0junk\", port: 80}\n", FileFormat::kYaml,
       "lb.yaml: key.address: \"192.0.2.40\\x00junk\" holds a NUL byte at "
       "offset 10"},
      {R"({"key": {"address": "192.0.2.40\u0000junk", "port": 80}})",
       FileFormat::kJson,
       "lb.yaml: key.address: \"192.0.2.40\\x00junk\" holds a NUL byte at "
       "offset 10"},
      {"vips:\n  - key: {address: 192.0.2.1, port: 80}\n    backends:\n"
       "      - address: 198.51.100.1\n"
       "      - address: \"198.51.100.99\\0evil\"\n",
       FileFormat::kYaml,
       "lb.yaml: vips[0].backends[1].address: \"198.51.100.99\\x00evil\" "
       "holds a NUL byte at offset 13"},
      {"vips:\n  - key: {address: 192.0.2.1, port: 80}\n"
       "  - key: {address: \"192.0.2.\\u0661\", port: 80}\n",
       FileFormat::kYaml,
       "lb.yaml: vips[1].key.address: \"192.0.2.\\xd9\\xa1\" holds a "
       "non-ASCII byte (0xd9) at offset 8"},
      {"vips:\n  - key: {address: 192.0.2.1, port: 80}\n    backends:\n"
       "      - {address: 127.0.0.1}\n",
       FileFormat::kYaml,
       "lb.yaml: vips[0].backends[0].address: 127.0.0.1 is a loopback "
       "address"},
      {"vips:\n  - key: {address: 192.0.2.1, port: 80}\n    backends:\n"
       "      - {weight: 2}\n",
       FileFormat::kYaml, "lb.yaml: vips[0].backends[0].address: required"},
  };
  for (const Case& c : cases) {
    auto doc = ParseConfigDocument(c.text, c.format, "lb.yaml");
    ASSERT_TRUE(doc.ok()) << doc.status();
    absl::Status status = CheckDocumentAddresses(*doc, "lb.yaml");
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), ::testing::HasSubstr(c.message)) << c.text;
  }
  auto good = ParseConfigDocument(kYaml, FileFormat::kYaml, "lb.yaml");
  ASSERT_TRUE(good.ok());
  EXPECT_TRUE(CheckDocumentAddresses(*good, "lb.yaml").ok());
}

TEST(SerializeDocumentTest, YamlAndJsonRoundTrip) {
  auto doc = ParseConfigDocument(kYaml, FileFormat::kYaml, "lb.yaml");
  ASSERT_TRUE(doc.ok());
  for (FileFormat format : {FileFormat::kYaml, FileFormat::kJson}) {
    auto text = SerializeDocument(doc->config, format);
    ASSERT_TRUE(text.ok());
    auto again = ParseConfigDocument(*text, format, "again");
    ASSERT_TRUE(again.ok()) << again.status() << "\n" << *text;
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
        doc->config, again->config))
        << *text;
  }
}

TEST(FormatForPathTest, JsonByExtensionYamlOtherwise) {
  EXPECT_EQ(FormatForPath("a.json"), FileFormat::kJson);
  EXPECT_EQ(FormatForPath("a.JSON"), FileFormat::kJson);
  EXPECT_EQ(FormatForPath("a.yaml"), FileFormat::kYaml);
  EXPECT_EQ(FormatForPath("a.conf"), FileFormat::kYaml);
}

}  // namespace
}  // namespace xlb::xlbctl
