// How xlbd's routes are written as gobgp v3 paths, how its own paths are
// told apart from every other path, and which API addresses are accepted.
#include "absl/strings/str_cat.h"
#include "attribute.pb.h"
#include "gobgp.pb.h"
#include "gtest/gtest.h"
#include "lb/bgp/gobgp_client.h"

namespace xlb::bgp {
namespace {

Route R(const char* prefix, const char* next_hop) {
  return Route{.prefix = *IpAddress::Parse(prefix),
               .next_hop = *IpAddress::Parse(next_hop)};
}

TEST(GobgpPath, Ipv4RouteIsUnicastWithNextHopAttributeOriginIgpAndMarker) {
  const apipb::Path path = PathOf(R("192.0.2.1", "198.51.100.10"));
  EXPECT_EQ(path.family().afi(), apipb::Family::AFI_IP);
  EXPECT_EQ(path.family().safi(), apipb::Family::SAFI_UNICAST);
  apipb::IPAddressPrefix nlri;
  ASSERT_TRUE(path.nlri().UnpackTo(&nlri));
  EXPECT_EQ(path.nlri().type_url(),
            "type.googleapis.com/apipb.IPAddressPrefix");
  EXPECT_EQ(nlri.prefix(), "192.0.2.1");
  EXPECT_EQ(nlri.prefix_len(), 32u);
  ASSERT_EQ(path.pattrs_size(), 3);
  apipb::OriginAttribute origin;
  ASSERT_TRUE(path.pattrs(0).UnpackTo(&origin));
  EXPECT_EQ(origin.origin(), 0u);
  apipb::NextHopAttribute next_hop;
  ASSERT_TRUE(path.pattrs(1).UnpackTo(&next_hop));
  EXPECT_EQ(next_hop.next_hop(), "198.51.100.10");
  apipb::LargeCommunitiesAttribute communities;
  ASSERT_TRUE(path.pattrs(2).UnpackTo(&communities));
  ASSERT_EQ(communities.communities_size(), 1);
  EXPECT_EQ(communities.communities(0).global_admin(), 4200000000u);
  EXPECT_EQ(communities.communities(0).local_data1(), 7892066u);
  EXPECT_EQ(communities.communities(0).local_data2(), 1u);
}

TEST(GobgpPath, Ipv6RouteCarriesNextHopAndNlriInMpReach) {
  const apipb::Path path = PathOf(R("2001:db8::1", "2001:db8::10"));
  EXPECT_EQ(path.family().afi(), apipb::Family::AFI_IP6);
  EXPECT_EQ(path.family().safi(), apipb::Family::SAFI_UNICAST);
  apipb::IPAddressPrefix nlri;
  ASSERT_TRUE(path.nlri().UnpackTo(&nlri));
  EXPECT_EQ(nlri.prefix(), "2001:db8::1");
  EXPECT_EQ(nlri.prefix_len(), 128u);
  apipb::MpReachNLRIAttribute reach;
  ASSERT_TRUE(path.pattrs(1).UnpackTo(&reach));
  EXPECT_EQ(reach.family().afi(), apipb::Family::AFI_IP6);
  ASSERT_EQ(reach.next_hops_size(), 1);
  EXPECT_EQ(reach.next_hops(0), "2001:db8::10");
  ASSERT_EQ(reach.nlris_size(), 1);
  apipb::IPAddressPrefix reach_nlri;
  ASSERT_TRUE(reach.nlris(0).UnpackTo(&reach_nlri));
  EXPECT_EQ(reach_nlri.prefix(), "2001:db8::1");
  EXPECT_EQ(reach_nlri.prefix_len(), 128u);
}

TEST(GobgpPath, OwnPathsReadBackAsTheirRoute) {
  for (const Route& route :
       {R("192.0.2.1", "198.51.100.10"), R("2001:db8::1", "2001:db8::10")}) {
    apipb::Path path = PathOf(route);
    path.set_neighbor_ip("<nil>");  // as gobgpd lists a local path
    EXPECT_EQ(OwnRoute(path), route) << route.ToString();
  }
}

TEST(GobgpPath, OtherPathsAreNotOwn) {
  const Route route = R("192.0.2.1", "198.51.100.10");
  // Learned from a peer, even with the marker.
  apipb::Path learned = PathOf(route);
  learned.set_neighbor_ip("198.51.100.1");
  EXPECT_EQ(OwnRoute(learned), std::nullopt);
  // Local but without the marker (an operator's path).
  apipb::Path unmarked = PathOf(route);
  unmarked.mutable_pattrs()->RemoveLast();
  EXPECT_EQ(OwnRoute(unmarked), std::nullopt);
  // Another large community.
  apipb::Path other = PathOf(route);
  apipb::LargeCommunitiesAttribute communities;
  apipb::LargeCommunity* c = communities.add_communities();
  c->set_global_admin(4200000000u);
  c->set_local_data1(7892066u);
  c->set_local_data2(2);
  other.mutable_pattrs(2)->PackFrom(communities);
  EXPECT_EQ(OwnRoute(other), std::nullopt);
  // Not a host route.
  apipb::Path wide = PathOf(route);
  apipb::IPAddressPrefix nlri;
  nlri.set_prefix("192.0.2.0");
  nlri.set_prefix_len(24);
  wide.mutable_nlri()->PackFrom(nlri);
  EXPECT_EQ(OwnRoute(wide), std::nullopt);
}

TEST(GobgpApiAddress, OnlyLoopbackWithAPortIsAccepted) {
  EXPECT_TRUE(ValidateApiAddress("127.0.0.1:50051", "--bgp-api").ok());
  EXPECT_TRUE(ValidateApiAddress("[::1]:50051", "--bgp-api").ok());
  for (const char* bad :
       {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
        "127.0.0.1:50051x", "192.0.2.1:50051", "localhost:50051", "::1:50051",
        "[::1]50051", "0.0.0.0:50051"}) {
    const absl::Status s = ValidateApiAddress(bad, "--bgp-api");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(s.message(),
              absl::StrCat("--bgp-api: \"", bad,
                           "\" is not 127.0.0.1:PORT or [::1]:PORT (gobgpd's "
                           "API takes unauthenticated changes, so it must "
                           "listen on loopback only)"));
  }
}

}  // namespace
}  // namespace xlb::bgp
