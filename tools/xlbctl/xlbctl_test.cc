// End to end: the real xlbctl binary against a real xlbd (its own network
// namespace, veth, pins and state; see agent_process.h). Every verb, its
// JSON output parsed back into the API's messages, the config round trip,
// and the error paths with their exit codes.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "lb/testing/privilege.h"
#include "tools/xlbctl/agent_process.h"
#include "tools/xlbctl/exit_codes.h"
#include "xlb/v1/xlb.pb.h"

namespace xlb::xlbctl {
namespace {

using testing::AgentProcess;
using testing::CommandResult;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kVip[] = "192.0.2.10:80/tcp";

template <typename Message>
Message ParseJson(const std::string& json) {
  Message message;
  auto status = google::protobuf::util::JsonStringToMessage(json, &message);
  EXPECT_TRUE(status.ok()) << status.message() << "\n" << json;
  return message;
}

std::string ReadFileText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// One member of a JSON object, as JSON text.
std::string Member(const std::string& json, const std::string& name) {
  auto object = ParseJson<google::protobuf::Struct>(json);
  std::string member;
  auto it = object.fields().find(name);
  EXPECT_NE(it, object.fields().end()) << name << " missing from " << json;
  if (it != object.fields().end()) {
    (void)google::protobuf::util::MessageToJsonString(it->second, &member);
  }
  return member;
}

class XlbctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    xlb::testing::RequirePrivilege();
    if (IsSkipped() || HasFatalFailure()) return;
    agent_ = std::make_unique<AgentProcess>(XLBD_BINARY, XLBCTL_BINARY);
    ASSERT_TRUE(agent_->Start());
  }

  // Runs xlbctl; fails the test unless it exits with `expected_code`.
  CommandResult Cli(const std::vector<std::string>& args,
                    int expected_code = kExitOk,
                    const std::string& stdin_text = "") {
    CommandResult r = agent_->Run(args, stdin_text);
    EXPECT_EQ(r.exit_code, expected_code)
        << "xlbctl " << absl::StrJoin(args, " ") << "\nstdout:\n"
        << r.out << "stderr:\n"
        << r.err;
    return r;
  }

  v1::GetConfigResponse Config() {
    // config get -o json prints the Config; the generation via status.
    v1::GetConfigResponse response;
    *response.mutable_config() =
        ParseJson<v1::Config>(Cli({"config", "get", "-o", "json"}).out);
    response.set_generation(
        ParseJson<v1::GetStatusResponse>(Cli({"status", "-o", "json"}).out)
            .generation());
    return response;
  }

