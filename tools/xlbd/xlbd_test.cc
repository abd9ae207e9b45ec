// xlbd end to end against the real data plane: the real binary, run in a
// network namespace with a veth, driven over its real Unix socket. After
// each call the pinned maps are read back; restarts (SIGTERM and SIGKILL)
// must adopt what is pinned, keep traffic attached, and converge to the last
// acknowledged state; a corrupt state file must stop the agent.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "lb/agent/testing/requests.h"
#include "lb/bgp/testing/gobgpd.h"
#include "lb/dataplane/dataplane.h"
#include "lb/model/model_config.h"
#include "lb/testing/netns.h"
#include "lb/testing/privilege.h"
#include "xlb/v1/xlb.grpc.pb.h"

extern char** environ;

namespace xlb {
namespace {

using ::testing::HasSubstr;
using namespace xlb::agent::testing;  // NOLINT: request builders

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class XlbdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    xlb::testing::RequirePrivilege();
    if (IsSkipped() || HasFatalFailure()) return;
    static int counter = 0;
    const std::string id = absl::StrCat(getpid(), "-", counter++);
    pin_dir_ = absl::StrCat("/sys/fs/bpf/xlbt-xlbd-", id);
    char dir_template[] = "/tmp/xlbd-test-XXXXXX";
    dir_ = mkdtemp(dir_template);
    socket_path_ = dir_ + "/xlbd.sock";
    state_path_ = dir_ + "/state";
    ns_ = std::make_unique<xlb::testing::ScopedNetns>();
    ASSERT_TRUE(ns_->ok());
    ASSERT_TRUE(ns_->Exec("ip link set lo up"));
    ASSERT_TRUE(ns_->Exec("ip link add xlb0 type veth peer name xlb1"));
    ASSERT_TRUE(ns_->Exec("ip link set xlb0 up"));
    ASSERT_TRUE(ns_->Exec("ip link set xlb1 up"));
    ASSERT_TRUE(ns_->Exec("ip addr add 10.9.0.1/24 dev xlb0"));
    metrics_port_ = 20000 + getpid() % 20000;
  }

  void TearDown() override {
    Kill(SIGKILL);
    if (ns_ && ns_->ok()) {
      xlb::testing::ScopedNetns::Enter enter(*ns_);
      (void)Dataplane::Remove(pin_dir_, "xlb0");
    }
    std::error_code ignored;
    std::filesystem::remove_all(pin_dir_, ignored);
    ns_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }

  const std::string& socket_path() const { return socket_path_; }
  const std::string& state_path() const { return state_path_; }
  std::string log_path() const { return dir_ + "/xlbd.log"; }

