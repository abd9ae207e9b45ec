// Transport security of the TCP listener, with certificates made at test
// time by the openssl CLI: TLS is required on TCP, and under mutual TLS only
// clients with a certificate from the configured CA get in.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "api/server.h"
#include "api/service.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "lb/agent/controller.h"
#include "lb/dataplane/in_memory_maps.h"

namespace xlb::api {
namespace {

using ::testing::HasSubstr;

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Two CAs; a server certificate for 127.0.0.1 and a client certificate from
// the first; a client certificate from the second.
class Certificates {
 public:
  Certificates() {
    char dir_template[] = "/tmp/xlb-tls-XXXXXX";
    dir_ = mkdtemp(dir_template);
    ok_ = MakeCa("ca1") && MakeCa("ca2") &&
          MakeCert("server", "ca1",
                   "subjectAltName=IP:127.0.0.1,DNS:localhost") &&
          MakeCert("client", "ca1", "") && MakeCert("stranger", "ca2", "");
  }
  ~Certificates() { std::filesystem::remove_all(dir_); }
  bool ok() const { return ok_; }
  std::string Path(const std::string& name) const {
    return absl::StrCat(dir_, "/", name);
  }

 private:
  bool Run(const std::string& command) {
    return std::system(absl::StrCat(command, " >/dev/null 2>&1").c_str()) == 0;
  }
  bool MakeCa(const std::string& name) {
    return Run(absl::StrCat(
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=", name,
        " -keyout ", Path(name + ".key"), " -out ", Path(name + ".pem")));
  }
  bool MakeCert(const std::string& name, const std::string& ca,
                const std::string& san) {
    std::ofstream(Path(name + ".ext"))
        << (san.empty() ? "basicConstraints=CA:FALSE\n" : san + "\n");
    return Run(absl::StrCat("openssl req -newkey rsa:2048 -nodes -subj /CN=",
                            name, " -keyout ", Path(name + ".key"), " -out ",
                            Path(name + ".csr"))) &&
           Run(absl::StrCat("openssl x509 -req -days 1 -in ",
                            Path(name + ".csr"), " -CA ", Path(ca + ".pem"),
                            " -CAkey ", Path(ca + ".key"),
                            " -CAcreateserial -out ", Path(name + ".pem"),
                            " -extfile ", Path(name + ".ext")));
  }

  std::string dir_;
  bool ok_ = false;
};

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { certs_ = new Certificates(); }
  static void TearDownTestSuite() { delete certs_; }

  void SetUp() override {
    ASSERT_TRUE(certs_->ok()) << "openssl could not make test certificates";
    balancer_ = *Balancer::Create(&maps_);
    controller_ =
        *agent::Controller::Create(balancer_.get(), agent::ControllerOptions());
    service_ = std::make_unique<LoadBalancerService>(controller_.get(), nullptr,
                                                     AgentInfo(), nullptr);
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  void StartTls(bool mutual) {
    ListenerOptions options{.unix_socket = "",
                            .tcp_address = "127.0.0.1:0",
                            .tls_cert_file = certs_->Path("server.pem"),
                            .tls_key_file = certs_->Path("server.key")};
    if (mutual) options.tls_client_ca_file = certs_->Path("ca1.pem");
    auto server = ApiServer::Start(options, {service_.get()});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  // GetConfig over TLS trusting ca1, presenting `client` ("" for none).
  grpc::Status Call(const std::string& client) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = Read(certs_->Path("ca1.pem"));
    if (!client.empty()) {
      ssl.pem_private_key = Read(certs_->Path(client + ".key"));
      ssl.pem_cert_chain = Read(certs_->Path(client + ".pem"));
    }
    auto channel =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->tcp_port()),
                            grpc::SslCredentials(ssl));
    auto stub = v1::LoadBalancer::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(5));
    v1::GetConfigResponse response;
    return stub->GetConfig(&context, v1::GetConfigRequest(), &response);
  }

  static Certificates* certs_;
  InMemoryMaps maps_;
  std::unique_ptr<Balancer> balancer_;
  std::unique_ptr<agent::Controller> controller_;
  std::unique_ptr<LoadBalancerService> service_;
  std::unique_ptr<ApiServer> server_;
};

Certificates* TlsTest::certs_ = nullptr;

