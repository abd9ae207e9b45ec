#include "lb/health/testing/test_servers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lb/base/sigpipe.h"

namespace xlb::health::testing {
namespace {

// Waits until `fd` is readable; false once `stop` fires.
bool WaitReadable(int fd, int stop) {
  pollfd fds[2] = {{fd, POLLIN, 0}, {stop, POLLIN, 0}};
  while (poll(fds, 2, -1) < 0) {
  }
  return (fds[1].revents & POLLIN) == 0;
}

void Signal(const UniqueFd& stop) {
  const uint64_t one = 1;
  (void)!write(stop.get(), &one, sizeof(one));
}

std::string ToPem(int (*write_fn)(BIO*, void*), void* object) {
  BIO* bio = BIO_new(BIO_s_mem());
  write_fn(bio, object);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, size);
  BIO_free(bio);
  return pem;
}

}  // namespace

UniqueFd BindLoopback(const std::string& address, int type, uint16_t* port) {
  sockaddr_storage ss{};
  socklen_t len;
  const bool v6 = address.find(':') != std::string::npos;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    inet_pton(AF_INET6, address.c_str(), &a->sin6_addr);
    len = sizeof(*a);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    inet_pton(AF_INET, address.c_str(), &a->sin_addr);
    len = sizeof(*a);
  }
  UniqueFd fd(socket(ss.ss_family, type | SOCK_CLOEXEC, 0));
  EXPECT_TRUE(fd.valid());
  EXPECT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len), 0)
      << strerror(errno);
  getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len);
  *port = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                   : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return fd;
}

uint16_t UnusedPort() {
  uint16_t port = 0;
  BindLoopback("127.0.0.1", SOCK_STREAM, &port);  // closed on return
  return port;
}

TcpServer::TcpServer(const std::string& address)
    : listener_(BindLoopback(address, SOCK_STREAM, &port_)),
      stop_(eventfd(0, EFD_CLOEXEC)) {
  listen(listener_.get(), 4096);
  thread_ = std::thread([this] {
    while (WaitReadable(listener_.get(), stop_.get())) {
      UniqueFd conn(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (conn.valid()) ++accepted_;
    }
  });
}

TcpServer::~TcpServer() {
  Signal(stop_);
  thread_.join();
}

FullBacklogListener::FullBacklogListener()
    : listener_(BindLoopback("127.0.0.1", SOCK_STREAM, &port_)) {
  listen(listener_.get(), 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port_);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // Fill the accept queue; later SYNs are dropped by the kernel.
  for (int i = 0; i < 3; ++i) {
    UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof(to));
    fillers_.push_back(std::move(fd));
  }
  usleep(50'000);
}

SelfSignedCertificate MakeSelfSignedCertificate() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(
      name, "CN", MBSTRING_ASC,
      reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  for (const char* ext : {"subjectAltName:DNS:localhost,IP:127.0.0.1,IP:::1",
                          "basicConstraints:critical,CA:TRUE"}) {
    std::string text(ext);
    const size_t colon = text.find(':');
    X509_EXTENSION* e =
        X509V3_EXT_conf(nullptr, &ctx, text.substr(0, colon).c_str(),
                        text.substr(colon + 1).c_str());
    X509_add_ext(cert, e, -1);
    X509_EXTENSION_free(e);
  }
  X509_sign(cert, key, EVP_sha256());
  SelfSignedCertificate out;
  out.cert_pem = ToPem(
      [](BIO* b, void* c) {
        return PEM_write_bio_X509(b, static_cast<X509*>(c));
      },
      cert);
  out.key_pem = ToPem(
      [](BIO* b, void* k) {
        return PEM_write_bio_PrivateKey(b, static_cast<EVP_PKEY*>(k), nullptr,
                                        nullptr, 0, nullptr, nullptr);
      },
      key);
  X509_free(cert);
  EVP_PKEY_free(key);
  return out;
}

HttpServer::HttpServer(HttpReply reply, const SelfSignedCertificate* tls,
                       const std::string& address)
    : reply_(std::move(reply)),
      listener_(BindLoopback(address, SOCK_STREAM, &port_)),
      stop_(eventfd(0, EFD_CLOEXEC)) {
  if (tls != nullptr) {
    tls_.reset(SSL_CTX_new(TLS_server_method()));
    BIO* cert_bio = BIO_new_mem_buf(tls->cert_pem.data(), tls->cert_pem.size());
    X509* cert = PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr);
    BIO* key_bio = BIO_new_mem_buf(tls->key_pem.data(), tls->key_pem.size());
    EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
    EXPECT_EQ(SSL_CTX_use_certificate(tls_.get(), cert), 1);
    EXPECT_EQ(SSL_CTX_use_PrivateKey(tls_.get(), key), 1);
    X509_free(cert);
    EVP_PKEY_free(key);
    BIO_free(cert_bio);
    BIO_free(key_bio);
  }
  listen(listener_.get(), 128);
  thread_ = std::thread([this] {
    while (WaitReadable(listener_.get(), stop_.get())) {
      UniqueFd conn(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!conn.valid()) continue;
      std::lock_guard<std::mutex> lock(mu_);
      connections_.emplace_back([this, fd = conn.release()] {
        BlockSigpipeInThisThread();  // probes reset connections mid-answer
        Serve(UniqueFd(fd));
      });
    }
  });
}

