// The gRPC listeners' bounds (ServerLimits) over real sockets: message size,
// handler threads, streams per connection, and how connections that stall
// in the handshake, sit idle or stop answering are closed; plus the
// --listen-tcp errors that name their real cause.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/server.h"
#include "api/service.h"
#include "gmock/gmock.h"
#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/impl/client_unary_call.h"
#include "gtest/gtest.h"
#include "lb/agent/controller.h"
#include "lb/base/unique_fd.h"
#include "lb/dataplane/in_memory_maps.h"
#include "xlb/v1/xlb.grpc.pb.h"

namespace xlb::api {
namespace {

using ::testing::HasSubstr;
namespace rv1 = grpc::reflection::v1;
using ReflectionStream =
    grpc::ClientReaderWriter<rv1::ServerReflectionRequest,
                             rv1::ServerReflectionResponse>;

std::chrono::system_clock::time_point In(int seconds) {
  return std::chrono::system_clock::now() + std::chrono::seconds(seconds);
}

// A reflection stream that holds a server thread until it is finished.
struct OpenStream {
  std::unique_ptr<grpc::ClientContext> context =
      std::make_unique<grpc::ClientContext>();
  std::unique_ptr<ReflectionStream> stream;
};

class ListenerLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    balancer_ = *Balancer::Create(&maps_);
    controller_ =
        *agent::Controller::Create(balancer_.get(), agent::ControllerOptions());
    service_ = std::make_unique<LoadBalancerService>(controller_.get(), nullptr,
                                                     AgentInfo(), nullptr);
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  void Start(const ServerLimits& limits) {
    auto server =
        ApiServer::Start(ListenerOptions{.unix_socket = "",
                                         .tcp_address = "127.0.0.1:0",
                                         .insecure_tcp_without_tls = true,
                                         .limits = limits},
                         {service_.get()});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  // A channel on its own connection.
  std::shared_ptr<grpc::Channel> NewChannel() {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetMaxReceiveMessageSize(-1);
    return grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", server_->tcp_port()),
        grpc::InsecureChannelCredentials(), args);
  }

  static grpc::Status GetConfig(const std::shared_ptr<grpc::Channel>& channel) {
    grpc::ClientContext context;
    context.set_deadline(In(30));
    v1::GetConfigResponse response;
    return v1::LoadBalancer::NewStub(channel)->GetConfig(
        &context, v1::GetConfigRequest(), &response);
  }

  // Opens a reflection stream and waits for its first answer, so that a
  // server thread is running it. The status is not OK when it was refused.
  static grpc::Status Open(const std::shared_ptr<grpc::Channel>& channel,
                           OpenStream* open, int deadline_seconds = 30) {
    open->context->set_deadline(In(deadline_seconds));
    open->stream =
        rv1::ServerReflection::NewStub(channel)->ServerReflectionInfo(
            open->context.get());
    rv1::ServerReflectionRequest request;
    request.set_list_services("");
    rv1::ServerReflectionResponse response;
    if (open->stream->Write(request) && open->stream->Read(&response)) {
      return grpc::Status::OK;
    }
    return open->stream->Finish();
  }

  static void Close(OpenStream* open) {
    open->stream->WritesDone();
    rv1::ServerReflectionResponse ignored;
    while (open->stream->Read(&ignored)) {
    }
    EXPECT_TRUE(open->stream->Finish().ok());
  }

  // A raw TCP connection that reads for at most 60 s at a time.
  UniqueFd RawConnect() {
    UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in to{
        .sin_family = AF_INET,
        .sin_port = htons(static_cast<uint16_t>(server_->tcp_port()))};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    timeval guard{.tv_sec = 60, .tv_usec = 0};
    setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &guard, sizeof(guard));
    EXPECT_EQ(connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof(to)),
              0);
    return fd;
  }

  // Reads (answering nothing) until the server closes: true, or until the
  // 60 s guard: false.
  static bool ServerCloses(int fd) {
    char buffer[4096];
    for (;;) {
      const ssize_t n = read(fd, buffer, sizeof(buffer));
      if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
      if (n < 0) return false;
    }
  }

  InMemoryMaps maps_;
  std::unique_ptr<Balancer> balancer_;
  std::unique_ptr<agent::Controller> controller_;
  std::unique_ptr<LoadBalancerService> service_;
  std::unique_ptr<ApiServer> server_;
};