  // Starts xlbd in the namespace; returns its pid (0 on spawn failure).
  pid_t Spawn(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        "/usr/bin/nsenter",
        absl::StrCat("--net=/run/netns/", ns_->name()),
        XLBD_PATH,
        "--interface=xlb0",
        "--attach-mode=native",
        absl::StrCat("--bpffs-dir=", pin_dir_),
        absl::StrCat("--state-file=", state_path()),
        absl::StrCat("--listen-unix=", socket_path()),
        absl::StrCat("--metrics-address=127.0.0.1:", metrics_port_),
        "--source-v4=10.9.0.1/32",
        "--gateway-mac=02:00:00:00:00:01",
        "--max-vips=16",
        "--max-backends=64",
        "--max-conns=4096"};
    for (auto& e : extra) args.push_back(e);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, log_path().c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    pid_t pid = 0;
    int rc =
        posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    EXPECT_EQ(rc, 0);
    return rc == 0 ? pid : 0;
  }

  // Starts xlbd and waits until it answers.
  void Start() {
    pid_ = Spawn(extra_args_);
    ASSERT_NE(pid_, 0);
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = 0;
        FAIL() << "xlbd exited at start:\n" << ReadFile(log_path());
      }
      // A fresh channel per attempt: a refused connect would otherwise put
      // the channel into reconnect backoff.
      channel_ = grpc::CreateChannel(absl::StrCat("unix:", socket_path()),
                                     grpc::InsecureChannelCredentials());
      stub_ = v1::LoadBalancer::NewStub(channel_);
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() +
                           std::chrono::milliseconds(200));
      v1::GetConfigResponse response;
      if (stub_->GetConfig(&context, {}, &response).ok()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL() << "xlbd did not answer:\n" << ReadFile(log_path());
  }

  // Signals xlbd (by the pid this test started) and reaps it.
  int Kill(int signal) {
    if (pid_ == 0) return -1;
    kill(pid_, signal);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = 0;
    stub_.reset();
    channel_.reset();
    return status;
  }

  // A reader of the pinned maps (same sizes as xlbd's).
  std::unique_ptr<Dataplane> Maps() {
    auto dp = Dataplane::Load(
        DataplaneOptions{.limits = {.max_vips = 16,
                                    .max_backends = 64,
                                    .max_ring_size = XLB_MAX_RING_SIZE,
                                    .max_conns = 4096},
                         .pin_dir = pin_dir_});
    EXPECT_TRUE(dp.ok()) << dp.status();
    return dp.ok() ? *std::move(dp) : nullptr;
  }

  // The inner map id holding VIP `index`'s ring (changes when rebuilt).
  uint32_t RingMapId(uint32_t index) {
    int fd = bpf_obj_get((pin_dir_ + "/rings").c_str());
    uint32_t id = 0;
    if (fd >= 0) {
      bpf_map_lookup_elem(fd, &index, &id);
      close(fd);
    }
    return id;
  }

  bool XdpAttached() {
    std::string out = dir_ + "/link.txt";
    ns_->Exec("ip link show dev xlb0 > " + out);
    return ReadFile(out).find("xdp") != std::string::npos;
  }

  grpc::Status Create(const v1::Vip& vip) {
    grpc::ClientContext context;
    v1::CreateVipRequest request;
    *request.mutable_vip() = vip;
    v1::CreateVipResponse response;
    return stub_->CreateVip(&context, request, &response);
  }
  grpc::Status Backends(std::vector<v1::BackendChange> changes,
                        uint64_t* generation = nullptr) {
    grpc::ClientContext context;
    v1::UpdateBackendsRequest request;
    for (auto& c : changes) *request.add_changes() = c;
    v1::UpdateBackendsResponse response;
    grpc::Status status = stub_->UpdateBackends(&context, request, &response);
    if (generation) *generation = response.generation();
    return status;
  }
  v1::GetConfigResponse Config() {
    grpc::ClientContext context;
    v1::GetConfigResponse response;
    EXPECT_TRUE(stub_->GetConfig(&context, {}, &response).ok());
    return response;
  }
  v1::GetStatusResponse Status() {
    grpc::ClientContext context;
    v1::GetStatusResponse response;
    EXPECT_TRUE(stub_->GetStatus(&context, {}, &response).ok());
    return response;
  }

  std::map<uint32_t, xlb_backend> LiveBackends(Dataplane& dp) {
    std::map<uint32_t, xlb_backend> live;
    for (uint32_t i = 1; i < 64; ++i) {
      auto b = dp.GetBackend(i);
      if (b.ok() && b->state != XLB_BACKEND_UNUSED) live[i] = *b;
    }
    return live;
  }

  // GET /metrics from inside the namespace: the response, headers included.
  std::string Metrics() {
    std::string body;
    xlb::testing::ScopedNetns::Enter enter(*ns_);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{.sin_family = AF_INET,
                     .sin_port = htons(static_cast<uint16_t>(metrics_port_))};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    const std::string request =
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    EXPECT_EQ(write(fd, request.data(), request.size()),
              static_cast<ssize_t>(request.size()));
    char buffer[4096];
    ssize_t n;
    while ((n = read(fd, buffer, sizeof(buffer))) > 0) body.append(buffer, n);
    close(fd);
    return body;
  }

  const v1::VipKey web_ = Key("192.0.2.1", 80);
  std::unique_ptr<xlb::testing::ScopedNetns> ns_;
  std::string pin_dir_;
  std::string dir_;
  std::string socket_path_;
  std::string state_path_;
  int metrics_port_ = 0;
  std::vector<std::string> extra_args_;  // Start()'s flags beyond Spawn's
  pid_t pid_ = 0;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::LoadBalancer::Stub> stub_;
};

