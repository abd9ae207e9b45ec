#include "lb/bgp/gobgp_client.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "attribute.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace xlb::bgp {
namespace {

constexpr uint32_t kOriginIgp = 0;

apipb::Family FamilyOf(bool v4) {
  apipb::Family family;
  family.set_afi(v4 ? apipb::Family::AFI_IP : apipb::Family::AFI_IP6);
  family.set_safi(apipb::Family::SAFI_UNICAST);
  return family;
}

absl::Status FromGrpc(const grpc::Status& status, absl::string_view what) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(what, ": ", status.error_message()));
}

}  // namespace

absl::Status ValidateApiAddress(const std::string& address,
                                absl::string_view flag) {
  absl::string_view port;
  absl::string_view rest = address;
  if (absl::ConsumePrefix(&rest, "127.0.0.1:") ||
      absl::ConsumePrefix(&rest, "[::1]:")) {
    port = rest;
  }
  uint32_t number = 0;
  if (port.empty() || !absl::SimpleAtoi(port, &number) || number == 0 ||
      number > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, ": \"", address,
        "\" is not 127.0.0.1:PORT or [::1]:PORT (gobgpd's API takes "
        "unauthenticated changes, so it must listen on loopback only)"));
  }
  return absl::OkStatus();
}

apipb::Path PathOf(const Route& route) {
  const bool v4 = route.prefix.is_v4();
  apipb::Path path;
  *path.mutable_family() = FamilyOf(v4);
  apipb::IPAddressPrefix nlri;
  nlri.set_prefix(route.prefix.ToString());
  nlri.set_prefix_len(v4 ? 32 : 128);
  path.mutable_nlri()->PackFrom(nlri);

  apipb::OriginAttribute origin;
  origin.set_origin(kOriginIgp);
  path.add_pattrs()->PackFrom(origin);
  if (v4) {
    apipb::NextHopAttribute next_hop;
    next_hop.set_next_hop(route.next_hop.ToString());
    path.add_pattrs()->PackFrom(next_hop);
  } else {
    apipb::MpReachNLRIAttribute reach;
    *reach.mutable_family() = FamilyOf(false);
    reach.add_next_hops(route.next_hop.ToString());
    reach.add_nlris()->PackFrom(nlri);
    path.add_pattrs()->PackFrom(reach);
  }
  apipb::LargeCommunitiesAttribute communities;
  apipb::LargeCommunity* marker = communities.add_communities();
  marker->set_global_admin(kMarkerGlobalAdmin);
  marker->set_local_data1(kMarkerLocalData1);
  marker->set_local_data2(kMarkerLocalData2);
  path.add_pattrs()->PackFrom(communities);
  return path;
}

std::optional<Route> OwnRoute(const apipb::Path& path) {
  // Local paths have no neighbour: gobgpd prints the nil address.
  if (!path.neighbor_ip().empty() && path.neighbor_ip() != "<nil>") {
    return std::nullopt;
  }
  if (path.family().safi() != apipb::Family::SAFI_UNICAST) return std::nullopt;
  const bool v4 = path.family().afi() == apipb::Family::AFI_IP;
  if (!v4 && path.family().afi() != apipb::Family::AFI_IP6) {
    return std::nullopt;
  }
  apipb::IPAddressPrefix nlri;
  if (!path.nlri().UnpackTo(&nlri) || nlri.prefix_len() != (v4 ? 32u : 128u)) {
    return std::nullopt;
  }
  absl::StatusOr<IpAddress> prefix = IpAddress::Parse(nlri.prefix());
  if (!prefix.ok() || prefix->is_v4() != v4) return std::nullopt;

  bool marked = false;
  std::string next_hop;
  for (const google::protobuf::Any& any : path.pattrs()) {
    apipb::LargeCommunitiesAttribute communities;
    apipb::NextHopAttribute v4_next_hop;
    apipb::MpReachNLRIAttribute reach;
    if (any.UnpackTo(&communities)) {
      for (const apipb::LargeCommunity& c : communities.communities()) {
        marked |= c.global_admin() == kMarkerGlobalAdmin &&
                  c.local_data1() == kMarkerLocalData1 &&
                  c.local_data2() == kMarkerLocalData2;
      }
    } else if (any.UnpackTo(&v4_next_hop)) {
      next_hop = v4_next_hop.next_hop();
    } else if (any.UnpackTo(&reach) && reach.next_hops_size() > 0) {
      next_hop = reach.next_hops(0);
    }
  }
  if (!marked) return std::nullopt;
  absl::StatusOr<IpAddress> hop = IpAddress::Parse(next_hop);
  if (!hop.ok()) return std::nullopt;
  return Route{.prefix = *prefix, .next_hop = *hop};
}

