// The /metrics HTTP server over real loopback sockets: what it answers, and
// that idle, greedy or endless clients hold only their own connections while
// scrapes from elsewhere are served. Clients pick their source address in
// 127.0.0.0/8 to act as different hosts.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/metrics.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lb/base/unique_fd.h"

namespace xlb::api {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kBody[] = "xlb_uptime_seconds 1\n";

// A TCP connection from `source` (127.x.y.z) to 127.0.0.1:port. Reads give
// up after 60 s so that a broken server fails the test instead of hanging.
UniqueFd Connect(int port, const char* source = "127.0.0.1") {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in from{.sin_family = AF_INET};
  inet_pton(AF_INET, source, &from.sin_addr);
  sockaddr_in to{.sin_family = AF_INET,
                 .sin_port = htons(static_cast<uint16_t>(port))};
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  timeval guard{.tv_sec = 60, .tv_usec = 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &guard, sizeof(guard));
  EXPECT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&from), sizeof(from)), 0)
      << source;
  EXPECT_EQ(connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof(to)), 0)
      << std::strerror(errno);
  return fd;
}

// Everything the server sends until it closes (or the 60 s guard).
std::string ReadAll(int fd) {
  std::string out;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) out.append(buffer, n);
  return out;
}

std::string Request(int port, const std::string& request,
                    const char* source = "127.0.0.1") {
  UniqueFd fd = Connect(port, source);
  EXPECT_EQ(send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  return ReadAll(fd.get());
}

std::string Scrape(int port, const char* source = "127.0.0.1") {
  return Request(
      port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      source);
}

// True when the server has closed `fd` (read sees EOF or a reset).
bool ClosedByServer(int fd) {
  char c;
  const ssize_t n = read(fd, &c, 1);
  return n == 0 || (n < 0 && errno == ECONNRESET);
}

// True when `fd` is open with nothing to read: the server holds it.
bool HeldOpen(int fd) {
  pollfd p{.fd = fd, .events = POLLIN};
  return poll(&p, 1, 0) == 0;
}

class MetricsServerTest : public ::testing::Test {
 protected:
  void Start(const MetricsLimits& limits = {}) {
    auto server = MetricsServer::Start(
        "127.0.0.1:0", [] { return std::string(kBody); }, limits);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }
  int port() const { return server_->port(); }

  std::unique_ptr<MetricsServer> server_;
};

TEST_F(MetricsServerTest, AnswersGetAndHeadOnMetricsAnd404Or405Otherwise) {
  Start();
  const std::string get = Scrape(port());
  EXPECT_THAT(get, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(get, HasSubstr("Content-Type: text/plain; version=0.0.4; "
                             "charset=utf-8\r\n"));
  EXPECT_THAT(get, HasSubstr(absl::StrCat("\r\n\r\n", kBody)));

  const std::string head = Request(
      port(), "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_THAT(head, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(head, Not(HasSubstr(kBody)));

  const std::string other = Request(
      port(), "GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_THAT(other, StartsWith("HTTP/1.1 404 Not Found\r\n"));
  EXPECT_THAT(other, HasSubstr("try /metrics\n"));

  const std::string post =
      Request(port(),
              "POST /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
              "Content-Length: 0\r\n\r\n");
  EXPECT_THAT(post, StartsWith("HTTP/1.1 405 Method Not Allowed\r\n"));
  EXPECT_THAT(post, HasSubstr("Allow: GET, HEAD\r\n"));
  EXPECT_THAT(post, Not(HasSubstr(kBody)));
}

TEST_F(MetricsServerTest, AnswersSeveralRequestsOnOneKeptAliveConnection) {
  Start();
  UniqueFd fd = Connect(port());
  const std::string request = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
    std::string response;
    char buffer[4096];
    while (response.find(kBody) == std::string::npos) {
      ssize_t n = read(fd.get(), buffer, sizeof(buffer));
      ASSERT_GT(n, 0) << "request " << i;
      response.append(buffer, n);
    }
    EXPECT_THAT(response, StartsWith("HTTP/1.1 200 OK\r\n"));
  }
}

// The defect: one idle connection delayed every scrape, 30 stopped them.
TEST_F(MetricsServerTest, ScrapeSucceedsWhileFortyIdleConnectionsAreOpen) {
  Start();  // the production limits
  std::vector<UniqueFd> idle;
  for (int host = 2; host <= 6; ++host) {  // 5 hosts x 8 connections
    const std::string source = absl::StrCat("127.0.0.", host);
    for (int i = 0; i < 8; ++i) idle.push_back(Connect(port(), source.c_str()));
  }
  const std::string scrape = Scrape(port());
  EXPECT_THAT(scrape, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(scrape, HasSubstr(kBody));
  for (const UniqueFd& fd : idle) EXPECT_TRUE(HeldOpen(fd.get()));
}

TEST_F(MetricsServerTest, OneAddressGetsAtMostItsShareOfConnections) {
  Start(MetricsLimits{.connections = 64, .connections_per_ip = 8});
  std::vector<UniqueFd> greedy;
  for (int i = 0; i < 20; ++i) greedy.push_back(Connect(port(), "127.0.0.2"));
  // Accepted after the greedy ones, so they have all been dealt with.
  EXPECT_THAT(Scrape(port()), StartsWith("HTTP/1.1 200 OK\r\n"));
  for (int i = 0; i < 20; ++i) {
    if (i < 8) {
      EXPECT_TRUE(HeldOpen(greedy[i].get())) << i;
    } else {
      EXPECT_TRUE(ClosedByServer(greedy[i].get())) << i;
    }
  }
}

TEST_F(MetricsServerTest, AtTheConnectionLimitOthersAreServedAfterRelease) {
  Start(MetricsLimits{.connections = 4, .connections_per_ip = 4});
  std::vector<UniqueFd> idle;
  for (int i = 0; i < 4; ++i) idle.push_back(Connect(port(), "127.0.0.2"));
  // The limit is reached: a scrape waits (or is turned away), it is never
  // answered while the four are open.
  UniqueFd waiting = Connect(port());
  const std::string request =
      "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(send(waiting.get(), request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  pollfd p{.fd = waiting.get(), .events = POLLIN};
  ASSERT_EQ(poll(&p, 1, 200), 0) << "answered past the connection limit";
  idle.clear();  // release
  EXPECT_THAT(ReadAll(waiting.get()), StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(Scrape(port()), StartsWith("HTTP/1.1 200 OK\r\n"));
}

TEST_F(MetricsServerTest, HeadersOverTheMemoryLimitAreAnswered431) {
  Start();  // 16 KiB per connection
  const std::string big = absl::StrCat(
      "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ", std::string(20000, 'a'),
      "\r\n\r\n");
  EXPECT_THAT(Request(port(), big),
              StartsWith("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
}

TEST_F(MetricsServerTest, ClientThatSendsHeadersForeverIsCut) {
  Start();
  UniqueFd fd = Connect(port(), "127.0.0.2");
  const std::string start = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
  ASSERT_EQ(send(fd.get(), start.data(), start.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(start.size()));
  const std::string header =
      absl::StrCat("X-Padding: ", std::string(100, 'a'), "\r\n");
  size_t sent = 0;
  bool cut = false;
  while (sent < (size_t{4} << 20)) {  // bounded: 4 MiB of headers at most
    if (send(fd.get(), header.data(), header.size(), MSG_NOSIGNAL) < 0) {
      cut = true;  // the server closed the connection
      break;
    }
    sent += header.size();
  }
  if (!cut) {
    const std::string response = ReadAll(fd.get());
    EXPECT_THAT(response, StartsWith("HTTP/1.1 431")) << sent << " bytes sent";
  }
  EXPECT_THAT(Scrape(port()), StartsWith("HTTP/1.1 200 OK\r\n"));
}

TEST_F(MetricsServerTest, SilentAndStalledClientsAreDisconnected) {
  Start(MetricsLimits{.idle_timeout_seconds = 1});
  UniqueFd silent = Connect(port(), "127.0.0.2");
  UniqueFd stalled = Connect(port(), "127.0.0.3");
  const std::string half = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
  ASSERT_EQ(send(stalled.get(), half.data(), half.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(half.size()));
  EXPECT_TRUE(ClosedByServer(silent.get()));
  EXPECT_TRUE(ClosedByServer(stalled.get()));
}

TEST(MetricsServerStartTest, BadAddressesAreClearErrors) {
  auto render = [] { return std::string(); };
  EXPECT_THAT(MetricsServer::Start("9470", render).status().message(),
              HasSubstr("--metrics-address: \"9470\" is not host:port"));
  EXPECT_THAT(MetricsServer::Start("localhost:9470", render).status().message(),
              HasSubstr("\"localhost\" is not a numeric address"));
  auto first = MetricsServer::Start("127.0.0.1:0", render);
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string taken = absl::StrCat("127.0.0.1:", (*first)->port());
  EXPECT_THAT(MetricsServer::Start(taken, render).status().message(),
              HasSubstr(absl::StrCat("--metrics-address: cannot listen on ",
                                     taken, ": Address already in use")));
}

TEST(MetricsServerStartTest, ServesOnIpv6Loopback) {
  auto server =
      MetricsServer::Start("[::1]:0", [] { return std::string(kBody); });
  ASSERT_TRUE(server.ok()) << server.status();
  UniqueFd fd(socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in6 to{.sin6_family = AF_INET6,
                  .sin6_port = htons(static_cast<uint16_t>((*server)->port()))};
  to.sin6_addr = in6addr_loopback;
  ASSERT_EQ(connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof(to)), 0);
  const std::string request =
      "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  EXPECT_THAT(ReadAll(fd.get()), HasSubstr(kBody));
}

}  // namespace
}  // namespace xlb::api
