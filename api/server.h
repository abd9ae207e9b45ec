// The gRPC server of xlbd: listeners, transport security, resource limits,
// and the standard grpc.health.v1 and reflection (v1 and v1alpha) services
// beside xlb.v1.
//
// Listeners: a Unix socket by default (mode 0600, owned by root when run as
// root, in a directory of mode 0750 that only its owner can write): no
// network exposure. TCP only with TLS (server certificate and key, checked
// to match before serving); with a client CA, clients must present a
// certificate it signed (mutual TLS). TCP without TLS is refused unless
// insecure_tcp_without_tls is set.
//
// Limits (ServerLimits) bound what clients hold together and one by one, so
// that an idle, slow or greedy client cannot starve the others; past a
// transport limit a call fails with RESOURCE_EXHAUSTED (see docs/api.md).
#ifndef XLB_API_SERVER_H_
#define XLB_API_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

namespace xlb::api {

inline constexpr char kDefaultUnixSocket[] = "/run/xlb/xlbd.sock";
// Largest message xlbd receives or sends by default; clients that fetch a
// large configuration raise their receive limit to it (gRPC's is 4 MiB).
inline constexpr int kMaxMessageBytes = 16 << 20;

struct ServerLimits {
  // Largest message a client may send to xlbd or receive from it.
  int max_message_bytes = kMaxMessageBytes;
  // Threads running calls, all clients together; a call that finds none
  // free fails with RESOURCE_EXHAUSTED ("Server Threadpool Exhausted").
  int max_threads = 256;
  // Calls open at once on one connection; more wait in the client.
  int max_streams_per_connection = 32;
  // Transport buffers, all connections together.
  size_t max_memory_bytes = size_t{256} << 20;
  // A connection must finish its TLS and HTTP/2 handshakes within this.
  absl::Duration handshake_timeout = absl::Seconds(10);
  // A connection with no call open this long is closed (GOAWAY).
  absl::Duration idle_timeout = absl::Minutes(5);
  // A connection silent this long is pinged, and closed when the ping is
  // not answered within keepalive_timeout: dead clients free their calls.
  absl::Duration keepalive_time = absl::Minutes(1);
  absl::Duration keepalive_timeout = absl::Seconds(20);
  // Clients may ping this often (gRPC's default of 5 minutes would
  // disconnect a client that keeps a watch alive with 30 s pings).
  absl::Duration min_client_ping_interval = absl::Seconds(10);
};

struct ListenerOptions {
  // Empty: no Unix socket listener.
  std::string unix_socket = kDefaultUnixSocket;
  // "host:port"; empty: no TCP listener. Port 0 picks a free port.
  std::string tcp_address;
  // PEM files for the TCP listener.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Set: mutual TLS, clients need a certificate signed by this CA.
  std::string tls_client_ca_file;
  // Allows TCP without TLS (anyone who reaches the port controls the LB).
  bool insecure_tcp_without_tls = false;
  ServerLimits limits;
};

// InvalidArgument naming the option when the combination is unsafe or
// incomplete (TCP without TLS, a key without a certificate, a TCP address
// without host or port, ...).
absl::Status ValidateListenerOptions(const ListenerOptions& options);

class ApiServer {
 public:
  // Starts serving `services` on the configured listeners.
  static absl::StatusOr<std::unique_ptr<ApiServer>> Start(
      const ListenerOptions& options,
      const std::vector<grpc::Service*>& services);
  ~ApiServer();

  // Stops accepting calls and waits (up to `grace`) for running ones.
  void Shutdown(absl::Duration grace = absl::Seconds(2));

  // The TCP port bound (useful with port 0); 0 without a TCP listener.
  int tcp_port() const { return tcp_port_; }
  grpc::Server* server() { return server_.get(); }

 private:
  ApiServer() = default;

  std::unique_ptr<grpc::Server> server_;
  std::string unix_socket_;
  int tcp_port_ = 0;
  bool shut_down_ = false;
};

}  // namespace xlb::api

#endif  // XLB_API_SERVER_H_