HttpServer::~HttpServer() {
  Signal(stop_);
  thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& t : connections_) t.join();
}

std::string HttpServer::last_request() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_request_;
}

void HttpServer::Serve(UniqueFd conn) {
  timeval receive_timeout = {2, 0};
  setsockopt(conn.get(), SOL_SOCKET, SO_RCVTIMEO, &receive_timeout,
             sizeof(receive_timeout));
  SslPtr ssl;
  if (tls_ != nullptr) {
    ssl.reset(SSL_new(tls_.get()));
    SSL_set_fd(ssl.get(), conn.get());
    if (SSL_accept(ssl.get()) != 1) return;  // e.g. the client rejected us
  }
  auto read_some = [&](char* buf, int size) -> int {
    return ssl ? SSL_read(ssl.get(), buf, size) : read(conn.get(), buf, size);
  };
  auto write_all = [&](const std::string& data) {
    if (ssl) {
      SSL_write(ssl.get(), data.data(), data.size());
    } else {
      (void)!write(conn.get(), data.data(), data.size());
    }
  };
  std::string request;
  char buf[4096];
  while (request.find("\r\n\r\n") == std::string::npos) {
    const int n = read_some(buf, sizeof(buf));
    if (n <= 0) return;
    request.append(buf, n);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_request_ = request;
  }
  ++requests_;
  absl::SleepFor(reply_.delay);
  std::string response =
      absl::StrCat("HTTP/1.1 ", reply_.status, " Whatever\r\n");
  if (reply_.chunked) {
    const size_t half = reply_.body.size() / 2;
    absl::StrAppend(&response, "Transfer-Encoding: chunked\r\n\r\n",
                    absl::Hex(half), "\r\n", reply_.body.substr(0, half),
                    "\r\n", absl::Hex(reply_.body.size() - half), "\r\n",
                    reply_.body.substr(half), "\r\n0\r\n\r\n");
  } else {
    absl::StrAppend(&response, "Content-Length: ", reply_.body.size(),
                    "\r\n\r\n", reply_.body);
  }
  write_all(response);
  if (ssl) SSL_shutdown(ssl.get());
}

UdpServer::UdpServer(Behaviour behaviour, const std::string& address)
    : socket_(BindLoopback(address, SOCK_DGRAM, &port_)),
      stop_(eventfd(0, EFD_CLOEXEC)) {
  thread_ = std::thread([this, behaviour] {
    while (WaitReadable(socket_.get(), stop_.get())) {
      char buf[2048];
      sockaddr_storage from{};
      socklen_t len = sizeof(from);
      const ssize_t n = recvfrom(socket_.get(), buf, sizeof(buf), 0,
                                 reinterpret_cast<sockaddr*>(&from), &len);
      if (n < 0) continue;
      const int count = ++received_;
      if (behaviour.silent) continue;
      std::string reply =
          behaviour.echo ? std::string(buf, n) : behaviour.reply;
      if (behaviour.alternate && count % 2 == 0) reply = "wrong reply";
      sendto(socket_.get(), reply.data(), reply.size(), 0,
             reinterpret_cast<sockaddr*>(&from), len);
    }
  });
}

UdpServer::~UdpServer() {
  Signal(stop_);
  thread_.join();
}

}  // namespace xlb::health::testing