  std::string WriteFile(const std::string& name, const std::string& text) {
    std::string path = agent_->dir().path() + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  std::unique_ptr<AgentProcess> agent_;
};

TEST_F(XlbctlTest, StatusTellsTheAgentDataPlaneAndMaps) {
  CommandResult r = Cli({"status"});
  EXPECT_THAT(r.out, HasSubstr("attach mode:"));
  EXPECT_THAT(r.out, HasSubstr(agent_->interface()));
  EXPECT_THAT(r.out, HasSubstr("conns"));
  auto status =
      ParseJson<v1::GetStatusResponse>(Cli({"status", "-o", "json"}).out);
  EXPECT_EQ(status.interface(), agent_->interface());
  EXPECT_FALSE(status.maps().empty());
  EXPECT_GT(status.balancer_program_id(), 0u);
}

TEST_F(XlbctlTest, VersionShowsClientAndAgent) {
  CommandResult r = Cli({"version"});
  EXPECT_THAT(r.out, HasSubstr("xlbctl "));
  EXPECT_THAT(r.out, HasSubstr("xlbd "));
}

TEST_F(XlbctlTest, VipLifecycle) {
  Cli({"vip", "add", kVip, "-b", "198.51.100.1", "-b", "198.51.100.2", "--hash",
       "no-source-port", "--ring-size", "1021"});
  auto list =
      ParseJson<v1::ListVipsResponse>(Cli({"vip", "list", "-o", "json"}).out);
  ASSERT_EQ(list.vips_size(), 1);
  EXPECT_EQ(list.vips(0).key().address(), "192.0.2.10");
  EXPECT_EQ(list.vips(0).settings().hash_mode(), v1::HASH_MODE_NO_SOURCE_PORT);
  EXPECT_EQ(list.vips(0).backends_size(), 2);
  EXPECT_THAT(Cli({"vip", "list"}).out, HasSubstr("no-source-port"));

  Cli({"vip", "update", kVip, "--ring-size", "2039", "--echo-reply",
       "--syn-rate-limit", "20000"});
  auto shown = ParseJson<v1::GetVipResponse>(
      Cli({"vip", "show", kVip, "-o", "json"}).out);
  EXPECT_EQ(shown.vip().settings().ring_size(), 2039u);
  EXPECT_TRUE(shown.vip().settings().echo_reply());
  EXPECT_EQ(shown.vip().settings().syn_rate_limit(), 20000u);
  EXPECT_THAT(Cli({"vip", "show", kVip}).out,
              HasSubstr("syn limit:    20000/s"));
  // Untouched settings stay.
  EXPECT_EQ(shown.vip().settings().hash_mode(), v1::HASH_MODE_NO_SOURCE_PORT);
  EXPECT_THAT(Cli({"vip", "show", kVip}).out, HasSubstr("198.51.100.2"));

  Cli({"vip", "add", "[2001:db8::10]:53/udp"});
  Cli({"vip", "del", kVip});
  list =
      ParseJson<v1::ListVipsResponse>(Cli({"vip", "list", "-o", "json"}).out);
  ASSERT_EQ(list.vips_size(), 1);
  EXPECT_EQ(list.vips(0).key().address(), "2001:db8::10");
  CommandResult gone = Cli({"vip", "show", kVip}, kExitNotFound);
  EXPECT_THAT(gone.err, HasSubstr("192.0.2.10"));
}

TEST_F(XlbctlTest, BackendVerbsSendOneBatchAndShowState) {
  Cli({"vip", "add", kVip});
  uint64_t before = Config().generation();
  auto added = ParseJson<v1::UpdateBackendsResponse>(
      Cli({"backend", "add", kVip, "198.51.100.1", "198.51.100.2",
           "198.51.100.3", "--weight", "2", "-o", "json"})
          .out);
  EXPECT_EQ(added.generation(), before + 1) << "three adds, one transaction";

  Cli({"backend", "weight", kVip, "198.51.100.1", "--weight", "5"});
  Cli({"backend", "drain", kVip, "198.51.100.2"});
  auto all = ParseJson<google::protobuf::Struct>(
      Cli({"backend", "list", "-o", "json"}).out);
  ASSERT_EQ(all.fields().at("vips").list_value().values_size(), 1);
  auto status = ParseJson<v1::VipStatus>(
      Cli({"backend", "list", kVip, "-o", "json"}).out);
  ASSERT_EQ(status.backends_size(), 3);
  for (const auto& b : status.backends()) {
    if (b.address() == "198.51.100.1") EXPECT_EQ(b.weight(), 5u);
    if (b.address() == "198.51.100.2") {
      EXPECT_TRUE(b.drained());
      EXPECT_EQ(b.state(), v1::BACKEND_STATE_DRAINING);
    }
    if (b.address() == "198.51.100.3") EXPECT_EQ(b.weight(), 2u);
  }
  EXPECT_THAT(Cli({"backend", "list"}).out, HasSubstr("draining"));

  Cli({"backend", "undrain", kVip, "198.51.100.2"});
  Cli({"backend", "del", kVip, "198.51.100.1", "198.51.100.3"});
  auto vip = ParseJson<v1::GetVipResponse>(
      Cli({"vip", "show", kVip, "-o", "json"}).out);
  ASSERT_EQ(vip.vip().backends_size(), 1);
  EXPECT_EQ(vip.vip().backends(0).address(), "198.51.100.2");
  EXPECT_FALSE(vip.vip().backends(0).drained());
}

TEST_F(XlbctlTest, HealthSetShowAndRemove) {
  Cli({"vip", "add", kVip, "-b", "198.51.100.1"});
  Cli({"health", "set", kVip, "--type", "http", "--http-path", "/healthz",
       "--http-codes", "200,204", "--interval", "1s", "--timeout", "500ms",
       "--rise", "1", "--fall", "2"});
  auto vip = ParseJson<v1::GetVipResponse>(
      Cli({"vip", "show", kVip, "-o", "json"}).out);
  const v1::HealthCheck& hc = vip.vip().settings().health_check();
  EXPECT_EQ(hc.type(), v1::HEALTH_CHECK_TYPE_HTTP);
  EXPECT_EQ(hc.http_path(), "/healthz");
  EXPECT_EQ(hc.http_expected_codes_size(), 2);
  EXPECT_EQ(hc.interval().seconds(), 1);
  EXPECT_EQ(hc.timeout().nanos(), 500000000);
  EXPECT_EQ(hc.fall(), 2u);

  CommandResult shown = Cli({"health", "show", kVip});
  EXPECT_THAT(shown.out, HasSubstr("http /healthz every 1s"));
  EXPECT_THAT(shown.out, HasSubstr("198.51.100.1"));
  auto json = ParseJson<google::protobuf::Struct>(
      Cli({"health", "show", "-o", "json"}).out);
  EXPECT_EQ(json.fields().at("vips").list_value().values_size(), 1);
  auto one =
      ParseJson<v1::VipStatus>(Cli({"health", "show", kVip, "-o", "json"}).out);
  ASSERT_EQ(one.backends_size(), 1);
  EXPECT_EQ(one.backends(0).address(), "198.51.100.1");

  // One backend's own parameters, shown with the check and cleared again.
  Cli({"health", "override", kVip, "198.51.100.1", "--port", "8080",
       "--interval", "2s", "--fall", "5"});
  vip = ParseJson<v1::GetVipResponse>(
      Cli({"vip", "show", kVip, "-o", "json"}).out);
  const v1::HealthOverride& o = vip.vip().backends(0).health_override();
  EXPECT_EQ(o.port(), 8080u);
  EXPECT_EQ(o.interval().seconds(), 2);
  EXPECT_EQ(o.fall(), 5u);
  EXPECT_FALSE(o.has_rise());
  EXPECT_THAT(Cli({"health", "show", kVip}).out,
              HasSubstr("198.51.100.1: port 8080, interval 2s, fall 5"));
  // The agent checks it against the VIP's check: 500ms timeout > 100ms.
  CommandResult refused =
      Cli({"health", "override", kVip, "198.51.100.1", "--interval", "100ms"},
          kExitInvalid);
  EXPECT_THAT(refused.err, HasSubstr("health_override.interval: 100ms"));
  Cli({"health", "override", kVip, "198.51.100.1", "--clear"});
  vip = ParseJson<v1::GetVipResponse>(
      Cli({"vip", "show", kVip, "-o", "json"}).out);
  EXPECT_FALSE(vip.vip().backends(0).has_health_override());

  Cli({"health", "set", kVip, "--type", "https", "--https-verify"});
  vip = ParseJson<v1::GetVipResponse>(
      Cli({"vip", "show", kVip, "-o", "json"}).out);
  EXPECT_TRUE(vip.vip().settings().health_check().https_verify());
  EXPECT_THAT(Cli({"health", "show", kVip}).out, HasSubstr("(verified)"));

  Cli({"health", "set", kVip, "--none"});
  vip = ParseJson<v1::GetVipResponse>(
      Cli({"vip", "show", kVip, "-o", "json"}).out);
  EXPECT_FALSE(vip.vip().settings().has_health_check());
}

TEST_F(XlbctlTest, StatsPrintTotalsAndRates) {
  Cli({"vip", "add", kVip, "-b", "198.51.100.1"});
  std::string once = Cli({"stats", "--interval", "0", "-o", "json"}).out;
  auto stats = ParseJson<v1::GetStatsResponse>(Member(once, "stats"));
  ASSERT_EQ(stats.vips_size(), 1);
  EXPECT_EQ(stats.vips(0).key().port(), 80u);
  EXPECT_FALSE(stats.counters().empty());

  CommandResult watch = Cli({"stats", "--watch", "--interval", "200ms",
                             "--count", "2", "-o", "json"});
  std::vector<std::string> lines =
      absl::StrSplit(watch.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << watch.out;
  for (const auto& line : lines) {
    EXPECT_THAT(Member(line, "rates_per_second"), HasSubstr("counters"));
  }
  for (const char* rate :
       {"\"new_flows\"", "\"syns\"", "\"syn_limit_drops\""}) {
    EXPECT_THAT(Member(lines[1], "rates_per_second"), HasSubstr(rate));
  }
  CommandResult table = Cli({"stats", "--vip", kVip, "--interval", "100ms"});
  EXPECT_THAT(table.out, HasSubstr("PER-SECOND"));
  EXPECT_THAT(table.out, HasSubstr("SYNS/S"));
  EXPECT_THAT(table.out, HasSubstr("SYN-DROPS/S"));
  EXPECT_THAT(table.out, HasSubstr(kVip));
}

TEST_F(XlbctlTest, EventsFollowChangesAndResumeAfterAgentRestart) {
  pid_t watcher =
      agent_->Spawn({"events", "--count", "3", "-o", "json"}, "events");
  absl::SleepFor(absl::Milliseconds(500));  // let it subscribe
  Cli({"vip", "add", kVip});
  absl::SleepFor(absl::Milliseconds(300));
  agent_->Stop();
  ASSERT_TRUE(agent_->Start());
  absl::SleepFor(absl::Seconds(1));  // let the watcher reconnect
  Cli({"backend", "add", kVip, "198.51.100.1"});
  CommandResult r = agent_->Wait(watcher, "events", 30);
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_THAT(r.err, HasSubstr("reconnecting"));
  std::vector<std::string> lines =
      absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << r.out;
  auto first = ParseJson<v1::Event>(lines[0]);
  EXPECT_EQ(first.config_changed().method(), "CreateVip");
  // The new agent run cannot replay the old run's events: it says so.
  EXPECT_TRUE(ParseJson<v1::Event>(lines[1]).has_events_lost()) << r.out;
  EXPECT_EQ(ParseJson<v1::Event>(lines[2]).config_changed().method(),
            "UpdateBackends");
}

TEST_F(XlbctlTest, ConfigGetThenApplyLeavesStateIdentical) {
  Cli({"vip", "add", kVip, "-b", "198.51.100.1", "-b", "2001:db8::1",
       "--ring-size", "1021", "--echo-reply", "--syn-rate-limit", "5000"});
  Cli({"backend", "drain", kVip, "2001:db8::1"});
  Cli({"health", "set", kVip, "--type", "tcp", "--interval", "2s"});
  Cli({"vip", "add", "192.0.2.11:0/udp", "--hash", "no-source-port"});
  v1::GetConfigResponse original = Config();

  for (const char* name : {"lb.yaml", "lb.json"}) {
    std::string path = agent_->dir().path() + "/" + name;
    Cli({"config", "get", "-f", path});
    CommandResult same = Cli({"config", "apply", "-f", path});
    EXPECT_THAT(same.out, HasSubstr("no changes"));
    // Wipe, then restore from the file.
    Cli({"config", "apply", "-f", WriteFile("empty.yaml", "vips: []\n")});
    EXPECT_EQ(Config().config().vips_size(), 0);
    CommandResult restored = Cli({"config", "apply", "-f", path});
    EXPECT_THAT(restored.out, HasSubstr("+ vip 192.0.2.10:80/tcp"));
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
        Config().config(), original.config()))
        << name;
  }
}

