// lab_balancer: the end-to-end benchmark's LB. Loads the data plane, gives
// it one UDP VIP (port wildcard) over the given backends with a Maglev ring,
// attaches it to IFACE (native XDP) and keeps it there until SIGTERM or
// SIGINT, or until --seconds pass. Nothing is pinned: the XDP link goes with
// the process.
//
//   lab_balancer --iface IF --gateway-mac MAC --src4 ADDR --vip4 ADDR
//                --mtu N [--seconds S] BACKEND4...
//
// Prints "ready" on stdout once attached. Stands in for xlbd until the agent
// lands; run it inside the lab's LB namespace.
#include <arpa/inet.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lb/dataplane/dataplane.h"
#include "lb/maglev/maglev.h"
#include "xlb_abi.h"

namespace {

constexpr uint32_t kRingSize = 65537;
constexpr uint32_t kHashSeed = 0x1ab5eed;

bool ParseMac(const std::string& text, uint8_t out[6]) {
  unsigned b[6];
  if (std::sscanf(text.c_str(), "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3],
                  &b[4], &b[5]) != 6)
    return false;
  for (int i = 0; i < 6; ++i) out[i] = static_cast<uint8_t>(b[i]);
  return true;
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "lab_balancer: %s\n", message.c_str());
  return 1;
}

int Check(const absl::Status& s, const char* what) {
  return s.ok() ? 0 : Fail(absl::StrCat(what, ": ", s.ToString()));
}

}  // namespace

int main(int argc, char** argv) {
  std::string iface, gateway_mac, src4, vip4;
  uint32_t mtu = 1500;
  double seconds = 300;
  std::vector<std::string> backends;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--iface")
      iface = next();
    else if (a == "--gateway-mac")
      gateway_mac = next();
    else if (a == "--src4")
      src4 = next();
    else if (a == "--vip4")
      vip4 = next();
    else if (a == "--mtu")
      mtu = std::strtoul(next().c_str(), nullptr, 10);
    else if (a == "--seconds")
      seconds = std::atof(next().c_str());
    else
      backends.push_back(a);
  }
  if (iface.empty() || gateway_mac.empty() || src4.empty() || vip4.empty() ||
      backends.empty())
    return Fail(
        "usage: lab_balancer --iface IF --gateway-mac MAC --src4 ADDR "
        "--vip4 ADDR --mtu N [--seconds S] BACKEND4...");

  xlb_config cfg{};
  std::string iface_mac;
  std::ifstream(absl::StrCat("/sys/class/net/", iface, "/address")) >>
      iface_mac;
  if (!ParseMac(iface_mac, cfg.iface_mac))
    return Fail(absl::StrCat("MAC of ", iface, ": '", iface_mac, "'"));
  if (!ParseMac(gateway_mac, cfg.gateway_mac))
    return Fail(absl::StrCat("--gateway-mac ", gateway_mac));
  in_addr a{};
  if (inet_pton(AF_INET, src4.c_str(), &a) != 1)
    return Fail(absl::StrCat("--src4 ", src4));
  cfg.src_v4 = a.s_addr;
  cfg.src_v4_prefix_len = 32;
  cfg.src_v6_prefix_len = 128;
  cfg.mtu = mtu;
  cfg.hash_seed = kHashSeed;
  cfg.tcp_idle_timeout_ns = 300ull * 1000000000ull;
  cfg.udp_idle_timeout_ns = 30ull * 1000000000ull;

  auto dp = xlb::Dataplane::Load(xlb::DataplaneOptions{});
  if (!dp.ok()) return Check(dp.status(), "load");
  if (int r = Check((*dp)->SetConfig(cfg), "config")) return r;

  std::vector<xlb::MaglevBackend> maglev;
  for (size_t i = 0; i < backends.size(); ++i) {
    xlb_backend b{};
    if (inet_pton(AF_INET, backends[i].c_str(), &b.addr[0]) != 1)
      return Fail(absl::StrCat("backend ", backends[i]));
    b.family = XLB_FAMILY_V4;
    b.state = XLB_BACKEND_UP;
    b.generation = 1;
    const uint32_t index = static_cast<uint32_t>(i + 1);
    if (int r = Check((*dp)->SetBackend(index, b), "backend")) return r;
    std::string key(17, '\0');
    key[0] = 4;
    std::memcpy(key.data() + 1, b.addr, 4);
    maglev.push_back({.key = key, .weight = 1, .index = index});
  }
  auto ring = xlb::BuildMaglevTable(maglev, kRingSize, 0);
  if (!ring.ok()) return Check(ring.status(), "ring");
  if (int r = Check((*dp)->SetRing(0, *ring), "ring")) return r;
  xlb_vip_key key{};
  if (inet_pton(AF_INET, vip4.c_str(), &key.addr[0]) != 1)
    return Fail(absl::StrCat("--vip4 ", vip4));
  key.port = 0;  // every UDP port
  key.proto = IPPROTO_UDP;
  key.family = XLB_FAMILY_V4;
  xlb_vip_value value{
      .index = 0, .flags = 0, .ring_size = kRingSize, .syn_rate_limit = 0};
  if (int r = Check((*dp)->SetVip(key, value), "VIP")) return r;
  if (int r = Check((*dp)->AttachXdp(iface, xlb::XdpMode::kNative), "attach"))
    return r;

  std::printf("ready\n");
  std::fflush(stdout);
  // Bounded wait: until SIGTERM / SIGINT or the time is up; then the
  // destructor detaches the program.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  timespec timeout{.tv_sec = static_cast<time_t>(seconds), .tv_nsec = 0};
  sigtimedwait(&set, nullptr, &timeout);
  return 0;
}