// A GetConfigRequest carrying `bytes` of an unknown field (kept, ignored).
grpc::ByteBuffer PaddedRequest(size_t bytes) {
  std::string payload;
  // Field 1000, wire type 2: tag varint 0xC2 0x3E, then the length varint.
  payload += "\xC2\x3E";
  for (size_t n = bytes;; n >>= 7) {
    if (n < 0x80) {
      payload.push_back(static_cast<char>(n));
      break;
    }
    payload.push_back(static_cast<char>((n & 0x7F) | 0x80));
  }
  payload.append(bytes, 'x');
  grpc::Slice slice(payload);
  return grpc::ByteBuffer(&slice, 1);
}

grpc::Status RawGetConfig(const std::shared_ptr<grpc::Channel>& channel,
                          const grpc::ByteBuffer& request) {
  const grpc::internal::RpcMethod method("/xlb.v1.LoadBalancer/GetConfig",
                                         grpc::internal::RpcMethod::NORMAL_RPC);
  grpc::ClientContext context;
  context.set_deadline(In(60));
  grpc::ByteBuffer response;
  return grpc::internal::BlockingUnaryCall(channel.get(), method, &context,
                                           request, &response);
}

TEST_F(ListenerLimitsTest,
       MessagesUpToTheDocumentedLimitPassLargerOnesAreRefused) {
  Start(ServerLimits());  // production: 16 MiB
  auto channel = NewChannel();
  EXPECT_TRUE(RawGetConfig(channel, PaddedRequest(15 << 20)).ok());
  grpc::Status big = RawGetConfig(channel, PaddedRequest(16 << 20));
  EXPECT_EQ(big.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(big.error_message(), HasSubstr("16777216"));
  EXPECT_TRUE(GetConfig(channel).ok()) << "the server stays up";
}

TEST_F(ListenerLimitsTest,
       CallsPastTheThreadLimitAreResourceExhaustedUntilFreed) {
  constexpr int kThreads = 4;
  Start(ServerLimits{.max_threads = kThreads});
  auto channel = NewChannel();
  std::vector<std::unique_ptr<OpenStream>> streams;
  grpc::Status refused;
  for (int i = 0; i <= kThreads && refused.ok(); ++i) {
    streams.push_back(std::make_unique<OpenStream>());
    refused = Open(channel, streams.back().get());
    if (!refused.ok()) streams.pop_back();
  }
  ASSERT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << "no call refused with " << streams.size() << " streams open";
  EXPECT_THAT(refused.error_message(), HasSubstr("Threadpool Exhausted"));
  for (auto& open : streams) Close(open.get());
  streams.clear();
  grpc::Status after;
  // Threads return to the pool once their calls end.
  for (int i = 0; i < 100; ++i) {
    after = GetConfig(channel);
    if (after.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(after.ok()) << after.error_message();
}

TEST_F(ListenerLimitsTest, OneConnectionsStreamsAreCappedOthersStillServed) {
  Start(ServerLimits{.max_streams_per_connection = 2});
  auto greedy = NewChannel();
  OpenStream a, b, c;
  ASSERT_TRUE(Open(greedy, &a).ok());
  ASSERT_TRUE(Open(greedy, &b).ok());
  // A third stream on the same connection waits for a free slot...
  EXPECT_EQ(Open(greedy, &c, /*deadline_seconds=*/1).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  // ... while another connection is served.
  auto other = NewChannel();
  EXPECT_TRUE(GetConfig(other).ok());
  Close(&a);
  OpenStream d;
  EXPECT_TRUE(Open(greedy, &d).ok());
  Close(&b);
  Close(&d);
}

TEST_F(ListenerLimitsTest, ConnectionThatNeverHandshakesIsClosed) {
  Start(ServerLimits{.handshake_timeout = absl::Seconds(1)});
  UniqueFd silent = RawConnect();
  EXPECT_TRUE(ServerCloses(silent.get()));
  EXPECT_TRUE(GetConfig(NewChannel()).ok());
}

TEST_F(ListenerLimitsTest, PeerThatStopsAnsweringIsClosedByKeepalive) {
  Start(ServerLimits{.idle_timeout = absl::Hours(1),
                     .keepalive_time = absl::Seconds(1),
                     .keepalive_timeout = absl::Seconds(1)});
  UniqueFd peer = RawConnect();
  // An HTTP/2 client preface, empty SETTINGS and the ack of the server's
  // SETTINGS; after that the peer reads but never answers a PING.
  const std::string hello = std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") +
                            std::string("\0\0\0\x04\0\0\0\0\0", 9) +
                            std::string("\0\0\0\x04\x01\0\0\0\0", 9);
  ASSERT_EQ(send(peer.get(), hello.data(), hello.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(hello.size()));
  EXPECT_TRUE(ServerCloses(peer.get()));
}

TEST_F(ListenerLimitsTest, IdleConnectionIsClosed) {
  Start(ServerLimits{.idle_timeout = absl::Seconds(1)});
  auto channel = NewChannel();
  ASSERT_TRUE(GetConfig(channel).ok());
  ASSERT_EQ(channel->GetState(false), GRPC_CHANNEL_READY);
  // The server's GOAWAY takes the channel out of READY.
  ASSERT_TRUE(channel->WaitForStateChange(GRPC_CHANNEL_READY, In(60)));
  EXPECT_NE(channel->GetState(false), GRPC_CHANNEL_READY);
  EXPECT_TRUE(GetConfig(channel).ok()) << "the client reconnects";
}

TEST_F(ListenerLimitsTest, PortInUseIsNamedAsSuch) {
  Start(ServerLimits());
  const std::string taken = absl::StrCat("127.0.0.1:", server_->tcp_port());
  auto second =
      ApiServer::Start(ListenerOptions{.unix_socket = "",
                                       .tcp_address = taken,
                                       .insecure_tcp_without_tls = true},
                       {service_.get()});
  ASSERT_FALSE(second.ok()) << "two servers share the port";
  EXPECT_EQ(second.status().message(),
            absl::StrCat("--listen-tcp=", taken,
                         ": cannot listen: Address already in use"));
}

TEST(ListenTcpAddressTest, EachMalformedAddressNamesWhatIsWrong) {
  const struct {
    const char* address;
    const char* problem;
  } kCases[] = {
      {"7443", "--listen-tcp=7443: the host is missing: give host:port"},
      {":7443", "--listen-tcp=:7443: the host is missing: give host:port"},
      {"127.0.0.1", "--listen-tcp=127.0.0.1: the port is missing"},
      {"127.0.0.1:", "--listen-tcp=127.0.0.1:: the port is missing"},
      {"[::1]", "--listen-tcp=[::1]: the port is missing"},
      {"127.0.0.1:http",
       "--listen-tcp=127.0.0.1:http: port \"http\" is not a number from 0 to "
       "65535"},
      {"127.0.0.1:65536", "port \"65536\" is not a number from 0 to 65535"},
      {"127.0.0.1:-1", "port \"-1\" is not a number"},
      {"::1:7443",
       "--listen-tcp=::1:7443: an IPv6 host goes in brackets: [::1]:7443"},
      {"[::1", "--listen-tcp=[::1: \"[\" without \"]\""},
      {"[::1]7443", "expected \":port\" after \"]\""},
  };
  for (const auto& c : kCases) {
    absl::Status status = ValidateListenerOptions(
        ListenerOptions{.unix_socket = "",
                        .tcp_address = c.address,
                        .insecure_tcp_without_tls = true});
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.address;
    EXPECT_THAT(status.message(), HasSubstr(c.problem)) << c.address;
  }
  for (const char* good : {"127.0.0.1:7443", "[::]:0", "localhost:7443"}) {
    EXPECT_TRUE(ValidateListenerOptions(
                    ListenerOptions{.unix_socket = "",
                                    .tcp_address = good,
                                    .insecure_tcp_without_tls = true})
                    .ok())
        << good;
  }
}

}  // namespace
}  // namespace xlb::api
