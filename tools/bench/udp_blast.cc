// udp_blast: the end-to-end benchmark's traffic generator. Sends a bounded
// number of small UDP datagrams (sendmmsg, round robin over --flows
// connected sockets, so several 5-tuples spread over the backends) and
// stops at --count packets or --seconds, whichever comes first.
//
//   udp_blast --dst ADDR --port P [--count N] [--seconds S] [--flows F]
//             [--size BYTES]
//
// Prints {"sent": N, "seconds": S, "pps": R} on stdout. Meant for the lab
// (tools/lab/lab): run it inside the lab's client namespace, aimed at a lab
// VIP (documentation addresses only).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr int kBatch = 64;

double Now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int Usage() {
  std::fprintf(stderr,
               "usage: udp_blast --dst ADDR --port P [--count N] "
               "[--seconds S] [--flows F] [--size BYTES]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dst;
  int port = 0, flows = 16, size = 18;
  long long count = 1000000;
  double seconds = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    const char* v = argv[i + 1];
    if (a == "--dst")
      dst = v;
    else if (a == "--port")
      port = std::atoi(v);
    else if (a == "--count")
      count = std::atoll(v);
    else if (a == "--seconds")
      seconds = std::atof(v);
    else if (a == "--flows")
      flows = std::atoi(v);
    else if (a == "--size")
      size = std::atoi(v);
    else
      return Usage();
  }
  if (argc % 2 == 0 || dst.empty() || port <= 0 || port > 65535 || count <= 0 ||
      seconds <= 0 || flows <= 0 || size < 0 || size > 1400)
    return Usage();

  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  int family = AF_INET;
  auto* a4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* a6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (inet_pton(AF_INET, dst.c_str(), &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    addr_len = sizeof(*a4);
  } else if (inet_pton(AF_INET6, dst.c_str(), &a6->sin6_addr) == 1) {
    family = AF_INET6;
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    addr_len = sizeof(*a6);
  } else {
    std::fprintf(stderr, "udp_blast: bad address %s\n", dst.c_str());
    return 2;
  }

  std::vector<int> socks;
  for (int i = 0; i < flows; ++i) {
    int fd = socket(family, SOCK_DGRAM, 0);
    if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), addr_len)) {
      std::perror("udp_blast: socket");
      return 1;
    }
    socks.push_back(fd);
  }

  std::vector<char> payload(size, 'x');
  iovec iov{payload.data(), payload.size()};
  mmsghdr msgs[kBatch];
  std::memset(msgs, 0, sizeof(msgs));
  for (auto& m : msgs) {
    m.msg_hdr.msg_iov = &iov;
    m.msg_hdr.msg_iovlen = 1;
  }

  long long sent = 0;
  const double start = Now();
  const double deadline = start + seconds;
  double end = start;
  for (size_t turn = 0; sent < count; ++turn) {
    end = Now();
    if (end >= deadline) break;
    int n = static_cast<int>(std::min<long long>(kBatch, count - sent));
    int r = sendmmsg(socks[turn % socks.size()], msgs, n, 0);
    if (r > 0)
      sent += r;
    else if (r < 0 && errno != ENOBUFS && errno != EAGAIN && errno != EINTR &&
             errno != ECONNREFUSED) {
      std::perror("udp_blast: sendmmsg");
      return 1;
    }
  }
  end = Now();
  for (int fd : socks) close(fd);
  const double elapsed = end - start;
  std::printf("{\"sent\": %lld, \"seconds\": %.6f, \"pps\": %.0f}\n", sent,
              elapsed, elapsed > 0 ? sent / elapsed : 0.0);
  return 0;
}