TEST_F(XlbctlTest, ConfigGetWritesAnOwnerOnlyFileWhateverTheUmask) {
  Cli({"vip", "add", kVip, "-b", "198.51.100.1"});
  const std::string dir = agent_->dir().path();
  const std::string path = dir + "/lb.yaml";
  // A link planted where a fixed temporary name would be is not followed.
  const std::string victim = WriteFile("victim", "untouched\n");
  ASSERT_EQ(symlink(victim.c_str(), (path + ".tmp").c_str()), 0);
  const mode_t old_umask = umask(0);
  Cli({"config", "get", "-f", path});
  umask(old_umask);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_THAT(ReadFileText(path), HasSubstr("192.0.2.10"));
  EXPECT_EQ(ReadFileText(victim), "untouched\n");
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    EXPECT_TRUE(name == "lb.yaml" || name == "lb.yaml.tmp" ||
                name.rfind("lb.yaml.", 0) != 0)
        << "temporary left behind: " << name;
  }
}

TEST_F(XlbctlTest, ConfigApplyPreviewsAndDryRunChangesNothing) {
  Cli({"vip", "add", kVip, "-b", "198.51.100.1"});
  uint64_t generation = Config().generation();
  std::string path = WriteFile("new.yaml", R"(
vips:
  - key: {address: 192.0.2.10, port: 80, protocol: PROTOCOL_TCP}
    settings: {ring_size: 4093}
    backends:
      - {address: 198.51.100.1, weight: 3}
      - {address: 198.51.100.2}
)");
  CommandResult dry = Cli({"config", "apply", "-f", path, "--dry-run"});
  EXPECT_THAT(dry.out, HasSubstr("~ vip 192.0.2.10:80/tcp"));
  EXPECT_THAT(dry.out, HasSubstr("settings.ring_size: 65537 -> 4093"));
  EXPECT_THAT(dry.out, HasSubstr("+ backend 198.51.100.2"));
  EXPECT_THAT(dry.out, HasSubstr("weight: 1 -> 3"));
  EXPECT_EQ(Config().generation(), generation);

  auto applied = ParseJson<google::protobuf::Struct>(
      Cli({"config", "apply", "-f", path, "-o", "json"}).out);
  EXPECT_TRUE(applied.fields().at("applied").bool_value());
  auto vip = ParseJson<v1::GetVipResponse>(
      Cli({"vip", "show", kVip, "-o", "json"}).out);
  EXPECT_EQ(vip.vip().settings().ring_size(), 4093u);
  EXPECT_EQ(vip.vip().backends_size(), 2);
}