xlb_vip_key AbiKey(const char* address, uint16_t port, uint8_t proto) {
  xlb_vip_key key{};
  IpAddress a = *IpAddress::Parse(address);
  a.ToAbi(key.addr);
  key.port = htons(port);
  key.proto = proto;
  key.family = a.family();
  return key;
}

TEST_F(XlbdTest, EachCallReachesTheMaps) {
  ASSERT_NO_FATAL_FAILURE(Start());
  EXPECT_TRUE(XdpAttached());
  ASSERT_TRUE(Create(Vip(web_, {"198.51.100.1", "198.51.100.2"})).ok());
  auto dp = Maps();
  ASSERT_NE(dp, nullptr);
  auto vips = *dp->ListVips();
  ASSERT_EQ(vips.size(), 1u);
  const xlb_vip_key expected = AbiKey("192.0.2.1", 80, IPPROTO_TCP);
  EXPECT_EQ(std::memcmp(&vips[0].first, &expected, sizeof(xlb_vip_key)), 0);
  auto ring = dp->GetRing(vips[0].second.index);
  ASSERT_TRUE(ring.ok());
  EXPECT_EQ(ring->size(), 65537u);
  EXPECT_EQ(LiveBackends(*dp).size(), 2u);

  ASSERT_TRUE(Backends({Remove(web_, "198.51.100.1"), Add(web_, "198.51.100.3"),
                        Drain(web_, "198.51.100.2")})
                  .ok());
  std::set<std::string> addresses;
  for (const auto& [index, b] : LiveBackends(*dp)) {
    addresses.insert(IpAddress::FromAbi(b.family, b.addr).ToString());
    if (IpAddress::FromAbi(b.family, b.addr).ToString() == "198.51.100.2") {
      EXPECT_EQ(b.state, XLB_BACKEND_DRAINING);
    }
  }
  EXPECT_EQ(addresses, (std::set<std::string>{"198.51.100.2", "198.51.100.3"}));

  grpc::ClientContext context;
  v1::GetStatsResponse stats;
  ASSERT_TRUE(stub_->GetStats(&context, {}, &stats).ok());
  EXPECT_TRUE(stats.counters().contains("drop_no_backend"));
  EXPECT_EQ(stats.vips_size(), 1);

  const v1::GetStatusResponse status = Status();
  EXPECT_EQ(status.interface(), "xlb0");
  EXPECT_EQ(status.attach_mode(), v1::ATTACH_MODE_NATIVE);
  EXPECT_NE(status.balancer_program_id(), 0u);
  EXPECT_EQ(status.pin_dir(), pin_dir_);

  grpc::ClientContext del_context;
  v1::DeleteVipRequest del;
  *del.mutable_key() = web_;
  v1::DeleteVipResponse del_response;
  ASSERT_TRUE(stub_->DeleteVip(&del_context, del, &del_response).ok());
  EXPECT_TRUE(dp->ListVips()->empty());
  EXPECT_TRUE(LiveBackends(*dp).empty());
}

TEST_F(XlbdTest, InvalidRequestsChangeNeitherConfigNorMaps) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_TRUE(Create(Vip(web_, {"198.51.100.1"})).ok());
  auto dp = Maps();
  const auto vips_before = *dp->ListVips();
  const auto backends_before = LiveBackends(*dp);
  const auto ring_before = *dp->GetRing(vips_before[0].second.index);
  const v1::GetConfigResponse before = Config();
  v1::Vip bad = Vip(Key("192.0.2.9", 80), {"198.51.100.1"});
  bad.mutable_settings()->set_ring_size(1000);
  EXPECT_EQ(Create(bad).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Create(Vip(web_)).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Backends({Add(web_, "198.51.100.7"), Remove(web_, "198.51.100.99")})
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::Vip many = Vip(Key("192.0.2.10", 80));
  for (int i = 1; i <= 70; ++i) {
    many.add_backends()->set_address(absl::StrCat("10.2.0.", i));
  }
  EXPECT_EQ(Create(many).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(Config(), before));
  const auto vips_after = *dp->ListVips();
  ASSERT_EQ(vips_after.size(), vips_before.size());
  EXPECT_EQ(
      std::memcmp(&vips_after[0], &vips_before[0], sizeof(vips_before[0])), 0);
  const auto backends_after = LiveBackends(*dp);
  ASSERT_EQ(backends_after.size(), backends_before.size());
  for (const auto& [i, b] : backends_before) {
    EXPECT_EQ(std::memcmp(&backends_after.at(i), &b, sizeof(b)), 0);
  }
  EXPECT_EQ(*dp->GetRing(vips_before[0].second.index), ring_before);
}

