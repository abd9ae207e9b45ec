"""Path MTU: a DF packet too big after encapsulation is answered with ICMP
fragmentation-needed / packet-too-big from XDP, and bulk TCP still completes."""
import unittest

from harness import LabTestCase


class PathMtuTest(LabTestCase):
    # The LB's links carry 1600 bytes, but tell the balancer 1500: a
    # 1500-byte client packet no longer fits once encapsulated.
    agent_flags = ("--mtu", "1500")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.agent.ctl("vip", "add", "192.0.2.10:80/tcp",
                      *sum((["-b", b] for b in cls.lab["LAB_BACKEND4"]), []))
        cls.agent.ctl("vip", "add", "[2001:db8:f::10]:80/tcp",
                      *sum((["-b", b] for b in cls.lab["LAB_BACKEND6"]), []))

    def counters(self):
        return {k: int(v) for k, v in
                self.agent.json("stats")["stats"]["counters"].items()}

    def bulk_completes(self, vip, counter):
        before = self.counters().get(counter, 0)
        result = self.lab.traffic("bulk", vip, 80, "--bytes", 2000000)
        self.assertEqual(result["failures"], {}, result)
        (answer,) = result["backends"]
        self.assertTrue(answer.endswith(" 2000000"), answer)
        self.assertGreater(self.counters().get(counter, 0), before)

    def test_ipv4_bulk_transfer_gets_fragmentation_needed_and_completes(self):
        self.bulk_completes(self.lab["LAB_VIP4"], "icmp_frag_needed")

    def test_ipv6_bulk_transfer_gets_packet_too_big_and_completes(self):
        self.bulk_completes(self.lab["LAB_VIP6"], "icmp6_too_big")


if __name__ == "__main__":
    unittest.main()