TEST_F(XlbctlTest, ConfigApplyOfOneVipLeavesTheOthers) {
  Cli({"vip", "add", kVip});
  std::string path = WriteFile("web.json", R"({
  "key": {"address": "192.0.2.20", "port": 443, "protocol": "PROTOCOL_TCP"},
  "backends": [{"address": "198.51.100.7"}]
})");
  Cli({"config", "apply", "-f", path});
  EXPECT_EQ(Config().config().vips_size(), 2);
  // config get --vip writes a file config apply takes back.
  std::string one = agent_->dir().path() + "/one.yaml";
  Cli({"config", "get", "--vip", "192.0.2.20:443/tcp", "-f", one});
  EXPECT_THAT(Cli({"config", "apply", "-f", one}).out, HasSubstr("no changes"));
}

TEST_F(XlbctlTest, ConfigApplyRefusesAStaleGeneration) {
  Cli({"vip", "add", kVip});
  uint64_t stale = Config().generation();
  Cli({"backend", "add", kVip, "198.51.100.1"});
  std::string path = WriteFile("empty.yaml", "vips: []\n");
  CommandResult r = Cli(
      {"config", "apply", "-f", path, "--generation", std::to_string(stale)},
      kExitFailure);
  EXPECT_THAT(r.err, HasSubstr("generation"));
  EXPECT_EQ(Config().config().vips_size(), 1) << "nothing applied";
}

// Without --bgp-api the agent announces nothing, but the drain is still
// recorded and every view says so.
TEST_F(XlbctlTest, BgpStatusAndHostDrainWithoutBgp) {
  Cli({"vip", "add", kVip, "-b", "198.51.100.1", "--announce-min-healthy",
       "0"});
  auto vip = ParseJson<v1::GetVipResponse>(
      Cli({"vip", "show", kVip, "-o", "json"}).out);
  EXPECT_EQ(vip.vip().settings().announce_min_healthy(), 0u);
  EXPECT_THAT(Cli({"vip", "show", kVip}).out,
              HasSubstr("announce min: 0 healthy backends (BGP)"));

  EXPECT_EQ(Cli({"host", "drain"}).out, "host drained: VIP routes withdrawn\n");
  EXPECT_EQ(Cli({"host", "drain"}).out, "host already drained\n");
  EXPECT_EQ(Cli({"bgp", "status"}).out,
            "bgp: not configured (xlbd --bgp-api); host drained: yes\n");
  EXPECT_THAT(Cli({"status"}).out,
              HasSubstr("bgp: not configured (xlbd --bgp-api)"));
  auto bgp = ParseJson<v1::BgpStatus>(Cli({"bgp", "status", "-o", "json"}).out);
  EXPECT_FALSE(bgp.configured());
  EXPECT_TRUE(bgp.host_drained());
  EXPECT_EQ(Cli({"host", "undrain"}).out,
            "host undrained: qualifying VIPs announced\n");

  CommandResult r = Cli(
      {"vip", "update", kVip, "--announce-min-healthy", "70000"}, kExitInvalid);
  EXPECT_THAT(r.err, HasSubstr("settings.announce_min_healthy: 70000"));
}

