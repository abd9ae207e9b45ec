#include "lb/bgp/testing/gobgpd.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "attribute.pb.h"
#include "gobgp.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "lb/bgp/gobgp_client.h"

extern char** environ;

namespace xlb::bgp::testing {
namespace {

std::unique_ptr<apipb::GobgpApi::Stub> Stub(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return apipb::GobgpApi::NewStub(grpc::CreateCustomChannel(
      address, grpc::InsecureChannelCredentials(), args));
}

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  return context;
}

std::string NeighborConfig(const Gobgpd::Options& o) {
  if (o.peer_asn == 0) return "";
  std::string config = absl::StrCat(
      "[[neighbors]]\n"
      "  [neighbors.config]\n"
      "    neighbor-address = \"127.0.0.1\"\n"
      "    peer-as = ",
      o.peer_asn, "\n  [neighbors.transport.config]\n");
  if (o.peer_port == 0) {
    absl::StrAppend(&config, "    passive-mode = true\n");
  } else {
    absl::StrAppend(&config, "    remote-port = ", o.peer_port, "\n");
  }
  absl::StrAppend(&config,
                  "  [neighbors.timers.config]\n"
                  "    connect-retry = 1\n");
  for (const char* family : {"ipv4-unicast", "ipv6-unicast"}) {
    absl::StrAppend(&config,
                    "  [[neighbors.afi-safis]]\n"
                    "    [neighbors.afi-safis.config]\n"
                    "      afi-safi-name = \"",
                    family, "\"\n");
  }
  return config;
}

}  // namespace

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

bool WaitFor(const std::function<bool()>& done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

Gobgpd::Gobgpd(Options options) : options_(std::move(options)) {
  if (options_.api_port == 0) options_.api_port = FreePort();
  char dir_template[] = "/tmp/xlb-gobgpd-XXXXXX";
  dir_ = mkdtemp(dir_template);
}

Gobgpd::~Gobgpd() {
  Kill();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string Gobgpd::api_address() const {
  return absl::StrCat("127.0.0.1:", options_.api_port);
}

bool Gobgpd::Start() {
  const std::string config_path = dir_ + "/gobgpd.toml";
  {
    std::ofstream config(config_path);
    config << "[global.config]\n  as = " << options_.asn << "\n  router-id = \""
           << options_.router_id << "\"\n  port = " << options_.bgp_port
           << "\n";
    if (options_.bgp_port > 0) {
      config << "  local-address-list = [\"127.0.0.1\"]\n";
    }
    config << NeighborConfig(options_);
  }
  std::vector<std::string> args;
  if (!options_.netns.empty()) {
    args = {"/usr/bin/nsenter",
            absl::StrCat("--net=/run/netns/", options_.netns)};
  }
  for (std::string a :
       {std::string("/usr/bin/gobgpd"), std::string("-f"), config_path,
        std::string("-t"), std::string("toml"),
        absl::StrCat("--api-hosts=", api_address()),
        std::string("--pprof-disable"), std::string("--log-level=warn")}) {
    args.push_back(std::move(a));
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const std::string log = dir_ + "/gobgpd.log";
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  const int rc =
      posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    ADD_FAILURE() << "cannot start gobgpd: " << strerror(rc);
    pid_ = 0;
    return false;
  }
  const bool started = WaitFor([&] {
    if (!options_.netns.empty()) {
      std::optional<std::string> global = Cli("global");
      return global && global->find(absl::StrCat(
                           "AS:        ", options_.asn)) != std::string::npos;
    }
    // A new channel each time: one that failed to connect backs off.
    apipb::GetBgpRequest request;
    apipb::GetBgpResponse response;
    return Stub(api_address())
               ->GetBgp(Context().get(), request, &response)
               .ok() &&
           response.global().asn() == options_.asn;
  });
  if (!started) {
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    ADD_FAILURE() << "gobgpd did not come up; its log:\n" << text.str();
  }
  return started;
}

void Gobgpd::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = 0;
}

std::optional<std::string> Gobgpd::Cli(const std::string& arguments) const {
  const std::string command =
      absl::StrCat("ip netns exec ", options_.netns, " gobgp -p ",
                   options_.api_port, " ", arguments, " 2>/dev/null");
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return std::nullopt;
  std::string output;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof(buffer), pipe)) {
    output.append(buffer, n);
  }
  if (pclose(pipe) != 0) return std::nullopt;
  return output;
}

