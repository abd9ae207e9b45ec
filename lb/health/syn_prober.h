// TCP checks, half-open. A check needs no connection: a SYN-ACK shows the
// backend's kernel would complete one (a listener with room in its queues),
// a RST that nothing listens, an ICMP error that the path is broken, and
// silence is a timeout. So a TCP probe is one SYN, sent from a raw socket
// that all TCP targets of an address family share; the reply is matched
// to its probe by the backend's address and port and by the acknowledged
// sequence number, random per probe. The prober answers every SYN-ACK with
// a RST, which clears the backend's half-open connection; a probe's RST
// carries the probe's mark, so a tunnelled probe's RST is encapsulated to
// the same backend as its SYN. The source port is reserved by a listening
// TCP socket whose filter drops everything: no local connection collides
// with the probes, and the local kernel neither answers the SYN-ACKs (the
// socket filter drops them, after the raw socket got its copy) nor accepts
// connections. The backend's application never sees the probe.
//
// Segments are queued and sent together by Flush(), one sendmmsg for all
// the probes that start in one turn of the event loop.
//
// Every SYN leaves from the same port, so probes of one backend address
// and port on one path (mark) share a connection tuple; they take turns,
// one SYN out at a time. A second SYN would meet the first one's half-open
// connection on the backend, which answers it with an ACK or a RST, not a
// SYN-ACK.
//
// Against connect() + close() this saves a socket's whole life (socket,
// options, epoll registration, teardown) and one of three packets per
// probe; docs/benchmarks.md has the measured difference.
//
// Raw sockets need CAP_NET_RAW.
#ifndef XLB_LB_HEALTH_SYN_PROBER_H_
#define XLB_LB_HEALTH_SYN_PROBER_H_

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "lb/base/unique_fd.h"
#include "lb/health/probe.h"
#include "lb/health/probe_plan.h"

namespace xlb::health {

class SynProber {
 public:
  // `family`: AF_INET or AF_INET6.
  static absl::StatusOr<std::unique_ptr<SynProber>> Create(int family);

  // The raw socket: readable when replies arrived, EPOLLERR for ICMP errors.
  int fd() const { return raw_.get(); }
  // The reserved local port the SYNs leave from.
  uint16_t port() const { return port_; }

  // A probe of `plan` (a TCP check of this family) whose verdict Drain()
  // or Flush() reports under `id`; starting it queues its SYN, destroying
  // it forgets it. IPv4: `source` caches the local address the SYN leaves
  // from (0: not resolved yet); it must outlive the probe.
  std::unique_ptr<Probe> NewProbe(std::shared_ptr<const ProbePlan> plan,
                                  uint64_t id, in_addr* source);

  // Reads the replies (EPOLLIN) and ICMP errors (EPOLLERR) that arrived,
  // calling `done` for each probe they decide, and queues a RST for each
  // SYN-ACK. `events`: what epoll reported for fd().
  void Drain(uint32_t events,
             absl::FunctionRef<void(uint64_t id, ProbeResult)> done);

  // Sends the queued SYNs and RSTs, calling `done` for each probe whose
  // SYN could not be sent.
  void Flush(absl::FunctionRef<void(uint64_t id, ProbeResult)> done);

 private:
  class SynProbe;

  // A probe's path: the backend's address and port (network order) and
  // the mark that routes to it.
  struct Path {
    std::array<uint8_t, 16> address{};
    uint16_t port = 0;
    uint32_t mark = 0;

    bool operator==(const Path& o) const {
      return address == o.address && port == o.port && mark == o.mark;
    }
    template <typename H>
    friend H AbslHashValue(H h, const Path& p) {
      return H::combine(std::move(h), p.address, p.port, p.mark);
    }
  };

  // A SYN out: what a reply carries of it, the backend's address and port
  // and the SYN's sequence number. (Replies carry no mark: the random
  // sequence number tells apart probes of backends behind one VIP.)
  struct Key {
    std::array<uint8_t, 16> address{};
    uint16_t port = 0;
    uint32_t seq = 0;

    bool operator==(const Key& o) const {
      return address == o.address && port == o.port && seq == o.seq;
    }
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.address, k.port, k.seq);
    }
  };

  // A segment ready for sendmsg: the TCP header (with an MSS option in
  // SYNs), its destination, and control messages for the IPv4 source
  // address and the mark.
  struct Segment {
    Key key;  // SYNs: the probe it starts
    bool syn = false;
    uint8_t bytes[24];  // a TCP header and the MSS option
    size_t length = 0;
    ProbeAddress to{};
    socklen_t to_len = 0;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in_pktinfo)) +
                                  CMSG_SPACE(sizeof(uint32_t))];
    size_t control_len = 0;
  };

  SynProber(int family, UniqueFd raw, UniqueFd reservation, uint16_t port);

  // Resolves the probe's source address if needed and queues its SYN, or
  // makes it wait for its path; a failure if there is no route.
  std::optional<ProbeResult> Start(SynProbe& probe);
  // Queues the probe's SYN, with a fresh sequence number.
  void Launch(SynProbe& probe);
  // The probe's turn on its path is over: the next waiting one goes.
  void Release(const Path& path);
  // A SYN (`syn`) or a RST with sequence number `seq` from port_ to `to`
  // (port included), leaving from `source` (IPv4) with `mark` (0: none).
  Segment MakeSegment(bool syn, const ProbeAddress& to, socklen_t to_len,
                      in_addr source, uint32_t seq, uint32_t mark) const;
  // Sends `count` segments; the errno of each that failed goes to
  // *failed with its index.
  void Send(Segment* segments, size_t count,
            std::vector<std::pair<size_t, int>>* failed);
  // The probe is being destroyed.
  void Forget(SynProbe& probe);
  void DrainReplies(absl::FunctionRef<void(uint64_t, ProbeResult)> done);
  void DrainErrors(absl::FunctionRef<void(uint64_t, ProbeResult)> done);
  // Removes and returns the probe `key` names, if in flight.
  SynProbe* Take(const Key& key);

  const int family_;
  const UniqueFd raw_;
  const UniqueFd reservation_;  // holds port_ so no other socket gets it
  const uint16_t port_;         // host order
  std::mt19937 random_;
  absl::flat_hash_map<Key, SynProbe*> in_flight_;
  // Paths with a SYN out, and the probes waiting for their turn on each.
  absl::flat_hash_map<Path, std::vector<SynProbe*>> busy_;
  std::vector<Segment> queue_;
};

}  // namespace xlb::health

#endif  // XLB_LB_HEALTH_SYN_PROBER_H_