TEST_F(XlbdTest, RestartAdoptsIndexesGenerationsAndRings) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_TRUE(Create(Vip(web_, {"198.51.100.1", "198.51.100.2"})).ok());
  ASSERT_TRUE(Create(Vip(Key("192.0.2.2", 53, v1::PROTOCOL_UDP),
                         {"198.51.100.2", "198.51.100.4"}))
                  .ok());
  // Churn so indexes and generations are not trivially 1, 2, 3.
  ASSERT_TRUE(Backends({Remove(web_, "198.51.100.1")}).ok());
  ASSERT_TRUE(Backends({Add(web_, "198.51.100.5")}).ok());
  const v1::GetConfigResponse config = Config();
  auto dp = Maps();
  const auto backends = LiveBackends(*dp);
  const auto vips = *dp->ListVips();
  std::map<uint32_t, uint32_t> ring_ids;
  for (const auto& [key, value] : vips)
    ring_ids[value.index] = RingMapId(value.index);

  EXPECT_EQ(WEXITSTATUS(Kill(SIGTERM)), 0);
  EXPECT_TRUE(XdpAttached()) << "stopping xlbd must not detach";
  EXPECT_EQ(LiveBackends(*dp).size(), backends.size());

  ASSERT_NO_FATAL_FAILURE(Start());
  EXPECT_TRUE(Status().adopted_pinned_maps());
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(Config(), config));
  const auto after = LiveBackends(*dp);
  ASSERT_EQ(after.size(), backends.size());
  for (const auto& [index, b] : backends) {
    EXPECT_EQ(std::memcmp(&after.at(index), &b, sizeof(b)), 0)
        << "backend index " << index << " changed";
  }
  for (const auto& [index, id] : ring_ids) {
    EXPECT_EQ(RingMapId(index), id)
        << "ring of VIP index " << index << " was rebuilt";
  }
}

TEST_F(XlbdTest, CheckedBackendsStayUpAcrossARestart) {
  ASSERT_NO_FATAL_FAILURE(Start());
  v1::Vip vip = Vip(web_, {"198.51.100.1"});
  vip.mutable_settings()->mutable_health_check()->set_type(
      v1::HEALTH_CHECK_TYPE_TCP);
  ASSERT_TRUE(Create(vip).ok());
  // Nothing reports health to xlbd here, so the backend is down and stays
  // down across the restart, and the maps say so.
  auto dp = Maps();
  auto before = LiveBackends(*dp);
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(before.begin()->second.state, XLB_BACKEND_DOWN);
  Kill(SIGKILL);
  // Mark it UP in the maps as a health checker would have, plus a ring.
  xlb_backend up = before.begin()->second;
  up.state = XLB_BACKEND_UP;
  ASSERT_TRUE(dp->SetBackend(before.begin()->first, up).ok());
  const auto vips = *dp->ListVips();
  std::vector<uint32_t> ring(65537, before.begin()->first);
  ASSERT_TRUE(dp->SetRing(vips[0].second.index, ring).ok());
  const uint32_t ring_id = RingMapId(vips[0].second.index);

  ASSERT_NO_FATAL_FAILURE(Start());
  const v1::GetStatusResponse status = Status();
  ASSERT_EQ(status.vips_size(), 1);
  EXPECT_TRUE(status.vips(0).backends(0).healthy());
  EXPECT_TRUE(status.vips(0).has_ring());
  EXPECT_EQ(LiveBackends(*dp).begin()->second.state, XLB_BACKEND_UP);
  EXPECT_EQ(RingMapId(vips[0].second.index), ring_id);
}