TEST_F(XlbctlTest, ErrorsCarryTheServersMessageAndExitCode) {
  // Unknown VIP.
  CommandResult r = Cli({"backend", "add", "192.0.2.99:80/tcp", "198.51.100.1"},
                        kExitNotFound);
  EXPECT_THAT(r.err, HasSubstr("xlbctl: "));
  Cli({"vip", "del", "192.0.2.99:80/tcp"}, kExitNotFound);
  Cli({"health", "set", "192.0.2.99:80/tcp", "--type", "tcp"}, kExitNotFound);
  Cli({"stats", "--vip", "192.0.2.99:80/tcp", "--interval", "0"},
      kExitNotFound);
  // Unknown backend.
  Cli({"vip", "add", kVip, "-b", "198.51.100.1"});
  Cli({"backend", "del", kVip, "198.51.100.9"}, kExitNotFound);
  // Invalid values, refused by the agent with the field named.
  r = Cli({"backend", "weight", kVip, "198.51.100.1", "--weight", "70000"},
          kExitInvalid);
  EXPECT_THAT(r.err, HasSubstr("70000"));
  Cli({"vip", "update", kVip, "--ring-size", "1000"}, kExitInvalid);
  r = Cli({"vip", "update", kVip, "--syn-rate-limit", "100000001"},
          kExitInvalid);
  EXPECT_THAT(r.err, HasSubstr("syn_rate_limit: 100000001 exceeds"));
  // Invalid values, refused by xlbctl.
  Cli({"vip", "add", "192.0.2.10:99999/tcp"}, kExitInvalid);
  Cli({"health", "set", kVip, "--type", "tcp", "--interval", "soon"},
      kExitInvalid);
  r = Cli(
      {"config", "apply", "-f", WriteFile("bad.yaml", "vips: [{nope: 1}]\n")},
      kExitInvalid);
  EXPECT_THAT(r.err, HasSubstr("bad.yaml"));
  // Exists already: a failure without a code of its own.
  Cli({"vip", "add", kVip}, kExitFailure);
  // Usage.
  Cli({"vip", "frobnicate"}, kExitUsage);
  // Bad server address.
  r = Cli({"--server", "nowhere", "status"}, kExitInvalid);
  EXPECT_THAT(r.err, HasSubstr("--server"));
  // Agent down.
  agent_->Stop();
  r = Cli({"--timeout", "2s", "vip", "list"}, kExitUnavailable);
  EXPECT_THAT(r.err,
              HasSubstr("cannot reach xlbd at unix:" + agent_->socket()));
  Cli({"--timeout", "2s", "events"}, kExitUnavailable);
  Cli({"--timeout", "2s", "version"}, kExitUnavailable);
}

// Two real agents, each in its own namespace, driven by one xlbctl with
// --server given twice: what an orchestrator of an ECMP group does.
class XlbctlAgentsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    xlb::testing::RequirePrivilege();
    if (IsSkipped() || HasFatalFailure()) return;
    a_ = std::make_unique<AgentProcess>(XLBD_BINARY, XLBCTL_BINARY);
    b_ = std::make_unique<AgentProcess>(XLBD_BINARY, XLBCTL_BINARY);
  }

  std::string ServerA() const { return "unix:" + a_->socket(); }
  std::string ServerB() const { return "unix:" + b_->socket(); }

  // xlbctl with both agents' sockets; fails the test unless it exits with
  // `expected_code`.
  CommandResult Both(std::vector<std::string> args, int expected_code) {
    args.insert(args.begin(), {"-s", ServerA(), "-s", ServerB()});
    CommandResult r = a_->Run(args);
    EXPECT_EQ(r.exit_code, expected_code)
        << "xlbctl " << absl::StrJoin(args, " ") << "\nstdout:\n"
        << r.out << "stderr:\n"
        << r.err;
    return r;
  }

  static v1::GetStatusResponse Status(const AgentProcess& agent) {
    CommandResult r = agent.Run({"status", "-o", "json"});
    EXPECT_EQ(r.exit_code, kExitOk) << r.err;
    return ParseJson<v1::GetStatusResponse>(r.out);
  }

  std::string WriteConfig(const std::string& text) {
    std::string path = a_->dir().path() + "/lb.yaml";
    std::ofstream(path) << text;
    return path;
  }

  std::unique_ptr<AgentProcess> a_;
  std::unique_ptr<AgentProcess> b_;
};

constexpr char kTwoVips[] = R"(
vips:
  - key: {address: 192.0.2.10, port: 80, protocol: PROTOCOL_TCP}
    settings: {ring_size: 1021}
    backends:
      - {address: 198.51.100.1}
      - {address: 198.51.100.2, weight: 2}
      - {address: 2001:db8::1}
  - key: {address: 192.0.2.11, port: 0, protocol: PROTOCOL_UDP}
    settings: {hash_mode: HASH_MODE_NO_SOURCE_PORT}
    backends:
      - {address: 198.51.100.3}
)";

