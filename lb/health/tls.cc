#include "lb/health/tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace xlb::health {
namespace {

std::string LastOpensslError() {
  unsigned long code = ERR_get_error();
  if (code == 0) return "unknown TLS error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  ERR_clear_error();
  return buf;
}

absl::StatusOr<SslCtxPtr> NewClientContext(bool verify,
                                           const std::string& ca_file) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (ctx == nullptr) {
    return absl::InternalError(
        absl::StrCat("SSL_CTX_new: ", LastOpensslError()));
  }
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // A server closing without close_notify after its response is common.
  SSL_CTX_set_options(ctx.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE |
                                  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (!verify) {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
    return ctx;
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  const int loaded =
      ca_file.empty()
          ? SSL_CTX_set_default_verify_paths(ctx.get())
          : SSL_CTX_load_verify_locations(ctx.get(), ca_file.c_str(), nullptr);
  if (loaded != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("TLS CA store '", ca_file, "': ", LastOpensslError()));
  }
  return ctx;
}

bool IsIpLiteral(const std::string& host) {
  in6_addr buf;
  return inet_pton(AF_INET, host.c_str(), &buf) == 1 ||
         inet_pton(AF_INET6, host.c_str(), &buf) == 1;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TlsContexts>> TlsContexts::Create(
    const std::string& ca_file) {
  absl::StatusOr<SslCtxPtr> verifying = NewClientContext(true, ca_file);
  if (!verifying.ok()) return verifying.status();
  absl::StatusOr<SslCtxPtr> trusting = NewClientContext(false, ca_file);
  if (!trusting.ok()) return trusting.status();
  return std::unique_ptr<TlsContexts>(
      new TlsContexts(*std::move(verifying), *std::move(trusting)));
}

absl::StatusOr<SslPtr> TlsContexts::NewSession(int fd, absl::string_view host,
                                               bool verify) const {
  ERR_clear_error();
  SslPtr ssl(SSL_new(verify ? verifying_.get() : trusting_.get()));
  if (ssl == nullptr || SSL_set_fd(ssl.get(), fd) != 1) {
    return absl::InternalError(absl::StrCat("SSL_new: ", LastOpensslError()));
  }
  const std::string name(host);
  const bool ip = IsIpLiteral(name);
  if (!name.empty() && !ip) SSL_set_tlsext_host_name(ssl.get(), name.c_str());
  if (verify && !name.empty()) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
    const int set = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str())
                       : X509_VERIFY_PARAM_set1_host(param, name.c_str(), 0);
    if (set != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("TLS peer name '", name, "': ", LastOpensslError()));
    }
  }
  SSL_set_connect_state(ssl.get());
  return ssl;
}

std::string TlsErrorDetail(const SSL* ssl) {
  const long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    ERR_clear_error();
    return absl::StrCat("certificate verification failed: ",
                        X509_verify_cert_error_string(verify));
  }
  return LastOpensslError();
}

}  // namespace xlb::health
