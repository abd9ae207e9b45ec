#include "api/server.h"

#include <netdb.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/reflection_v1.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/resource_quota.h"
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

struct HostPort {
  std::string host;  // without brackets
  std::string port;
};

// "host:port" or "[v6]:port"; the error names what is missing.
absl::StatusOr<HostPort> ParseTcpAddress(const std::string& address) {
  const std::string flag = absl::StrCat("--listen-tcp=", address, ": ");
  constexpr char kExamples[] =
      " (e.g. 127.0.0.1:7443, 0.0.0.0:7443 for every IPv4 address, [::]:7443 "
      "for every address)";
  HostPort out;
  if (!address.empty() && address[0] == '[') {
    const size_t close = address.find(']');
    if (close == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, "\"[\" without \"]\"", kExamples));
    }
    out.host = address.substr(1, close - 1);
    if (close + 1 < address.size() && address[close + 1] != ':') {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, "expected \":port\" after \"]\"", kExamples));
    }
    if (close + 1 < address.size()) out.port = address.substr(close + 2);
  } else {
    const size_t colon = address.rfind(':');
    if (colon == std::string::npos) {
      const bool digits =
          !address.empty() &&
          std::all_of(address.begin(), address.end(), absl::ascii_isdigit);
      return absl::InvalidArgumentError(
          absl::StrCat(flag,
                       digits ? "the host is missing: give host:port"
                              : "the port is missing: give host:port",
                       kExamples));
    }
    out.host = address.substr(0, colon);
    out.port = address.substr(colon + 1);
    if (out.host.find(':') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          flag, "an IPv6 host goes in brackets: [", out.host, "]:", out.port));
    }
  }
  if (out.host.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, "the host is missing: give host:port", kExamples));
  }
  uint32_t port = 0;
  if (out.port.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, "the port is missing: give host:port", kExamples));
  }
  if (!absl::SimpleAtoi(out.port, &port) || port > 65535 ||
      !std::all_of(out.port.begin(), out.port.end(), absl::ascii_isdigit)) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, "port \"", out.port, "\" is not a number from 0 to 65535"));
  }
  return out;
}

// Why binding `address` fails (bind's own error), or "" when it does not.
std::string BindProblem(const HostPort& address) {
  addrinfo hints{};
  hints.ai_flags = AI_PASSIVE;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* info = nullptr;
  if (int rc = getaddrinfo(address.host.c_str(), address.port.c_str(), &hints,
                           &info);
      rc != 0) {
    return absl::StrCat("cannot resolve \"", address.host,
                        "\": ", gai_strerror(rc));
  }
  std::string problem;
  UniqueFd fd(socket(info->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const int one = 1;
  if (!fd.valid() ||
      setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      bind(fd.get(), info->ai_addr, info->ai_addrlen) != 0) {
    problem = std::strerror(errno);
  }
  freeaddrinfo(info);
  return problem;
}

std::string OpenSslError() {
  char text[256] = "no detail";
  if (unsigned long e = ERR_get_error(); e != 0) {
    ERR_error_string_n(e, text, sizeof(text));
  }
  ERR_clear_error();
  return text;
}

using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;
using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

X509Ptr FirstCertificate(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr),
                 X509_free);
}

// gRPC only says it could not start when the certificate and key do not
// belong together: check them first and say which file is at fault.
absl::Status CheckTlsFiles(const ListenerOptions& o, const std::string& cert,
                           const std::string& key, const std::string* ca) {
  X509Ptr certificate = FirstCertificate(cert);
  if (certificate == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls-cert: ", o.tls_cert_file,
                     " holds no PEM certificate: ", OpenSslError()));
  }
  Bio bio(BIO_new_mem_buf(key.data(), static_cast<int>(key.size())), BIO_free);
  // A passphrase callback that gives none: an encrypted key is an error,
  // not a prompt on the terminal.
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> private_key(
      PEM_read_bio_PrivateKey(
          bio.get(), nullptr, [](char*, int, int, void*) { return 0; },
          nullptr),
      EVP_PKEY_free);
  if (private_key == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls-key: ", o.tls_key_file,
        " holds no unencrypted PEM private key: ", OpenSslError()));
  }
  if (X509_check_private_key(certificate.get(), private_key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls-key: ", o.tls_key_file,
        " is not the private key of the certificate in --tls-cert ",
        o.tls_cert_file));
  }
  if (ca != nullptr && FirstCertificate(*ca) == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls-client-ca: ", o.tls_client_ca_file,
                     " holds no PEM certificate: ", OpenSslError()));
  }
  return absl::OkStatus();
}

void ApplyLimits(const ServerLimits& limits, grpc::ServerBuilder& builder) {
  builder.SetMaxReceiveMessageSize(limits.max_message_bytes);
  builder.SetMaxSendMessageSize(limits.max_message_bytes);
  grpc::ResourceQuota quota("xlbd-api");
  quota.SetMaxThreads(limits.max_threads);
  quota.Resize(limits.max_memory_bytes);
  builder.SetResourceQuota(quota);
  auto ms = [](absl::Duration d) {
    return static_cast<int>(absl::ToInt64Milliseconds(d));
  };
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             limits.max_streams_per_connection);
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
                             ms(limits.handshake_timeout));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
                             ms(limits.idle_timeout));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                             ms(limits.keepalive_time));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                             ms(limits.keepalive_timeout));
  // Pings both ways also when no call is open: a silent connection is
  // found dead, and a client's keepalive is not punished as abuse.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
      ms(limits.min_client_ping_interval));
  // Without this gRPC sets SO_REUSEPORT, and a second agent on the same
  // port would silently share it instead of failing to start.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
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
  if (!options.tcp_address.empty()) {
    if (absl::StatusOr<HostPort> a = ParseTcpAddress(options.tcp_address);
        !a.ok()) {
      return a.status();
    }
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
  ApplyLimits(options.limits, builder);
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
      absl::StatusOr<std::string> ca;
      if (!options.tls_client_ca_file.empty()) {
        ca = ReadPem(options.tls_client_ca_file, "--tls-client-ca");
        if (!ca.ok()) return ca.status();
        ssl = grpc::SslServerCredentialsOptions(
            GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
        ssl.pem_root_certs = *ca;
      }
      if (absl::Status s =
              CheckTlsFiles(options, *cert, *key, ca.ok() ? &*ca : nullptr);
          !s.ok()) {
        return s;
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
    // gRPC gives no reason; binding the TCP address ourselves finds the
    // usual one (the Unix socket was checked above).
    if (!options.tcp_address.empty()) {
      const std::string problem =
          BindProblem(*ParseTcpAddress(options.tcp_address));
      if (!problem.empty()) {
        return absl::UnavailableError(
            absl::StrCat("--listen-tcp=", options.tcp_address,
                         ": cannot listen: ", problem));
      }
    }
    return absl::UnavailableError(absl::StrCat(
        "cannot start the API server on ",
        options.unix_socket.empty() ? "" : "unix:" + options.unix_socket, " ",
        options.tcp_address, ": gRPC refused (its log line above says why)"));
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