TEST_F(XlbctlAgentsTest, ApplyToTwoAgentsReportsEachAndTheyAgree) {
  ASSERT_TRUE(a_->Start() && b_->Start());
  // Agent A has a history B lacks: its backends get other indexes.
  ASSERT_EQ(a_->Run({"vip", "add", "192.0.2.99:80/tcp", "-b", "198.51.100.9"})
                .exit_code,
            kExitOk);
  const std::string file = WriteConfig(kTwoVips);
  CommandResult r = Both({"config", "apply", "-f", file}, kExitOk);
  EXPECT_THAT(r.out, HasSubstr(ServerA() + ": changes from generation 1"));
  EXPECT_THAT(r.out, HasSubstr(ServerB() + ": changes from generation 0"));
  EXPECT_THAT(r.out, HasSubstr("- vip 192.0.2.99:80/tcp"));
  EXPECT_THAT(r.out, HasSubstr(ServerA() + ": applied (generation 2)"));
  EXPECT_THAT(r.out, HasSubstr(ServerB() + ": applied (generation 1)"));
  EXPECT_THAT(r.out, HasSubstr("all 2 agents agree on every VIP's ring"));

  const v1::GetStatusResponse a = Status(*a_);
  const v1::GetStatusResponse b = Status(*b_);
  ASSERT_EQ(a.vips_size(), 2);
  ASSERT_EQ(b.vips_size(), 2);
  for (int i = 0; i < 2; ++i) {
    EXPECT_THAT(a.vips(i).ring_digest(),
                ::testing::MatchesRegex("[0-9a-f]{16}"));
    EXPECT_EQ(a.vips(i).ring_digest(), b.vips(i).ring_digest());
    EXPECT_THAT(r.out, HasSubstr(a.vips(i).ring_digest()));
  }
  EXPECT_NE(a.vips(0).backends(0).index(), b.vips(0).backends(0).index())
      << "the agents number backends differently, yet agree";
  EXPECT_NE(a.vips(0).ring_digest(), a.vips(1).ring_digest());
  // The digests are in the single-agent views too.
  EXPECT_THAT(a_->Run({"status"}).out, HasSubstr(a.vips(0).ring_digest()));
  EXPECT_THAT(a_->Run({"vip", "show", kVip}).out,
              HasSubstr("ring digest:  " + a.vips(0).ring_digest()));
  auto shown = ParseJson<v1::GetVipResponse>(
      a_->Run({"vip", "show", kVip, "-o", "json"}).out);
  EXPECT_EQ(shown.ring_digest(), a.vips(0).ring_digest());

  // Side by side; JSON names each agent's digest.
  r = Both({"status"}, kExitOk);
  EXPECT_THAT(r.out, HasSubstr("all 2 agents agree"));
  auto json = ParseJson<google::protobuf::Struct>(
      Both({"status", "-o", "json"}, kExitOk).out);
  EXPECT_TRUE(json.fields().at("agree").bool_value());
  EXPECT_EQ(json.fields().at("agents").list_value().values_size(), 2);
  const auto& web = json.fields().at("vips").list_value().values(0);
  EXPECT_EQ(web.struct_value()
                .fields()
                .at("ring_digests")
                .struct_value()
                .fields()
                .at(ServerB())
                .string_value(),
            a.vips(0).ring_digest());

  // Applying again changes nothing and still compares.
  r = Both({"config", "apply", "-f", file, "-o", "json"}, kExitOk);
  json = ParseJson<google::protobuf::Struct>(r.out);
  EXPECT_TRUE(json.fields().at("agree").bool_value());
  for (const auto& agent : json.fields().at("agents").list_value().values()) {
    EXPECT_FALSE(agent.struct_value().fields().at("applied").bool_value());
  }
}

TEST_F(XlbctlAgentsTest, DryRunAcrossAgentsPreviewsEachAndChangesNothing) {
  ASSERT_TRUE(a_->Start() && b_->Start());
  ASSERT_EQ(b_->Run({"vip", "add", kVip, "-b", "198.51.100.1"}).exit_code,
            kExitOk);
  CommandResult r = Both(
      {"config", "apply", "-f", WriteConfig(kTwoVips), "--dry-run"}, kExitOk);
  EXPECT_THAT(r.out, HasSubstr(ServerA() + ": changes from generation 0 (2 "
                                           "to create, 0 to change"));
  EXPECT_THAT(r.out, HasSubstr(ServerB() + ": changes from generation 1 (1 "
                                           "to create, 1 to change"));
  EXPECT_THAT(r.out, HasSubstr("dry run: nothing changed"));
  EXPECT_EQ(Status(*a_).generation(), 0u);
  EXPECT_EQ(Status(*a_).vips_size(), 0);
  EXPECT_EQ(Status(*b_).generation(), 1u);
}

TEST_F(XlbctlAgentsTest, AnotherHashSeedFailsTheApplyNamingVipsAndAgents) {
  b_->AddAgentFlags({"--hash_seed=7"});
  ASSERT_TRUE(a_->Start() && b_->Start());
  CommandResult r =
      Both({"config", "apply", "-f", WriteConfig(kTwoVips)}, kExitDisagree);
  // Both took the file; their rings just send flows elsewhere.
  EXPECT_THAT(r.out, HasSubstr(ServerA() + ": applied (generation 1)"));
  EXPECT_THAT(r.out, HasSubstr(ServerB() + ": applied (generation 1)"));
  EXPECT_EQ(Status(*b_).vips_size(), 2);
  const std::string a = Status(*a_).vips(0).ring_digest();
  const std::string b = Status(*b_).vips(0).ring_digest();
  EXPECT_NE(a, b);
  EXPECT_THAT(r.out, HasSubstr("NO"));
  EXPECT_THAT(r.err, HasSubstr("agents disagree after the apply on 2 VIPs"));
  EXPECT_THAT(r.err,
              HasSubstr(absl::StrCat("192.0.2.10:80/tcp (", ServerA(), " ", a,
                                     ", ", ServerB(), " ", b, ")")));
  EXPECT_THAT(r.err, HasSubstr("192.0.2.11:0/udp"));
  EXPECT_THAT(r.err, HasSubstr("--hash-seed"));
  r = Both({"status"}, kExitDisagree);
  EXPECT_THAT(r.err, HasSubstr("agents disagree now on 2 VIPs"));
}