TEST_F(XlbdTest, KillNineAtAnyMomentConvergesToTheLastAcknowledgedState) {
  std::mt19937 random(42);
  uint64_t acknowledged = 0;
  std::set<std::string> acknowledged_backends;
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_TRUE(Create(Vip(web_)).ok());
  acknowledged = 1;
  int next = 1;
  for (int round = 0; round < 3; ++round) {
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> last{acknowledged};
    std::mutex mu;
    std::set<std::string> acked = acknowledged_backends;
    std::thread writer([&] {
      while (!stop) {
        const std::string address = absl::StrCat("10.3.0.", next % 50 + 1);
        const bool present = acked.contains(address);
        uint64_t generation = 0;
        grpc::Status s =
            Backends({present ? Remove(web_, address) : Add(web_, address)},
                     &generation);
        ++next;
        if (!s.ok()) break;  // the agent died mid-call: not acknowledged
        std::lock_guard<std::mutex> lock(mu);
        if (present)
          acked.erase(address);
        else
          acked.insert(address);
        last = generation;
      }
    });
    std::this_thread::sleep_for(
        std::chrono::milliseconds(100 + random() % 300));
    kill(pid_, SIGKILL);
    int wstatus;
    waitpid(pid_, &wstatus, 0);
    pid_ = 0;
    stop = true;
    writer.join();
    acknowledged = last;
    acknowledged_backends = acked;
    EXPECT_TRUE(XdpAttached());

    ASSERT_NO_FATAL_FAILURE(Start());
    const v1::GetConfigResponse config = Config();
    // The call in flight at the kill may or may not have been saved.
    EXPECT_GE(config.generation(), acknowledged);
    EXPECT_LE(config.generation(), acknowledged + 1);
    std::set<std::string> configured;
    for (const auto& b : config.config().vips(0).backends()) {
      configured.insert(b.address());
    }
    if (config.generation() == acknowledged) {
      EXPECT_EQ(configured, acknowledged_backends);
    }
    acknowledged_backends = configured;
    acknowledged = config.generation();
    // The maps hold exactly the configured backends.
    auto dp = Maps();
    std::set<std::string> in_maps;
    for (const auto& [i, b] : LiveBackends(*dp)) {
      in_maps.insert(IpAddress::FromAbi(b.family, b.addr).ToString());
    }
    EXPECT_EQ(in_maps, configured);
  }
}

TEST_F(XlbdTest, CorruptStateFileStopsTheAgentAndLeavesTrafficAlone) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_TRUE(Create(Vip(web_, {"198.51.100.1"})).ok());
  ASSERT_TRUE(Backends({Add(web_, "198.51.100.2")}).ok());
  Kill(SIGTERM);
  const std::string good = ReadFile(state_path());
  std::ofstream(state_path(), std::ios::trunc)
      << good.substr(0, good.size() / 2);

  pid_t pid = Spawn();
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 0);
  EXPECT_THAT(ReadFile(log_path()), HasSubstr("is unusable"));
  EXPECT_THAT(ReadFile(log_path()), HasSubstr(".prev"));
  EXPECT_TRUE(XdpAttached());
  auto dp = Maps();
  EXPECT_EQ(LiveBackends(*dp).size(), 2u);
  EXPECT_EQ(dp->ListVips()->size(), 1u);
}

TEST_F(XlbdTest, RemoveDetachesAndDeletesThePins) {
  ASSERT_NO_FATAL_FAILURE(Start());
  Kill(SIGTERM);
  ASSERT_TRUE(XdpAttached());
  pid_t pid = Spawn({"--remove"});
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_EQ(WEXITSTATUS(status), 0) << ReadFile(log_path());
  EXPECT_FALSE(XdpAttached());
  EXPECT_FALSE(std::filesystem::exists(pin_dir_));
}

