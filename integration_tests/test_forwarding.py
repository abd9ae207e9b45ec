"""Real TCP and UDP through the attached XDP balancer: every address family
combination, distribution over Maglev shares, weights, and bad input on the
live system."""
import unittest

from harness import LabTestCase

VIP4_TCP = "192.0.2.10:80/tcp"
VIP4_UDP = "192.0.2.10:7/udp"
VIP6_TCP = "[2001:db8:f::10]:80/tcp"
VIP6_UDP = "[2001:db8:f::10]:7/udp"
VIP_4IN6 = "192.0.2.10:8080/tcp"  # IPv4 VIP served by IPv6 backends
BACKENDS = {"backend1", "backend2", "backend3"}


class ForwardingTest(LabTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        b4, b6 = cls.lab["LAB_BACKEND4"], cls.lab["LAB_BACKEND6"]
        for vip, backends in ((VIP4_TCP, b4), (VIP4_UDP, b4), (VIP6_TCP, b6),
                              (VIP6_UDP, b6), (VIP_4IN6, b6)):
            cls.agent.ctl("vip", "add", vip, *sum((["-b", b] for b in backends), []))

    def assert_all_backends_serve(self, result):
        self.assertEqual(result["failures"], {})
        self.assertEqual(set(result["backends"]), BACKENDS)

    def test_tcp_through_ipv4_vip(self):
        self.assert_all_backends_serve(
            self.lab.traffic("http", self.lab["LAB_VIP4"], 80, "--count", 60))

    def test_udp_through_ipv4_vip(self):
        self.assert_all_backends_serve(
            self.lab.traffic("udp", self.lab["LAB_VIP4"], 7, "--count", 60))

    def test_tcp_through_ipv6_vip(self):
        self.assert_all_backends_serve(
            self.lab.traffic("http", self.lab["LAB_VIP6"], 80, "--count", 60))

    def test_udp_through_ipv6_vip(self):
        self.assert_all_backends_serve(
            self.lab.traffic("udp", self.lab["LAB_VIP6"], 7, "--count", 60))

    def test_ipv4_vip_served_by_ipv6_backends(self):
        self.assert_all_backends_serve(
            self.lab.traffic("http", self.lab["LAB_VIP4"], 8080, "--count", 60))

    def test_tcp_checks_reach_ipv6_and_4in6_backends_through_the_tunnel(self):
        # Half-open TCP checks, tunnelled: each SYN is encapsulated to its
        # backend like real traffic and answered from the VIP.
        for vip in (VIP6_TCP, VIP_4IN6):
            self.agent.ctl("health", "set", vip, "--type", "tcp",
                           "--interval", "200ms", "--timeout", "150ms",
                           "--rise", 1, "--fall", 1)
        try:
            for vip in (VIP6_TCP, VIP_4IN6):
                for address in self.lab["LAB_BACKEND6"]:
                    self.agent.wait_health(vip, address, True)
            self.lab.stop_server(3)
            for vip in (VIP6_TCP, VIP_4IN6):
                self.agent.wait_health(vip, self.lab["LAB_BACKEND6"][2], False)
            self.lab.start_server(3)
            for vip in (VIP6_TCP, VIP_4IN6):
                self.agent.wait_health(vip, self.lab["LAB_BACKEND6"][2], True)
        finally:
            self.lab.start_server(3)
            for vip in (VIP6_TCP, VIP_4IN6):
                self.agent.ctl("health", "set", vip, "--none")

    def test_connections_spread_over_maglev_shares_and_weights(self):
        # 1,200 connections with the kernel's varied source ports. Equal
        # weights: a third each. Tolerance 0.06 of the total is over 4
        # standard deviations of a binomial share at n = 1200.
        vip4 = self.lab["LAB_VIP4"]
        result = self.lab.traffic("http", vip4, 80, "--count", 1200)
        self.assertEqual(result["failures"], {})
        for name in BACKENDS:
            self.assertAlmostEqual(result["backends"][name] / 1200, 1 / 3,
                                   delta=0.06, msg=result)

        b = self.lab["LAB_BACKEND4"]
        try:
            for address, weight in zip(b, (1, 2, 3)):
                self.agent.ctl("backend", "weight", VIP4_TCP, address,
                               "--weight", weight)
            result = self.lab.traffic("http", vip4, 80, "--count", 1200)
            self.assertEqual(result["failures"], {})
            for name, weight in zip(("backend1", "backend2", "backend3"),
                                    (1, 2, 3)):
                self.assertAlmostEqual(result["backends"][name] / 1200,
                                       weight / 6, delta=0.06, msg=result)
        finally:
            for address in b:
                self.agent.ctl("backend", "weight", VIP4_TCP, address,
                               "--weight", 1)

    def test_bad_input_is_refused_and_changes_nothing(self):
        before = self.agent.json("config", "get")
        cases = [
            (["vip", "add", "192.0.2.300:80/tcp"], 4),
            (["vip", "add", "192.0.2.20:70000/tcp"], {2, 4}),
            (["vip", "add", "192.0.2.20:80/sctp"], {2, 4}),
            (["vip", "add", "192.0.2.20:80/tcp", "--ring-size", "1000"], 4),
            (["backend", "add", VIP4_TCP, "not-an-address"], 4),
            (["vip", "add", "192.0.2.20:80/tcp", "--min-healthy", "1.5"], 4),
            (["backend", "weight", VIP4_TCP, self.lab["LAB_BACKEND4"][0],
              "--weight", "70000"], 4),
            (["backend", "del", "192.0.2.99:80/tcp", "198.51.100.70"], 3),
            (["vip", "del", "192.0.2.99:80/tcp"], 3),
            (["vip", "add", VIP4_TCP], 1),  # exists already
            (["health", "set", VIP4_TCP, "--type", "http", "--interval",
              "1s", "--timeout", "5s"], 4),
            (["vip", "update", VIP4_TCP, "--seed", "5", "--generation", "999999"], 1),
        ]
        for args, codes in cases:
            codes = codes if isinstance(codes, set) else {codes}
            proc = self.agent.ctl(*args, check=False)
            self.assertIn(proc.returncode, codes, f"xlbctl {args}: {proc.stderr}")
            self.assertTrue(proc.stderr.strip(), f"xlbctl {args}: no message")
            self.assertEqual(self.agent.json("config", "get"), before, args)
        self.assert_all_backends_serve(
            self.lab.traffic("http", self.lab["LAB_VIP4"], 80, "--count", 60))


if __name__ == "__main__":
    unittest.main()