TEST_F(XlbctlAgentsTest, ADriftedAgentDisagreesUntilTheFileIsAppliedAgain) {
  ASSERT_TRUE(a_->Start() && b_->Start());
  const std::string file = WriteConfig(kTwoVips);
  Both({"config", "apply", "-f", file}, kExitOk);
  const std::string agreed = Status(*a_).vips(0).ring_digest();
  // Someone changes one agent by hand: a weight on B only.
  ASSERT_EQ(
      b_->Run({"backend", "weight", kVip, "198.51.100.2", "-w", "5"}).exit_code,
      kExitOk);
  const std::string drifted = Status(*b_).vips(0).ring_digest();
  EXPECT_NE(drifted, agreed);
  EXPECT_EQ(Status(*b_).vips(1).ring_digest(),
            Status(*a_).vips(1).ring_digest())
      << "the other VIP did not change";
  CommandResult r = Both({"status"}, kExitDisagree);
  EXPECT_THAT(r.err, HasSubstr("agents disagree now on 1 VIP: "));
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat("192.0.2.10:80/tcp (", ServerA(),
                                            " ", agreed, ", ", ServerB(), " ",
                                            drifted, ")")));
  EXPECT_THAT(r.err, Not(HasSubstr("192.0.2.11")));
  auto json = ParseJson<google::protobuf::Struct>(
      Both({"status", "-o", "json"}, kExitDisagree).out);
  EXPECT_FALSE(json.fields().at("agree").bool_value());

  // The same file again: A has nothing to change, B gets its weight back,
  // and both agree on the digest they had.
  r = Both({"config", "apply", "-f", file}, kExitOk);
  EXPECT_THAT(r.out, HasSubstr(ServerA() + ": no changes"));
  EXPECT_THAT(r.out, HasSubstr(ServerB() + ": applied"));
  EXPECT_THAT(r.out, HasSubstr("all 2 agents agree on every VIP's ring"));
  EXPECT_EQ(Status(*b_).vips(0).ring_digest(), agreed);
}

TEST_F(XlbctlAgentsTest, BackendHealthSeenDifferentlyIsADisagreement) {
  // Agent A serves /metrics on its own address; B has nothing there. A
  // check of that address sees the backend up on A and down on B.
  for (AgentProcess* agent : {a_.get(), b_.get()}) {
    agent->AddAgentFlags({"--health_probe_mode=direct"});
  }
  a_->AddAgentFlags({"--metrics_address=198.51.100.10:9470"});
  ASSERT_TRUE(a_->Start() && b_->Start());
  const std::string file = WriteConfig(R"(
vips:
  - key: {address: 192.0.2.10, port: 80, protocol: PROTOCOL_TCP}
    settings:
      health_check: {type: HEALTH_CHECK_TYPE_HTTP, port: 9470,
                     http_path: /metrics, interval: 0.2s, timeout: 0.1s,
                     rise: 1, fall: 1}
    backends:
      - {address: 198.51.100.10}
)");
  // Both start with the backend down (no ring, so they agree) unless A's
  // first probe passed before xlbctl read the digests back: 0 or 6.
  CommandResult applied = a_->Run(
      {"-s", ServerA(), "-s", ServerB(), "config", "apply", "-f", file});
  EXPECT_THAT(applied.exit_code, ::testing::AnyOf(kExitOk, kExitDisagree))
      << applied.err;
  EXPECT_EQ(Status(*b_).vips_size(), 1) << "applied to both either way";
  // Bounded wait for A's first probes (B's fail: connection refused).
  bool up = false;
  for (int i = 0; i < 150 && !up; ++i) {
    up = Status(*a_).vips(0).has_ring();
    if (!up) absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_TRUE(up) << a_->Log();
  EXPECT_FALSE(Status(*b_).vips(0).has_ring());
  const std::string a = Status(*a_).vips(0).ring_digest();
  CommandResult r = Both({"status"}, kExitDisagree);
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat("192.0.2.10:80/tcp (", ServerA(),
                                            " ", a, ", ", ServerB(), " -)")));
  // An apply that changes nothing still compares, and fails loudly.
  r = Both({"config", "apply", "-f", file}, kExitDisagree);
  EXPECT_THAT(r.out, HasSubstr(ServerA() + ": no changes"));
  EXPECT_THAT(r.err, HasSubstr("agents disagree after the apply on 1 VIP"));
  // A's event for the transition says the ring moved, and to what.
  CommandResult events =
      a_->Run({"events", "--from-start", "--count", "2", "-o", "json"});
  std::vector<std::string> lines =
      absl::StrSplit(events.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << events.out << events.err;
  const v1::HealthChanged health =
      ParseJson<v1::Event>(lines[1]).health_changed();
  EXPECT_TRUE(health.healthy());
  EXPECT_TRUE(health.ring_changed());
  EXPECT_EQ(health.ring_digest(), a);
}