TEST_F(XlbdTest, MetricsEndpointServesPrometheusText) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_TRUE(Create(Vip(web_, {"198.51.100.1"})).ok());
  const std::string body = Metrics();
  EXPECT_THAT(body, HasSubstr("HTTP/1.1 200 OK")) << ReadFile(log_path());
  EXPECT_THAT(body, HasSubstr("xlb_packets_total{reason=\"drop_no_backend\"}"));
  EXPECT_THAT(body,
              HasSubstr("xlb_vip_packets_total{vip=\"192.0.2.1:80/tcp\"}"));
  EXPECT_THAT(body, HasSubstr("xlb_backend_up{vip=\"192.0.2.1:80/"
                              "tcp\",backend=\"198.51.100.1\"} 1"));
  EXPECT_THAT(
      body,
      HasSubstr("xlb_api_requests_total{method=\"CreateVip\",code=\"OK\"} 1"));
}

// Sets the process umask (inherited by xlbd) for one scope.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(umask(mask)) {}
  ~ScopedUmask() { umask(old_); }

 private:
  mode_t old_;
};

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st.st_mode;
}

TEST_F(XlbdTest, EveryFileAndDirectoryGetsItsOwnModeUnderUmaskZero) {
  socket_path_ = dir_ + "/run/xlb/xlbd.sock";
  state_path_ = dir_ + "/lib/xlb/state";
  {
    ScopedUmask open(0);
    ASSERT_NO_FATAL_FAILURE(Start());
    ASSERT_TRUE(Create(Vip(web_, {"198.51.100.1"})).ok());  // saves state
  }
  EXPECT_EQ(ModeOf(dir_ + "/run"), S_IFDIR | 0750);
  EXPECT_EQ(ModeOf(dir_ + "/run/xlb"), S_IFDIR | 0750);
  EXPECT_EQ(ModeOf(socket_path_), S_IFSOCK | 0600);
  EXPECT_EQ(ModeOf(dir_ + "/lib"), S_IFDIR | 0700);
  EXPECT_EQ(ModeOf(dir_ + "/lib/xlb"), S_IFDIR | 0700);
  EXPECT_EQ(ModeOf(state_path_), S_IFREG | 0600);
  EXPECT_EQ(ModeOf(state_path_ + ".journal"), S_IFREG | 0600);
  EXPECT_EQ(ModeOf(pin_dir_), S_IFDIR | 0700);
  int pins = 0;
  for (const auto& entry : std::filesystem::directory_iterator(pin_dir_)) {
    EXPECT_EQ(ModeOf(entry.path()), S_IFREG | 0600) << entry.path();
    ++pins;
  }
  EXPECT_GT(pins, 8) << "maps, programs and links are pinned";
  for (const std::string& path :
       {dir_ + "/run/xlb", socket_path_, dir_ + "/lib/xlb", state_path_,
        state_path_ + ".journal", pin_dir_}) {
    struct stat st {};
    ASSERT_EQ(lstat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 0u) << path;
    EXPECT_EQ(st.st_gid, 0u) << path;
  }
}

TEST_F(XlbdTest, ADirectoryOthersCanWriteIsRefusedNamingPathAndMode) {
  const std::string state_dir = dir_ + "/open-state";
  const std::string socket_dir = dir_ + "/open-socket";
  const struct {
    std::string dir;
    std::string flag;
  } kCases[] = {{pin_dir_, "--bpffs-dir"},
                {state_dir, "--state-file"},
                {socket_dir, "--listen-unix"}};
  for (const auto& c : kCases) {
    socket_path_ = (c.dir == socket_dir ? socket_dir : dir_) + "/xlbd.sock";
    state_path_ = (c.dir == state_dir ? state_dir : dir_) + "/state";
    ASSERT_EQ(mkdir(c.dir.c_str(), 0700), 0) << c.dir;
    ASSERT_EQ(chmod(c.dir.c_str(), 0777), 0);
    std::filesystem::remove(log_path());
    pid_t pid = Spawn();
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << c.flag;
    EXPECT_THAT(ReadFile(log_path()),
                HasSubstr(absl::StrCat(c.flag, ": directory ", c.dir,
                                       " is writable by group or others "
                                       "(mode 0777)")));
    EXPECT_EQ(ModeOf(c.dir), S_IFDIR | 0777) << "left as it was";
    ASSERT_EQ(chmod(c.dir.c_str(), 0700), 0);
  }
}

