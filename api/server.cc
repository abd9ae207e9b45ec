#include "api/server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/reflection_v1.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "lb/base/log.h"
#include "lb/base/private_dir.h"
#include "lb/base/unique_fd.h"

namespace xlb::api {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path,
                                    absl::string_view option) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat(
        option, ": cannot read ", path, ": ", std::strerror(errno)));
  }
  std::stringstream data;
  data << in.rdbuf();
  if (data.str().find("-----BEGIN") == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(option, ": ", path, " holds no PEM data"));
  }
  return data.str();
}

// True when something accepts connections on the socket at `path`.
bool SocketInUse(const std::string& path) {
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  return connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) ==
         0;
}

absl::Status PrepareUnixSocket(const std::string& path) {
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--listen-unix: ", path, " is longer than a socket path may be (",
        sizeof(sockaddr_un::sun_path) - 1, " bytes)"));
  }
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (absl::Status s = PreparePrivateDirectory(dir.empty() ? "." : dir.string(),
                                               0750, "--listen-unix");
      !s.ok()) {
    return s;
  }
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat("--listen-unix: ", path, " exists and is not a socket"));
    }
    if (SocketInUse(path)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "--listen-unix: another process (another xlbd?) listens on ", path));
    }
    unlink(path.c_str());  // left by an agent that died
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateListenerOptions(const ListenerOptions& options) {
  if (options.unix_socket.empty() && options.tcp_address.empty()) {
    return absl::InvalidArgumentError(
        "no API listener: give --listen-unix and/or --listen-tcp");
  }
  const bool tls =
      !options.tls_cert_file.empty() || !options.tls_key_file.empty();
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls-cert and --tls-key: give both or neither");
  }
  if (!options.tls_client_ca_file.empty() && !tls) {
    return absl::InvalidArgumentError(
        "--tls-client-ca: mutual TLS needs --tls-cert and --tls-key");
  }
  if (tls && options.tcp_address.empty()) {
    return absl::InvalidArgumentError(
        "--tls-cert: TLS applies to the TCP listener; give --listen-tcp");
  }
  if (!options.tcp_address.empty() && !tls &&
      !options.insecure_tcp_without_tls) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--listen-tcp=", options.tcp_address,
        ": refusing TCP without TLS (anyone reaching the port would control "
        "the load balancer). Give --tls-cert and --tls-key (and "
        "--tls-client-ca for mutual TLS), or --insecure-tcp-without-tls if "
        "you really mean it"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ApiServer>> ApiServer::Start(
    const ListenerOptions& options,
    const std::vector<grpc::Service*>& services) {
  if (absl::Status s = ValidateListenerOptions(options); !s.ok()) return s;
  std::unique_ptr<ApiServer> api(new ApiServer());
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.SetOption(ReflectionV1Option());
  if (!options.unix_socket.empty()) {
    if (absl::Status s = PrepareUnixSocket(options.unix_socket); !s.ok()) {
      return s;
    }
    builder.AddListeningPort(absl::StrCat("unix:", options.unix_socket),
                             grpc::InsecureServerCredentials());
    api->unix_socket_ = options.unix_socket;
  }
  if (!options.tcp_address.empty()) {
    std::shared_ptr<grpc::ServerCredentials> credentials;
    if (!options.tls_cert_file.empty()) {
      absl::StatusOr<std::string> cert =
          ReadPem(options.tls_cert_file, "--tls-cert");
      if (!cert.ok()) return cert.status();
      absl::StatusOr<std::string> key =
          ReadPem(options.tls_key_file, "--tls-key");
      if (!key.ok()) return key.status();
      grpc::SslServerCredentialsOptions ssl(
          GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
      if (!options.tls_client_ca_file.empty()) {
        absl::StatusOr<std::string> ca =
            ReadPem(options.tls_client_ca_file, "--tls-client-ca");
        if (!ca.ok()) return ca.status();
        ssl = grpc::SslServerCredentialsOptions(
            GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
        ssl.pem_root_certs = *ca;
      }
      ssl.pem_key_cert_pairs.push_back({*key, *cert});
      credentials = grpc::SslServerCredentials(ssl);
    } else {
      LogWarning("api",
                 "TCP listener WITHOUT TLS: anyone who reaches it "
                 "controls the load balancer",
                 {{"address", options.tcp_address}});
      credentials = grpc::InsecureServerCredentials();
    }
    builder.AddListeningPort(options.tcp_address, credentials, &api->tcp_port_);
  }
  for (grpc::Service* service : services) builder.RegisterService(service);

  // The socket is created by BuildAndStart: make it private from the start.
  const mode_t old_umask = umask(0177);
  api->server_ = builder.BuildAndStart();
  umask(old_umask);
  if (api->server_ == nullptr) {
    return absl::UnavailableError(absl::StrCat(
        "cannot start the API server on ",
        options.unix_socket.empty() ? "" : "unix:" + options.unix_socket, " ",
        options.tcp_address, " (address in use or not permitted?)"));
  }
  if (!options.tcp_address.empty() && api->tcp_port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("--listen-tcp: cannot bind ", options.tcp_address));
  }
  if (!api->unix_socket_.empty()) {
    chmod(api->unix_socket_.c_str(), 0600);
    if (geteuid() == 0) (void)!chown(api->unix_socket_.c_str(), 0, 0);
  }
  if (grpc::HealthCheckServiceInterface* health =
          api->server_->GetHealthCheckService()) {
    health->SetServingStatus(true);
    health->SetServingStatus("xlb.v1.LoadBalancer", true);
  }
  LogInfo("api", "serving",
          {{"unix", api->unix_socket_},
           {"tcp", options.tcp_address},
           {"tcp_port", api->tcp_port_},
           {"tls", !options.tls_cert_file.empty()},
           {"mutual_tls", !options.tls_client_ca_file.empty()}});
  return api;
}

void ApiServer::Shutdown(absl::Duration grace) {
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  if (grpc::HealthCheckServiceInterface* health =
          server_->GetHealthCheckService()) {
    health->Shutdown();
  }
  server_->Shutdown(std::chrono::system_clock::now() +
                    absl::ToChronoSeconds(grace));
  server_->Wait();
  if (!unix_socket_.empty()) unlink(unix_socket_.c_str());
}

ApiServer::~ApiServer() { Shutdown(); }

}  // namespace xlb::api
