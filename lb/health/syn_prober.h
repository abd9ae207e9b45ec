// TCP checks, half-open. A check needs no connection: a SYN-ACK shows the
// backend's kernel would complete one (a listener with room in its queues),
// a RST that nothing listens, an ICMP error that the path is broken, and
// silence is a timeout. So a TCP probe is one SYN, sent from a raw socket
// that all TCP targets of an address family share; the reply is matched
// to its probe by the backend's address and port and by the acknowledged
// sequence number, random per probe. No local socket owns the connection
// (the source port is reserved by a bound, unconnected TCP socket, so no
// local connection collides with the probes either), so the local kernel
// answers the SYN-ACK with a RST, which clears the backend's half-open
// connection. That RST carries no mark; a tunnelled probe's must, to be
// encapsulated to the same backend as its SYN, so for marked probes the
// prober sends a marked RST itself. The backend's application never sees
// the probe.
//
// Against connect() + close() this saves a socket's whole life (socket,
// options, epoll registration, teardown) and one of three packets per
// probe; docs/benchmarks.md has the measured difference.
//
// Raw sockets need CAP_NET_RAW.
#ifndef XLB_LB_HEALTH_SYN_PROBER_H_
#define XLB_LB_HEALTH_SYN_PROBER_H_

#include <netinet/in.h>

#include <array>
#include <cstdint>
#include <memory>
#include <random>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "lb/health/probe.h"
#include "lb/health/probe_plan.h"
#include "lb/unique_fd.h"

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
  // reports under `id`; destroying the probe forgets it. IPv4: `source`
  // caches the local address the SYN leaves from (0: not resolved yet); it
  // must outlive the probe.
  std::unique_ptr<Probe> NewProbe(std::shared_ptr<const ProbePlan> plan,
                                  uint64_t id, in_addr* source);

  // Reads the replies (EPOLLIN) and ICMP errors (EPOLLERR) that arrived,
  // calling `done` for each probe they decide. `events`: what epoll
  // reported for fd().
  void Drain(uint32_t events,
             absl::FunctionRef<void(uint64_t id, ProbeResult)> done);

 private:
  class SynProbe;

  // A probe in flight: the backend's address and port (network order) and
  // the SYN's sequence number.
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

  SynProber(int family, UniqueFd raw, UniqueFd reservation, uint16_t port);

  // Sends the probe's SYN and registers it under *key; a failure if it
  // cannot be sent.
  std::optional<ProbeResult> Send(SynProbe& probe, Key* key);
  // Sends a SYN (with an MSS option) or a RST to the plan's target; 0 or
  // the errno.
  int SendSegment(const ProbePlan& plan, const in_addr* source, uint32_t seq,
                  uint8_t flags);
  void Forget(const Key& key) { in_flight_.erase(key); }
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
};

}  // namespace xlb::health

#endif  // XLB_LB_HEALTH_SYN_PROBER_H_