GobgpClient::GobgpClient(const std::string& address, absl::Duration timeout)
    : address_(address), timeout_(timeout) {
  grpc::ChannelArguments args;
  // A private subchannel: a fresh client must not inherit the reconnect
  // backoff of an earlier one's connection to a daemon that was down.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  channel_ = grpc::CreateCustomChannel(
      address, grpc::InsecureChannelCredentials(), args);
  stub_ = apipb::GobgpApi::NewStub(channel_);
}

GobgpClient::~GobgpClient() = default;

std::unique_ptr<grpc::ClientContext> GobgpClient::Context() const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  return context;
}

absl::StatusOr<std::set<Route>> GobgpClient::ListOwnRoutes() {
  std::set<Route> routes;
  for (bool v4 : {true, false}) {
    apipb::ListPathRequest request;
    request.set_table_type(apipb::GLOBAL);
    *request.mutable_family() = FamilyOf(v4);
    std::unique_ptr<grpc::ClientContext> context = Context();
    std::unique_ptr<grpc::ClientReader<apipb::ListPathResponse>> reader =
        stub_->ListPath(context.get(), request);
    apipb::ListPathResponse response;
    while (reader->Read(&response)) {
      for (const apipb::Path& path : response.destination().paths()) {
        if (std::optional<Route> route = OwnRoute(path)) routes.insert(*route);
      }
    }
    if (absl::Status s = FromGrpc(reader->Finish(), "ListPath"); !s.ok()) {
      return s;
    }
  }
  return routes;
}

absl::Status GobgpClient::Add(const Route& route) {
  apipb::AddPathRequest request;
  request.set_table_type(apipb::GLOBAL);
  *request.mutable_path() = PathOf(route);
  apipb::AddPathResponse response;
  std::unique_ptr<grpc::ClientContext> context = Context();
  return FromGrpc(stub_->AddPath(context.get(), request, &response),
                  absl::StrCat("AddPath ", route.ToString()));
}

absl::Status GobgpClient::Delete(const Route& route) {
  // Never without a path: an empty DeletePath removes every local path.
  apipb::DeletePathRequest request;
  request.set_table_type(apipb::GLOBAL);
  *request.mutable_family() = FamilyOf(route.prefix.is_v4());
  *request.mutable_path() = PathOf(route);
  google::protobuf::Empty response;
  std::unique_ptr<grpc::ClientContext> context = Context();
  return FromGrpc(stub_->DeletePath(context.get(), request, &response),
                  absl::StrCat("DeletePath ", route.ToString()));
}

absl::StatusOr<std::unique_ptr<DaemonWatch>> GobgpClient::StartWatch(
    std::function<void(absl::Status)> on_end) {
  std::unique_ptr<DaemonWatch> watch(new DaemonWatch());
  watch->on_end_ = std::move(on_end);
  apipb::WatchEventRequest request;
  request.mutable_peer();  // gobgpd answers with the peers' states at once
  watch->reader_ = stub_->WatchEvent(&watch->context_, request);
  DaemonWatch* w = watch.get();
  watch->thread_ = std::thread([w] { w->Run(); });
  std::unique_lock<std::mutex> lock(watch->mu_);
  watch->cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout_),
                      [w] { return w->answered_ || w->ended_; });
  if (watch->answered_) return watch;
  const absl::Status status =
      watch->ended_ ? watch->end_status_
                    : absl::DeadlineExceededError(
                          "WatchEvent: the daemon did not answer in time");
  lock.unlock();
  return status;  // ~DaemonWatch cancels the stream
}

void DaemonWatch::Run() {
  apipb::WatchEventResponse response;
  while (reader_->Read(&response)) {
    if (response.has_peer() &&
        response.peer().type() ==
            apipb::WatchEventResponse::PeerEvent::END_OF_INIT) {
      std::lock_guard<std::mutex> lock(mu_);
      answered_ = true;
      cv_.notify_all();
    }
  }
  absl::Status status = FromGrpc(reader_->Finish(), "WatchEvent");
  if (status.ok()) status = absl::UnavailableError("WatchEvent: stream ended");
  bool report = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ended_ = true;
    end_status_ = status;
    report = answered_ && !cancelled_;
    cv_.notify_all();
  }
  if (report && on_end_) on_end_(status);
}

DaemonWatch::~DaemonWatch() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
  }
  context_.TryCancel();
  if (thread_.joinable()) thread_.join();
}

absl::Status WithdrawOwnRoutes(const std::string& address,
                               absl::Duration timeout, bool* reached,
                               size_t* withdrawn) {
  *reached = false;
  *withdrawn = 0;
  GobgpClient client(address, timeout);
  absl::StatusOr<std::set<Route>> routes = client.ListOwnRoutes();
  if (absl::IsUnavailable(routes.status())) return absl::OkStatus();
  if (!routes.ok()) return routes.status();
  *reached = true;
  for (const Route& route : *routes) {
    if (absl::Status s = client.Delete(route); !s.ok()) return s;
    ++*withdrawn;
  }
  return absl::OkStatus();
}

}  // namespace xlb::bgp
