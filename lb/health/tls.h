// OpenSSL client contexts for HTTPS probes, one with certificate
// verification and one without, shared by every probe of a checker.
#ifndef XLB_LB_HEALTH_TLS_H_
#define XLB_LB_HEALTH_TLS_H_

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace xlb::health {

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SslDeleter {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;
using SslPtr = std::unique_ptr<SSL, SslDeleter>;

class TlsContexts {
 public:
  // `ca_file`: PEM bundle trusted by verifying probes; empty uses the
  // system's default store.
  static absl::StatusOr<std::unique_ptr<TlsContexts>> Create(
      const std::string& ca_file);

  // A client session on connected socket `fd`, sending `host` as SNI (when
  // it is a name) and, with `verify`, checking the certificate against it.
  absl::StatusOr<SslPtr> NewSession(int fd, absl::string_view host,
                                    bool verify) const;

 private:
  TlsContexts(SslCtxPtr verifying, SslCtxPtr trusting)
      : verifying_(std::move(verifying)), trusting_(std::move(trusting)) {}
  SslCtxPtr verifying_;
  SslCtxPtr trusting_;
};

// The most specific reason the last OpenSSL call on `ssl` failed.
std::string TlsErrorDetail(const SSL* ssl);

}  // namespace xlb::health

#endif  // XLB_LB_HEALTH_TLS_H_
