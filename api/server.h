// The gRPC server of xlbd: listeners, transport security, and the standard
// grpc.health.v1 and reflection services beside xlb.v1.
//
// Listeners: a Unix socket by default (mode 0600, owned by root when run as
// root): no network exposure. TCP only with TLS (server certificate and
// key); with a client CA, clients must present a certificate it signed
// (mutual TLS). TCP without TLS is refused unless
// insecure_tcp_without_tls is set.
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
};

// InvalidArgument naming the option when the combination is unsafe or
// incomplete (TCP without TLS, a key without a certificate, ...).
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