TEST_F(XlbctlAgentsTest, OnlyTheVerbsThatCompareTakeSeveralServers) {
  ASSERT_TRUE(a_->Start() && b_->Start());
  CommandResult r = Both({"vip", "list"}, kExitInvalid);
  EXPECT_THAT(r.err, HasSubstr("--server: given 2 times"));
  r = Both(
      {"config", "apply", "-f", WriteConfig(kTwoVips), "--generation", "0"},
      kExitInvalid);
  EXPECT_THAT(r.err, HasSubstr("--generation"));
  EXPECT_EQ(Status(*a_).vips_size(), 0) << "nothing applied";
  // A comma-separated value (as XLB_SERVER takes) works as repeating
  // --server.
  r = a_->Run({"--server", ServerA() + "," + ServerB(), "status"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr(ServerB()));
  // One agent down: the others are still shown, the exit code says why.
  b_->Stop();
  r = Both({"--timeout", "2s", "status"}, kExitUnavailable);
  EXPECT_THAT(r.out, HasSubstr("unreachable"));
  EXPECT_THAT(r.err, HasSubstr(ServerB()));
  r = Both({"--timeout", "2s", "config", "apply", "-f", WriteConfig(kTwoVips)},
           kExitUnavailable);
  EXPECT_THAT(r.err, HasSubstr("nothing was applied to any agent"));
  EXPECT_EQ(Status(*a_).vips_size(), 0);
}

// TLS and mutual TLS on xlbd's TCP listener, with certificates made here by
// the openssl CLI: a CA that signed the server's and a client's
// certificates, and a second CA nobody trusts.
class XlbctlTlsTest : public XlbctlTest {
 protected:
  void SetUp() override {
    xlb::testing::RequirePrivilege();
    if (IsSkipped() || HasFatalFailure()) return;
    agent_ = std::make_unique<AgentProcess>(XLBD_BINARY, XLBCTL_BINARY);
    dir_ = agent_->dir().path();
    ASSERT_TRUE(MakeCa("ca") && MakeCa("other") &&
                MakeCert("server", "ca", "subjectAltName=IP:127.0.0.1") &&
                MakeCert("client", "ca", "basicConstraints=CA:FALSE") &&
                MakeCert("stranger", "other", "basicConstraints=CA:FALSE"))
        << "openssl could not make the test certificates";
    agent_->AddAgentFlags({absl::StrCat("--listen_tcp=", kTcp),
                           "--tls_cert=" + Path("server.pem"),
                           "--tls_key=" + Path("server.key"),
                           "--tls_client_ca=" + Path("ca.pem")});
    ASSERT_TRUE(agent_->Start());
  }

  std::string Path(const std::string& name) { return dir_ + "/" + name; }
  bool Sh(const std::string& command) {
    return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
  }
  bool MakeCa(const std::string& name) {
    return Sh(absl::StrCat(
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=", name,
        " -keyout ", Path(name + ".key"), " -out ", Path(name + ".pem")));
  }
  bool MakeCert(const std::string& name, const std::string& ca,
                const std::string& extension) {
    std::ofstream(Path(name + ".ext")) << extension << "\n";
    return Sh(absl::StrCat("openssl req -newkey rsa:2048 -nodes -subj /CN=",
                           name, " -keyout ", Path(name + ".key"), " -out ",
                           Path(name + ".csr"))) &&
           Sh(absl::StrCat("openssl x509 -req -days 1 -in ",
                           Path(name + ".csr"), " -CA ", Path(ca + ".pem"),
                           " -CAkey ", Path(ca + ".key"),
                           " -CAcreateserial -out ", Path(name + ".pem"),
                           " -extfile ", Path(name + ".ext")));
  }
  // xlbctl over TCP from inside the agent's namespace.
  CommandResult Tcp(std::vector<std::string> args) {
    args.insert(args.begin(), {"--server", kTcp, "--timeout", "3s"});
    return agent_->Run(args, "", /*in_namespace=*/true);
  }

  static constexpr char kTcp[] = "127.0.0.1:50443";
  std::string dir_;
};

TEST_F(XlbctlTlsTest, MutualTlsWithTheRightCertificatesWorks) {
  CommandResult r = Tcp({"--ca", Path("ca.pem"), "--cert", Path("client.pem"),
                         "--key", Path("client.key"), "vip", "add", kVip});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
  // The same state as over the Unix socket.
  EXPECT_EQ(Config().config().vips_size(), 1);
}

TEST_F(XlbctlTlsTest, WrongOrMissingCertificatesAreUnavailable) {
  // No client certificate: the server refuses the handshake.
  CommandResult r = Tcp({"--ca", Path("ca.pem"), "status"});
  EXPECT_EQ(r.exit_code, kExitUnavailable) << r.err;
  EXPECT_THAT(r.err, HasSubstr("cannot reach xlbd at 127.0.0.1:50443"));
  // A client certificate from a CA the server does not trust.
  r = Tcp({"--ca", Path("ca.pem"), "--cert", Path("stranger.pem"), "--key",
           Path("stranger.key"), "status"});
  EXPECT_EQ(r.exit_code, kExitUnavailable) << r.err;
  // A server certificate from a CA the client does not trust.
  r = Tcp({"--ca", Path("other.pem"), "--cert", Path("client.pem"), "--key",
           Path("client.key"), "status"});
  EXPECT_EQ(r.exit_code, kExitUnavailable) << r.err;
  // A certificate without its key is a usage mistake caught locally.
  r = Tcp({"--ca", Path("ca.pem"), "--cert", Path("client.pem"), "status"});
  EXPECT_EQ(r.exit_code, kExitInvalid) << r.err;
}

}  // namespace
}  // namespace xlb::xlbctl
