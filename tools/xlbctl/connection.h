// How xlbctl reaches the agent: the address forms it accepts, the channel
// (plain on a Unix socket, TLS or mutual TLS over TCP), and the translation
// of gRPC errors into absl::Status with a message an operator can act on.
#ifndef XLB_TOOLS_XLBCTL_CONNECTION_H_
#define XLB_TOOLS_XLBCTL_CONNECTION_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "xlb/v1/xlb.grpc.pb.h"

namespace xlb::xlbctl {

// xlbd's default listening socket (its --socket flag's default).
inline constexpr char kDefaultSocketPath[] = "/run/xlb/xlbd.sock";
// Environment variable that sets the server address when --server is not
// given (several separated by commas).
inline constexpr char kServerEnvVar[] = "XLB_SERVER";

struct ConnectionOptions {
  // "unix:PATH", an absolute PATH (a Unix socket), or "HOST:PORT" (TCP with
  // TLS). Empty: the default socket.
  std::string server;
  // PEM files for TCP: the CA that signed the server's certificate (empty:
  // the system's roots), and the client's certificate and key for mutual
  // TLS (both or neither).
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  // Deadline of each unary call.
  absl::Duration timeout = absl::Seconds(10);
};

// The gRPC target for `server`, e.g. "unix:/run/xlb/xlbd.sock" or
// "lb1.example:50051"; INVALID_ARGUMENT when it is neither form.
absl::StatusOr<std::string> ResolveTarget(const std::string& server);

// True when `target` (from ResolveTarget) is a Unix socket.
bool IsUnixTarget(const std::string& target);

class Connection {
 public:
  // Builds the channel (it connects lazily, on the first call). Fails on a
  // malformed address or an unreadable TLS file.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(
      const ConnectionOptions& options);

  v1::LoadBalancer::Stub& stub() { return *stub_; }
  const std::string& target() const { return target_; }
  absl::Duration timeout() const { return timeout_; }

  // Waits up to `timeout` for the channel to connect; false if it did not.
  bool WaitForConnected(absl::Duration timeout);

  // A client context with the per-call deadline set.
  std::unique_ptr<grpc::ClientContext> NewContext() const;

  // `status` as an absl::Status: same code, the server's message, and for
  // an unreachable agent where xlbctl tried and what to check.
  absl::Status Translate(const grpc::Status& status) const;

 private:
  Connection(std::string target, std::shared_ptr<grpc::Channel> channel,
             absl::Duration timeout);

  std::string target_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::LoadBalancer::Stub> stub_;
  absl::Duration timeout_;
};

}  // namespace xlb::xlbctl

#endif  // XLB_TOOLS_XLBCTL_CONNECTION_H_
