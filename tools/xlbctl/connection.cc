#include "tools/xlbctl/connection.h"

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "api/server.h"
#include "lb/base/field_rules.h"

namespace xlb::xlbctl {
namespace {

absl::StatusOr<std::string> ReadPemFile(const std::string& flag,
                                        const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": cannot read ", path));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

absl::StatusOr<std::string> ResolveTarget(const std::string& server) {
  if (server.empty()) return absl::StrCat("unix:", kDefaultSocketPath);
  if (absl::StartsWith(server, "unix:")) {
    if (server.size() == 5) {
      return absl::InvalidArgumentError(
          "--server: \"unix:\" needs a socket path, e.g. "
          "unix:/run/xlb/xlbd.sock");
    }
    return server;
  }
  if (absl::StartsWith(server, "/")) return absl::StrCat("unix:", server);
  // HOST:PORT, with an IPv6 host in brackets.
  size_t colon = server.rfind(':');
  uint32_t port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(absl::string_view(server).substr(colon + 1), &port) ||
      port == 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--server: ", QuoteValue(server),
        " is neither a Unix socket (unix:PATH or /PATH) nor HOST:PORT"));
  }
  return server;
}

bool IsUnixTarget(const std::string& target) {
  return absl::StartsWith(target, "unix:");
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(
    const ConnectionOptions& options) {
  absl::StatusOr<std::string> target = ResolveTarget(options.server);
  if (!target.ok()) return target.status();
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (IsUnixTarget(*target)) {
    if (!options.ca_file.empty() || !options.cert_file.empty() ||
        !options.key_file.empty()) {
      return absl::InvalidArgumentError(
          "--ca, --cert and --key apply to TCP servers (HOST:PORT) only; "
          "the Unix socket is protected by its file permissions");
    }
    credentials = grpc::InsecureChannelCredentials();
  } else {
    if (options.cert_file.empty() != options.key_file.empty()) {
      return absl::InvalidArgumentError(
          "--cert and --key go together (mutual TLS needs both)");
    }
    grpc::SslCredentialsOptions ssl;
    if (!options.ca_file.empty()) {
      absl::StatusOr<std::string> ca = ReadPemFile("--ca", options.ca_file);
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = *std::move(ca);
    }
    if (!options.cert_file.empty()) {
      absl::StatusOr<std::string> cert =
          ReadPemFile("--cert", options.cert_file);
      if (!cert.ok()) return cert.status();
      absl::StatusOr<std::string> key = ReadPemFile("--key", options.key_file);
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *std::move(cert);
      ssl.pem_private_key = *std::move(key);
    }
    credentials = grpc::SslCredentials(ssl);
  }
  // Accept what xlbd may send (gRPC's client default is 4 MiB): a large
  // configuration from GetConfig.
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(api::kMaxMessageBytes);
  auto channel = grpc::CreateCustomChannel(*target, credentials, args);
  return std::unique_ptr<Connection>(
      new Connection(*target, std::move(channel), options.timeout));
}

Connection::Connection(std::string target,
                       std::shared_ptr<grpc::Channel> channel,
                       absl::Duration timeout)
    : target_(std::move(target)),
      channel_(std::move(channel)),
      stub_(v1::LoadBalancer::NewStub(channel_)),
      timeout_(timeout) {}

bool Connection::WaitForConnected(absl::Duration timeout) {
  return channel_->WaitForConnected(absl::ToChronoTime(absl::Now() + timeout));
}

std::unique_ptr<grpc::ClientContext> Connection::NewContext() const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  return context;
}

absl::Status Connection::Translate(const grpc::Status& status) const {
  if (status.ok()) return absl::OkStatus();
  auto code = static_cast<absl::StatusCode>(status.error_code());
  std::string message = status.error_message();
  if (code == absl::StatusCode::kUnavailable ||
      code == absl::StatusCode::kDeadlineExceeded) {
    std::string hint =
        IsUnixTarget(target_)
            ? absl::StrCat(" (is xlbd running, and can this user open ",
                           absl::StripPrefix(target_, "unix:"),
                           "? Choose another server with --server or ",
                           kServerEnvVar, ")")
            : absl::StrCat(
                  " (is xlbd listening there, with TLS? Choose "
                  "another server with --server or ",
                  kServerEnvVar, ")");
    return absl::Status(code, absl::StrCat("cannot reach xlbd at ", target_,
                                           ": ", message, hint));
  }
  return absl::Status(code, message);
}

}  // namespace xlb::xlbctl