TEST_F(XlbdTest, BadFlagsAreAClearErrorAndNonZeroExit) {
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"--attach-mode=turbo"},
        {"--listen-tcp=127.0.0.1:0"},
        {"--source-v4=198.51.100.10/40"},
        {"--gateway-mac=zz"},
        {"--event-buffer=0"},
        {"--max-event-watchers=0"},
        {"--no-such-flag"}}) {
    std::filesystem::remove(log_path());
    pid_t pid = Spawn(bad);
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << bad[0];
    EXPECT_FALSE(ReadFile(log_path()).empty()) << bad[0];
  }
}

// BGP announcement through a real gobgpd beside xlbd in its namespace (API
// on the namespace's loopback, no peers: the test reads gobgpd's RIB).
class XlbdBgpTest : public XlbdTest {
 protected:
  void SetUp() override {
    XlbdTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    gobgpd_ = std::make_unique<bgp::testing::Gobgpd>(
        bgp::testing::Gobgpd::Options{.api_port = 50051, .netns = ns_->name()});
  }
  void TearDown() override {
    gobgpd_.reset();
    XlbdTest::TearDown();
  }

  void StartWithBgp() {
    extra_args_ = {"--bgp-api=127.0.0.1:50051"};
    Start();
  }

  grpc::Status Drain(bool drained) {
    grpc::ClientContext context;
    v1::SetHostDrainRequest request;
    request.set_drained(drained);
    v1::SetHostDrainResponse response;
    return stub_->SetHostDrain(&context, request, &response);
  }

  bool RibIs(const std::map<std::string, std::string>& expected) {
    const bool equal =
        bgp::testing::WaitFor([&] { return gobgpd_->Rib() == expected; });
    EXPECT_TRUE(equal) << "gobgpd holds " << gobgpd_->Rib().size()
                       << " prefixes; xlbd log:\n"
                       << ReadFile(log_path());
    return equal;
  }

  const std::map<std::string, std::string> kAnnounced = {
      {"192.0.2.1/32", "10.9.0.1"}};
  std::unique_ptr<bgp::testing::Gobgpd> gobgpd_;
};

TEST_F(XlbdBgpTest, BadBgpFlagsAreRefusedNamingTheFlag) {
  struct Case {
    std::vector<std::string> flags;
    std::string error;
  };
  const std::string not_loopback =
      "\" is not 127.0.0.1:PORT or [::1]:PORT (gobgpd's API takes "
      "unauthenticated changes, so it must listen on loopback only)";
  for (const Case& c : {
           Case{{"--bgp-api=192.0.2.1:50051"},
                "--bgp-api: \"192.0.2.1:50051" + not_loopback},
           Case{{"--bgp-api=127.0.0.1"},
                "--bgp-api: \"127.0.0.1" + not_loopback},
           Case{{"--bgp-next-hop-v4=10.9.0.1"},
                "--bgp-next-hop-v4 / --bgp-next-hop-v6: need --bgp-api "
                "(without it nothing is announced)"},
           Case{{"--bgp-api=127.0.0.1:50051", "--bgp-next-hop-v6=10.9.0.1"},
                "--bgp-next-hop-v6: \"10.9.0.1\" is not an IPv6 address"},
       }) {
    std::filesystem::remove(log_path());
    pid_t pid = Spawn(c.flags);
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << c.error;
    EXPECT_THAT(ReadFile(log_path()), HasSubstr("xlbd: error: " + c.error));
  }
}