std::map<std::string, std::string> Gobgpd::Rib(bool local_only) const {
  std::map<std::string, std::string> rib;
  if (!options_.netns.empty()) {
    // {"192.0.2.1/32":[{"nlri":...,"attrs":[...,{"type":3,"nexthop":"X"}],
    // ...}], ...}: each destination's first next hop.
    static const std::regex kDestination(
        R"re("([0-9a-f.:]+/[0-9]+)":\[\{"nlri".*?"nexthop":"([^"]+)")re");
    for (const char* family : {"ipv4", "ipv6"}) {
      const std::optional<std::string> json =
          Cli(absl::StrCat("-j global rib -a ", family));
      if (!json) continue;
      for (std::sregex_iterator it(json->begin(), json->end(), kDestination);
           it != std::sregex_iterator(); ++it) {
        rib[(*it)[1]] = (*it)[2];
      }
    }
    return rib;
  }
  std::unique_ptr<apipb::GobgpApi::Stub> stub = Stub(api_address());
  for (auto afi : {apipb::Family::AFI_IP, apipb::Family::AFI_IP6}) {
    apipb::ListPathRequest request;
    request.set_table_type(apipb::GLOBAL);
    request.mutable_family()->set_afi(afi);
    request.mutable_family()->set_safi(apipb::Family::SAFI_UNICAST);
    std::unique_ptr<grpc::ClientContext> context = Context();
    auto reader = stub->ListPath(context.get(), request);
    apipb::ListPathResponse response;
    while (reader->Read(&response)) {
      for (const apipb::Path& path : response.destination().paths()) {
        const bool local =
            path.neighbor_ip().empty() || path.neighbor_ip() == "<nil>";
        if (local_only && !local) continue;
        for (const google::protobuf::Any& any : path.pattrs()) {
          apipb::NextHopAttribute v4;
          apipb::MpReachNLRIAttribute reach;
          if (any.UnpackTo(&v4)) {
            rib[response.destination().prefix()] = v4.next_hop();
          } else if (any.UnpackTo(&reach) && reach.next_hops_size() > 0) {
            rib[response.destination().prefix()] = reach.next_hops(0);
          }
        }
      }
    }
    (void)reader->Finish();
  }
  return rib;
}

bool Gobgpd::AddPath(const std::string& prefix, const std::string& next_hop,
                     bool marked) const {
  if (!options_.netns.empty()) {
    const bool v4 = IpAddress::Parse(prefix)->is_v4();
    const bool added =
        Cli(absl::StrCat(
                "global rib add -a ", v4 ? "ipv4 " : "ipv6 ", prefix,
                v4 ? "/32" : "/128", " nexthop ", next_hop, " origin igp",
                marked
                    ? absl::StrCat(" large-community ", kMarkerGlobalAdmin, ":",
                                   kMarkerLocalData1, ":", kMarkerLocalData2)
                    : ""))
            .has_value();
    EXPECT_TRUE(added) << "gobgp global rib add " << prefix;
    return added;
  }
  apipb::AddPathRequest request;
  request.set_table_type(apipb::GLOBAL);
  *request.mutable_path() =
      PathOf(Route{.prefix = *IpAddress::Parse(prefix),
                   .next_hop = *IpAddress::Parse(next_hop)});
  if (!marked) request.mutable_path()->mutable_pattrs()->RemoveLast();
  apipb::AddPathResponse response;
  const grpc::Status status =
      Stub(api_address())->AddPath(Context().get(), request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return status.ok();
}

}  // namespace xlb::bgp::testing
