"""Flows that must survive: stickiness across backend changes, drain,
health failover, agent restart (kill -9) and program upgrade under load."""
import signal
import time
import unittest

from harness import LabTestCase

VIP = "192.0.2.10:80/tcp"


class ResilienceTest(LabTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        args = sum((["-b", b] for b in cls.lab["LAB_BACKEND4"]), [])
        cls.agent.ctl("vip", "add", VIP, *args)

    def vip4(self):
        return self.lab["LAB_VIP4"]

    def address_of(self, backend_name):
        return self.lab["LAB_BACKEND4"][int(backend_name[-1]) - 1]

    def test_long_connection_keeps_its_backend_while_others_change(self):
        session = self.lab.traffic("session", self.vip4(), 80, "--count", 12,
                                   "--seconds", 4, background=True)
        first = self.lab.first_line(session)
        if not first.startswith("backend"):
            session.kill()
            self.fail(f"the session's first request failed: {first}")
        mine = self.address_of(first)
        for address in self.lab["LAB_BACKEND4"]:
            if address == mine:
                continue
            self.agent.ctl("backend", "del", VIP, address)
            time.sleep(0.3)
            self.agent.ctl("backend", "add", VIP, address)
            time.sleep(0.3)
        result = self.lab.collect(session)
        self.assertEqual(result["failures"], {}, result)
        self.assertEqual(len(result["sequence"]), 12)
        self.assertEqual(set(result["sequence"]), {result["sequence"][0]})

    def test_drained_backend_gets_no_new_connections(self):
        drained = self.lab["LAB_BACKEND4"][0]
        self.agent.ctl("backend", "drain", VIP, drained)
        try:
            fresh = self.lab.traffic("http", self.vip4(), 80, "--count", 300)
            self.assertEqual(fresh["failures"], {})
            self.assertNotIn("backend1", fresh["backends"])
            self.assertEqual(set(fresh["backends"]), {"backend2", "backend3"})
        finally:
            self.agent.ctl("backend", "undrain", VIP, drained)

    def test_established_connection_survives_drain_of_its_backend(self):
        # Whatever backend the session landed on, drain them all: an
        # established flow keeps its backend while draining.
        session = self.lab.traffic("session", self.vip4(), 80, "--count", 10,
                                   "--seconds", 3, background=True)
        time.sleep(0.6)
        for address in self.lab["LAB_BACKEND4"]:
            self.agent.ctl("backend", "drain", VIP, address)
        try:
            result = self.lab.collect(session)
            self.assertEqual(result["failures"], {}, result)
            self.assertEqual(len(result["sequence"]), 10)
            self.assertEqual(len(set(result["sequence"])), 1)
        finally:
            for address in self.lab["LAB_BACKEND4"]:
                self.agent.ctl("backend", "undrain", VIP, address)

    def test_failed_backend_is_taken_out_and_comes_back_http_check(self):
        self.check_failover("http")

    def test_failed_backend_is_taken_out_and_comes_back_tcp_check(self):
        self.check_failover("tcp")

    def check_failover(self, check_type):
        interval, fall, rise = 0.2, 2, 2
        self.agent.ctl("health", "set", VIP, "--type", check_type, "--interval",
                       "200ms", "--timeout", "150ms", "--rise", rise,
                       "--fall", fall)
        try:
            for address in self.lab["LAB_BACKEND4"]:
                self.agent.wait_health(VIP, address, True)
            victim = self.lab["LAB_BACKEND4"][1]
            self.lab.stop_server(2)
            took = self.agent.wait_health(VIP, victim, False)
            self.assertLess(took, interval * fall + 1.5)
            result = self.lab.traffic("http", self.vip4(), 80, "--count", 300)
            self.assertEqual(result["failures"], {}, result)
            self.assertNotIn("backend2", result["backends"])
            self.lab.start_server(2)
            self.agent.wait_health(VIP, victim, True)
            result = self.lab.traffic("http", self.vip4(), 80, "--count", 150)
            self.assertEqual(result["failures"], {}, result)
            self.assertIn("backend2", result["backends"])
        finally:
            self.lab.start_server(2)
            self.agent.ctl("health", "set", VIP, "--none")

    def test_agent_killed_and_restarted_under_load_drops_nothing(self):
        before = self.agent.json("config", "get")
        load = self.lab.traffic("load", self.vip4(), 80, "--seconds", 4,
                                "--max", 20000, background=True)
        time.sleep(1)
        self.agent.kill(signal.SIGKILL)
        time.sleep(1)  # traffic flows with no agent at all
        self.agent.start()
        result = self.lab.collect(load)
        self.assertEqual(result["failures"], {}, result)
        self.assertGreater(sum(result["backends"].values()), 100)
        self.assertEqual(self.agent.json("config", "get"), before)

    def test_program_upgrade_under_load_drops_nothing(self):
        old = self.agent.json("status")["balancer_program_id"]
        load = self.lab.traffic("load", self.vip4(), 80, "--seconds", 3,
                                "--max", 20000, background=True)
        time.sleep(1)
        # A new agent loads its program and swaps it onto the pinned link.
        self.agent.kill(signal.SIGTERM)
        self.agent.start()
        result = self.lab.collect(load)
        self.assertEqual(result["failures"], {}, result)
        self.assertNotEqual(self.agent.json("status")["balancer_program_id"], old)


if __name__ == "__main__":
    unittest.main()