TEST_F(TlsTest, MutualTlsAcceptsAClientCertificateFromTheCa) {
  StartTls(/*mutual=*/true);
  grpc::Status status = Call("client");
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(TlsTest, MutualTlsRefusesAClientWithoutCertificate) {
  StartTls(/*mutual=*/true);
  EXPECT_EQ(Call("").error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, MutualTlsRefusesACertificateFromAnotherCa) {
  StartTls(/*mutual=*/true);
  EXPECT_EQ(Call("stranger").error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, ServerOnlyTlsAcceptsClientsWithoutCertificates) {
  StartTls(/*mutual=*/false);
  grpc::Status status = Call("");
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(TlsTest, PlaintextClientCannotTalkToATlsListener) {
  StartTls(/*mutual=*/false);
  auto stub = v1::LoadBalancer::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->tcp_port()),
                          grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(5));
  v1::GetConfigResponse response;
  EXPECT_FALSE(stub->GetConfig(&context, {}, &response).ok());
}

// gRPC itself only says that it could not start: each of these names the
// file at fault instead.
TEST_F(TlsTest, CertificateAndKeyThatDoNotMatchAreNamed) {
  auto server = ApiServer::Start(
      ListenerOptions{.unix_socket = "",
                      .tcp_address = "127.0.0.1:0",
                      .tls_cert_file = certs_->Path("server.pem"),
                      .tls_key_file = certs_->Path("client.key")},
      {service_.get()});
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(server.status().message(),
            absl::StrCat("--tls-key: ", certs_->Path("client.key"),
                         " is not the private key of the certificate in "
                         "--tls-cert ",
                         certs_->Path("server.pem")));
}

TEST_F(TlsTest, PemFilesOfTheWrongKindAreNamed) {
  ASSERT_EQ(std::system(
                absl::StrCat("openssl pkey -in ", certs_->Path("server.key"),
                             " -aes256 -passout pass:secret -out ",
                             certs_->Path("encrypted.key"), " >/dev/null 2>&1")
                    .c_str()),
            0);
  const struct {
    std::string cert, key, ca, error;
  } kCases[] = {
      {"server.key", "server.key", "",
       "--tls-cert: " + certs_->Path("server.key") +
           " holds no PEM certificate"},
      {"server.pem", "server.pem", "",
       "--tls-key: " + certs_->Path("server.pem") +
           " holds no unencrypted PEM private key"},
      // Refused, not a passphrase prompt.
      {"server.pem", "encrypted.key", "",
       "--tls-key: " + certs_->Path("encrypted.key") +
           " holds no unencrypted PEM private key"},
      {"server.pem", "server.key", "ca1.key",
       "--tls-client-ca: " + certs_->Path("ca1.key") +
           " holds no PEM certificate"},
  };
  for (const auto& c : kCases) {
    ListenerOptions options{.unix_socket = "",
                            .tcp_address = "127.0.0.1:0",
                            .tls_cert_file = certs_->Path(c.cert),
                            .tls_key_file = certs_->Path(c.key)};
    if (!c.ca.empty()) options.tls_client_ca_file = certs_->Path(c.ca);
    auto server = ApiServer::Start(options, {service_.get()});
    ASSERT_FALSE(server.ok()) << c.error;
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(server.status().message(), HasSubstr(c.error));
  }
}

TEST(ListenerOptionsTest, TcpWithoutTlsIsRefused) {
  absl::Status status = ValidateListenerOptions(
      ListenerOptions{.unix_socket = "", .tcp_address = "0.0.0.0:50051"});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("--insecure-tcp-without-tls"));
}

TEST(ListenerOptionsTest, TcpWithoutTlsNeedsTheLoudFlag) {
  EXPECT_TRUE(
      ValidateListenerOptions(ListenerOptions{.unix_socket = "",
                                              .tcp_address = "127.0.0.1:0",
                                              .insecure_tcp_without_tls = true})
          .ok());
}

TEST(ListenerOptionsTest, IncompleteTlsIsRefused) {
  EXPECT_THAT(
      ValidateListenerOptions(ListenerOptions{.tcp_address = "127.0.0.1:0",
                                              .tls_cert_file = "/x.pem"})
          .message(),
      HasSubstr("--tls-key"));
  EXPECT_THAT(
      ValidateListenerOptions(ListenerOptions{.tcp_address = "127.0.0.1:0",
                                              .tls_client_ca_file = "/ca.pem"})
          .message(),
      HasSubstr("--tls-client-ca"));
  EXPECT_THAT(
      ValidateListenerOptions(ListenerOptions{.unix_socket = ""}).message(),
      HasSubstr("no API listener"));
}

TEST(ListenerOptionsTest, UnreadableCertificateIsAClearError) {
  InMemoryMaps maps;
  auto balancer = *Balancer::Create(&maps);
  auto controller =
      *agent::Controller::Create(balancer.get(), agent::ControllerOptions());
  LoadBalancerService service(controller.get(), nullptr, AgentInfo(), nullptr);
  auto server =
      ApiServer::Start(ListenerOptions{.unix_socket = "",
                                       .tcp_address = "127.0.0.1:0",
                                       .tls_cert_file = "/nonexistent/cert.pem",
                                       .tls_key_file = "/nonexistent/key.pem"},
                       {&service});
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(server.status().message(),
              HasSubstr("--tls-cert: cannot read /nonexistent/cert.pem"));
}

}  // namespace
}  // namespace xlb::api
