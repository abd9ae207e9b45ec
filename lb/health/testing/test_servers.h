// Real listeners for health-probe tests, each serving on its own thread on
// a loopback address and an ephemeral port until destroyed.
#ifndef XLB_LB_HEALTH_TESTING_TEST_SERVERS_H_
#define XLB_LB_HEALTH_TESTING_TEST_SERVERS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "lb/base/unique_fd.h"
#include "lb/health/tls.h"

namespace xlb::health::testing {

// A socket bound to `address` (127.0.0.1 or ::1) on an ephemeral port.
UniqueFd BindLoopback(const std::string& address, int type, uint16_t* port);

// Accepts TCP connections and closes them at once.
class TcpServer {
 public:
  explicit TcpServer(const std::string& address = "127.0.0.1");
  ~TcpServer();
  uint16_t port() const { return port_; }
  int accepted() const { return accepted_; }

 private:
  uint16_t port_ = 0;  // set while the socket member below is built
  UniqueFd listener_;
  UniqueFd stop_;
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

// A listener that never accepts, its one-slot backlog already full: SYNs
// to it go unanswered, as for a black-holed backend.
class FullBacklogListener {
 public:
  FullBacklogListener();
  uint16_t port() const { return port_; }

 private:
  uint16_t port_ = 0;  // set while the socket member below is built
  UniqueFd listener_;
  std::vector<UniqueFd> fillers_;
};

// A self-signed certificate for "localhost" and 127.0.0.1, made at run time.
struct SelfSignedCertificate {
  std::string cert_pem;
  std::string key_pem;
};
SelfSignedCertificate MakeSelfSignedCertificate();

struct HttpReply {
  int status = 200;
  std::string body = "ok";
  bool chunked = false;
  absl::Duration delay = absl::ZeroDuration();  // before answering
};

// Answers every request with `reply` and closes; optionally over TLS.
class HttpServer {
 public:
  explicit HttpServer(HttpReply reply,
                      const SelfSignedCertificate* tls = nullptr,
                      const std::string& address = "127.0.0.1");
  ~HttpServer();
  uint16_t port() const { return port_; }
  int requests() const { return requests_; }
  std::string last_request() const;

 private:
  uint16_t port_ = 0;  // set while the socket member below is built
  void Serve(UniqueFd conn);

  HttpReply reply_;
  SslCtxPtr tls_;
  UniqueFd listener_;
  UniqueFd stop_;
  std::atomic<int> requests_{0};
  mutable std::mutex mu_;
  std::string last_request_;
  std::vector<std::thread> connections_;
  std::thread thread_;
};

// Replies to each datagram with `reply` (or, when `echo`, with the request
// itself); `silent` never replies.
class UdpServer {
 public:
  struct Behaviour {
    bool echo = true;
    std::string reply;
    bool silent = false;
    // Every second datagram gets "wrong reply" instead.
    bool alternate = false;
  };
  explicit UdpServer(Behaviour behaviour,
                     const std::string& address = "127.0.0.1");
  ~UdpServer();
  uint16_t port() const { return port_; }
  int received() const { return received_; }

 private:
  uint16_t port_ = 0;  // set while the socket member below is built
  UniqueFd socket_;
  UniqueFd stop_;
  std::atomic<int> received_{0};
  std::thread thread_;
};

// A loopback port with nothing bound to it (connections are refused).
uint16_t UnusedPort();

}  // namespace xlb::health::testing

#endif  // XLB_LB_HEALTH_TESTING_TEST_SERVERS_H_
