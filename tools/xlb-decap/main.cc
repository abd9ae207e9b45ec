// xlb-decap: runs xlb's decapsulation program on a backend whose kernel has
// no ipip/ip6tnl modules.
//
//   xlb-decap attach IFACE [--generic] ADDRESS...   decapsulate tunnel packets
//   to ADDRESS xlb-decap detach IFACE xlb-decap stats IFACE
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "lb/dataplane/decap_loader.h"

namespace {

constexpr char kUsage[] =
    "usage: xlb-decap attach IFACE [--generic] [ADDRESS...]\n"
    "       xlb-decap detach IFACE\n"
    "       xlb-decap stats IFACE\n"
    "\n"
    "attach  decapsulate IPv4/IPv6-in-IPv4/IPv6 packets addressed to one of\n"
    "        ADDRESS (this host's tunnel endpoints) arriving on IFACE, and\n"
    "        pass everything else; replaces an earlier xlb-decap program.\n"
    "        --generic uses generic (skb) XDP instead of native.\n"
    "detach  remove the program from IFACE.\n"
    "stats   print the program's counters.\n";

int Fail(const std::string& message) {
  std::fprintf(stderr, "xlb-decap: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || std::strcmp(argv[1], "--help") == 0) {
    std::fputs(kUsage, argc < 3 ? stderr : stdout);
    return argc < 3 ? 2 : 0;
  }
  std::string verb = argv[1];
  std::string ifname = argv[2];
  if (verb == "attach") {
    bool generic = false;
    std::vector<xlb::IpAddress> addresses;
    for (int i = 3; i < argc; ++i) {
      if (std::strcmp(argv[i], "--generic") == 0) {
        generic = true;
        continue;
      }
      auto address = xlb::IpAddress::Parse(argv[i]);
      if (!address.ok())
        return Fail(std::string("address ") + argv[i] + ": " +
                    std::string(address.status().message()));
      addresses.push_back(*address);
    }
    absl::Status s = xlb::AttachDecap(ifname, addresses, generic);
    return s.ok() ? 0 : Fail(std::string(s.message()));
  }
  if (verb == "detach") {
    absl::Status s = xlb::DetachDecap(ifname);
    return s.ok() ? 0 : Fail(std::string(s.message()));
  }
  if (verb == "stats") {
    auto counters = xlb::ReadDecapCounters(ifname);
    if (!counters.ok()) return Fail(std::string(counters.status().message()));
    const char* names[XLB_DECAP_CNT_MAX] = {"rx", "decapsulated", "pass",
                                            "drop_malformed"};
    for (int i = 0; i < XLB_DECAP_CNT_MAX; ++i)
      std::printf("%-16s %llu\n", names[i],
                  static_cast<unsigned long long>((*counters)[i]));
    return 0;
  }
  std::fputs(kUsage, stderr);
  return 2;
}