TEST_F(XlbdBgpTest, AnnouncesFollowsTheDrainAndKeepsRoutesOverKillNine) {
  ASSERT_TRUE(gobgpd_->Start());
  ASSERT_NO_FATAL_FAILURE(StartWithBgp());
  ASSERT_TRUE(Create(Vip(web_, {"198.51.100.1"})).ok());
  ASSERT_TRUE(RibIs(kAnnounced));  // next hop: the --source-v4 address
  ASSERT_TRUE(bgp::testing::WaitFor(
      [&] { return Status().bgp().vips(0).announced(); }));
  v1::BgpStatus bgp = Status().bgp();
  EXPECT_TRUE(bgp.configured());
  EXPECT_TRUE(bgp.daemon_reachable());
  EXPECT_EQ(bgp.api_address(), "127.0.0.1:50051");
  EXPECT_EQ(bgp.next_hop_v4(), "10.9.0.1");
  const std::string metrics = Metrics();
  EXPECT_THAT(metrics, HasSubstr("\nxlb_bgp_daemon_up 1\n"));
  EXPECT_THAT(metrics, HasSubstr("\nxlb_bgp_announced_vips 1\n"));
  EXPECT_THAT(metrics, HasSubstr("\nxlb_bgp_announcements_total 1\n"));

  // Drained: withdrawn, and still drained after a restart.
  ASSERT_TRUE(Drain(true).ok());
  ASSERT_TRUE(RibIs({}));
  Kill(SIGTERM);
  ASSERT_NO_FATAL_FAILURE(StartWithBgp());
  ASSERT_TRUE(
      bgp::testing::WaitFor([&] { return Status().bgp().daemon_reachable(); }));
  bgp = Status().bgp();
  EXPECT_TRUE(bgp.host_drained());
  EXPECT_EQ(bgp.vips(0).reason(), "host drained");
  EXPECT_EQ(gobgpd_->Rib(), (std::map<std::string, std::string>{}));
  ASSERT_TRUE(Drain(false).ok());
  ASSERT_TRUE(RibIs(kAnnounced));

  // kill -9 withdraws nothing; the next start reconciles: a stale path of
  // its own goes, the operator's path stays.
  Kill(SIGKILL);
  EXPECT_EQ(gobgpd_->Rib(), kAnnounced);
  ASSERT_TRUE(gobgpd_->AddPath("192.0.2.99", "10.9.0.1", true));
  ASSERT_TRUE(gobgpd_->AddPath("203.0.113.9", "10.9.0.7", false));
  ASSERT_NO_FATAL_FAILURE(StartWithBgp());
  ASSERT_TRUE(
      RibIs({{"192.0.2.1/32", "10.9.0.1"}, {"203.0.113.9/32", "10.9.0.7"}}));
}

TEST_F(XlbdBgpTest, StartsAndForwardsWithoutGobgpdThenAnnouncesWhenItAppears) {
  ASSERT_NO_FATAL_FAILURE(StartWithBgp());
  ASSERT_TRUE(XdpAttached());
  ASSERT_TRUE(Create(Vip(web_, {"198.51.100.1"})).ok());
  ASSERT_TRUE(bgp::testing::WaitFor(
      [&] { return !Status().bgp().last_error().empty(); }));
  const v1::BgpStatus bgp = Status().bgp();
  EXPECT_FALSE(bgp.daemon_reachable());
  EXPECT_THAT(bgp.last_error(), HasSubstr("127.0.0.1:50051"));
  EXPECT_FALSE(bgp.vips(0).announced());
  EXPECT_EQ(bgp.vips(0).reason(), "BGP daemon unreachable");
  EXPECT_THAT(Metrics(), HasSubstr("\nxlb_bgp_daemon_up 0\n"));

  ASSERT_TRUE(gobgpd_->Start());
  ASSERT_TRUE(RibIs(kAnnounced));
}

TEST_F(XlbdBgpTest, RemoveWithdrawsBeforeRemovingTheDataPlane) {
  ASSERT_TRUE(gobgpd_->Start());
  ASSERT_NO_FATAL_FAILURE(StartWithBgp());
  ASSERT_TRUE(Create(Vip(web_, {"198.51.100.1"})).ok());
  ASSERT_TRUE(RibIs(kAnnounced));
  ASSERT_TRUE(gobgpd_->AddPath("203.0.113.9", "10.9.0.7", false));
  Kill(SIGTERM);
  EXPECT_EQ(gobgpd_->Rib().size(), 2u);  // stopping withdraws nothing
  pid_t pid = Spawn({"--remove", "--bgp-api=127.0.0.1:50051"});
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_EQ(WEXITSTATUS(status), 0) << ReadFile(log_path());
  EXPECT_EQ(
      gobgpd_->Rib(),
      (std::map<std::string, std::string>{{"203.0.113.9/32", "10.9.0.7"}}));
  EXPECT_FALSE(XdpAttached());
  EXPECT_FALSE(std::filesystem::exists(pin_dir_));
}

}  // namespace
}  // namespace xlb
