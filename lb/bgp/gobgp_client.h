// The part of gobgpd's gRPC API (apipb.GobgpApi, gobgp v3) xlbd uses: its
// own paths in the daemon's global RIB, and a watch that tells when the
// daemon goes away (a restarted gobgpd has lost every path).
//
// Marker: every path xlbd adds carries the BGP large community
// 4200000000:7892066:1 (a private-use ASN, RFC 6996; "xlb" in ASCII; 1).
// A path is xlbd's own only when it is local (added through the API, not
// learned from a peer) and carries it: everything else in the daemon is
// never touched.
//
// Path encoding (v3 packs NLRI and attributes in google.protobuf.Any):
// IPv4 routes are family AFI_IP/SAFI_UNICAST with an
// apipb.NextHopAttribute; IPv6 routes are AFI_IP6/SAFI_UNICAST with an
// apipb.MpReachNLRIAttribute carrying the next hop and the NLRI. Both have
// ORIGIN IGP. Withdrawal sends the same path to DeletePath (gobgpd keeps
// one local path per prefix, so that removes exactly it).
#ifndef XLB_LB_BGP_GOBGP_CLIENT_H_
#define XLB_LB_BGP_GOBGP_CLIENT_H_

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gobgp.grpc.pb.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "lb/bgp/announce_policy.h"

namespace xlb::bgp {

inline constexpr uint32_t kMarkerGlobalAdmin = 4200000000;
inline constexpr uint32_t kMarkerLocalData1 = 0x786c62;  // "xlb"
inline constexpr uint32_t kMarkerLocalData2 = 1;

// "127.0.0.1:PORT" or "[::1]:PORT": gobgpd's API must be on loopback (it
// takes unauthenticated changes). InvalidArgument naming `flag` otherwise.
absl::Status ValidateApiAddress(const std::string& address,
                                absl::string_view flag);

// The path xlbd adds for `route`, and the route of one of its own paths
// (nullopt for any other path).
apipb::Path PathOf(const Route& route);
std::optional<Route> OwnRoute(const apipb::Path& path);

// A WatchEvent stream held open on the daemon (GobgpClient::StartWatch).
class DaemonWatch {
 public:
  ~DaemonWatch();  // cancels the stream and joins its thread

 private:
  friend class GobgpClient;
  DaemonWatch() = default;
  void Run();

  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<apipb::WatchEventResponse>> reader_;
  std::function<void(absl::Status)> on_end_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool answered_ = false;
  bool ended_ = false;
  bool cancelled_ = false;
  absl::Status end_status_;
  std::thread thread_;
};

class GobgpClient {
 public:
  // Each client has its own channel (its own connection, no reconnect
  // backoff shared with earlier clients), so a daemon that came back is
  // reached by the next client's first call. Every call is bounded by
  // `timeout`.
  GobgpClient(const std::string& address, absl::Duration timeout);
  ~GobgpClient();

  // xlbd's own paths in the global RIB (IPv4 and IPv6 unicast).
  absl::StatusOr<std::set<Route>> ListOwnRoutes();
  absl::Status Add(const Route& route);
  absl::Status Delete(const Route& route);

  // Opens a WatchEvent stream and returns once the daemon has answered it.
  // `on_end` is called (on the watch's thread) when the stream ends for any
  // reason but the watch's destruction: the daemon went away.
  absl::StatusOr<std::unique_ptr<DaemonWatch>> StartWatch(
      std::function<void(absl::Status)> on_end);

 private:
  std::unique_ptr<grpc::ClientContext> Context() const;

  const std::string address_;
  const absl::Duration timeout_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<apipb::GobgpApi::Stub> stub_;
};

// Removes every path of xlbd's own from the daemon at `address` (xlbd
// --remove). A daemon that does not answer holds no path to remove (a
// restarted gobgpd starts empty): when it refuses the connection that is
// OK with `*reached` false; any other failure is an error.
absl::Status WithdrawOwnRoutes(const std::string& address,
                               absl::Duration timeout, bool* reached,
                               size_t* withdrawn);

}  // namespace xlb::bgp

#endif  // XLB_LB_BGP_GOBGP_CLIENT_H_
