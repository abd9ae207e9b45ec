"""Scale-out: three LB hosts behind a router (bird2) that spreads each VIP's
traffic over ECMP routes it learns over BGP from each host's gobgpd, into
which each host's xlbd announces its VIPs. Real daemons, real TCP:
announcement and withdrawal, the spread over hosts and the ring every host
shares, and established connections that survive a host dying, joining,
draining and its BGP daemon restarting.

Every test leaves the three hosts announcing the IPv4 VIP. Each prints the
figures it measures; with XLB_SCALE_OUT_FIGURES=FILE set they are also
written there as JSON, and XLB_SCALE_OUT_ROUNDS=N repeats the measured
cycles N times (tools/bench/scale_out uses both).
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import ring_oracle
from harness import XLBD, Agent, Lab, RouteWatch, require_privilege

HOSTS = 3
VIP4 = "192.0.2.10:80/tcp"
VIP6 = "[2001:db8:f::10]:80/tcp"
HASH_SEED = "2718"  # any value, the same on every host
# A small ring (every host's is read back through bpftool) with a Maglev
# seed of its own: both are part of what every host must agree on.
VIP_SETTINGS = ["--ring-size", "1021", "--seed", "7"]
FLOWS = 50  # long-lived connections under every host change
ROUNDS = int(os.environ.get("XLB_SCALE_OUT_ROUNDS", "1"))


class ScaleOutTest(unittest.TestCase):
    figures = {}

    @classmethod
    def setUpClass(cls):
        require_privilege()
        cls.lab = Lab(lbs=HOSTS)
        cls.agents = []
        cls.watch = cls.watch6 = None
        try:
            cls.lab.up()
            cls.watch = RouteWatch(cls.lab, cls.lab["LAB_VIP4"])
            cls.watch6 = RouteWatch(cls.lab, cls.lab["LAB_VIP6"])
            for host in range(HOSTS):
                cls.agents.append(Agent(cls.lab, cls.flags(), host).start())
            backends = sum((["-b", b] for b in cls.lab["LAB_BACKEND4"]), [])
            for agent in cls.agents:
                agent.ctl("vip", "add", VIP4, *VIP_SETTINGS, *backends)
            cls.watch.wait(lambda hops: hops == cls.all_hosts(), 20)
        except BaseException:
            cls.tear_down()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.tear_down()
        path = os.environ.get("XLB_SCALE_OUT_FIGURES")
        if path:
            with open(path, "w") as f:
                json.dump({"hosts": HOSTS, "connections": FLOWS,
                           "rounds": ROUNDS, "figures": cls.figures}, f)

    @classmethod
    def tear_down(cls):
        for watch in (cls.watch, cls.watch6):
            if watch:
                watch.close()
        for agent in cls.agents:
            agent.close()
        cls.lab.down()

    @classmethod
    def flags(cls):
        return ["--bgp-api", cls.lab["LAB_BGP_API"], "--hash-seed", HASH_SEED]

    @classmethod
    def all_hosts(cls, family="LAB_LB4"):
        return frozenset(cls.lab[family])

    def setUp(self):
        # Whatever the previous test did, three hosts announce the VIP.
        self.watch.wait(lambda hops: hops == self.all_hosts(), 20)

    def record(self, name, *values):
        self.figures.setdefault(name, []).extend(values)
        shown = ", ".join(f"{v:.3f}" for v in values)
        print(f"\n  {name}: {shown}", file=sys.stderr, end="")

    def host_address(self, host):
        return self.lab.lb("LAB_LB4", host)

    def without(self, host):
        return self.all_hosts() - {self.host_address(host)}

    def backend_name(self, address):
        return f"backend{self.lab['LAB_BACKEND4'].index(address) + 1}"

    def new_flows(self, agent):
        stats = agent.json("stats", "--interval", "0")["stats"]
        for vip in stats.get("vips", []):
            key = vip["key"]
            if (key["address"], key["port"]) == (self.lab["LAB_VIP4"], 80):
                return int(vip.get("new_flows", 0))
        raise AssertionError(f"host {agent.host + 1}: no stats for {VIP4}")

    def bgp_status(self, agent):
        return agent.json("status").get("bgp", {})

    # --- announce and withdraw ---

    def test_vip_added_on_every_host_becomes_one_ecmp_route(self):
        all6 = self.all_hosts("LAB_LB6")
        backends = sum((["-b", b] for b in self.lab["LAB_BACKEND6"]), [])
        try:
            for _ in range(ROUNDS):
                announce, withdraw = [], []
                for host, agent in enumerate(self.agents):
                    hop = self.lab.lb("LAB_LB6", host)
                    called = time.monotonic()
                    agent.ctl("vip", "add", VIP6, *VIP_SETTINGS, *backends)
                    announce.append(self.watch6.wait(
                        lambda hops, hop=hop: hop in hops, 10, called) - called)
                self.assertEqual(self.watch6.now(), all6)
                result = self.lab.traffic("http", self.lab["LAB_VIP6"], 80,
                                          "--count", 60)
                self.assertEqual(result["failures"], {}, result)
                for host, agent in enumerate(self.agents):
                    hop = self.lab.lb("LAB_LB6", host)
                    called = time.monotonic()
                    agent.ctl("vip", "del", VIP6)
                    withdraw.append(self.watch6.wait(
                        lambda hops, hop=hop: hop not in hops, 10,
                        called) - called)
                self.assertEqual(self.watch6.now(), frozenset())
                self.record("announce_to_route_s", *announce)
                self.record("withdraw_to_route_gone_s", *withdraw)
        finally:
            for agent in self.agents:
                agent.ctl("vip", "del", VIP6, check=False)

    def test_vip_whose_last_healthy_backend_fails_is_withdrawn(self):
        interval, fall = 0.2, 2
        try:
            for agent in self.agents:
                agent.ctl("health", "set", VIP4, "--type", "http", "--interval",
                          "200ms", "--timeout", "150ms", "--rise", 1,
                          "--fall", fall)
            for _ in range(ROUNDS):
                for agent in self.agents:
                    for address in self.lab["LAB_BACKEND4"]:
                        agent.wait_health(VIP4, address, True)
                self.watch.wait(lambda hops: hops == self.all_hosts(), 10)
                self.lab.stop_server(1)
                self.lab.stop_server(2)
                for agent in self.agents:
                    for address in self.lab["LAB_BACKEND4"][:2]:
                        agent.wait_health(VIP4, address, False)
                self.assertEqual(self.watch.now(), self.all_hosts())
                failed = time.monotonic()
                self.lab.stop_server(3)
                gone = self.watch.wait(lambda hops: not hops, 10, failed)
                self.assertLessEqual(gone - failed, interval * fall + 1)
                self.record("last_backend_down_to_route_gone_s", gone - failed)
                for agent in self.agents:
                    vip = self.announcement(agent, VIP4)
                    self.assertFalse(vip["announced"], vip)
                    self.assertIn("healthy", vip.get("reason", ""), vip)
                for i in (1, 2, 3):
                    self.lab.start_server(i)
        finally:
            for i in (1, 2, 3):
                self.lab.start_server(i)
            for agent in self.agents:
                agent.ctl("health", "set", VIP4, "--none")

    def announcement(self, agent, vip):
        address, port = self.lab["LAB_VIP4"], 80
        for entry in self.bgp_status(agent).get("vips", []):
            key = entry["key"]
            if (key["address"], key["port"]) == (address, port):
                return entry
        raise AssertionError(f"host {agent.host + 1}: no BGP status for {vip}")

    # --- spread ---

    def test_connections_spread_over_hosts_reach_the_backend_every_ring_gives(self):
        before = [self.new_flows(agent) for agent in self.agents]
        result = self.lab.traffic("http", self.lab["LAB_VIP4"], 80,
                                  "--count", 600, "--record")
        self.assertEqual(result["failures"], {}, result)
        landed = [self.new_flows(agent) - b
                  for agent, b in zip(self.agents, before)]
        self.assertEqual(sum(landed), 600, landed)
        # A third each by the router's hash; 100 is over 8 standard
        # deviations below 200.
        for host, n in enumerate(landed):
            self.assertGreaterEqual(n, 100, f"host {host + 1}: {landed}")

        rings = [ring_oracle.HostRing(agent.pins, self.lab["LAB_VIP4"], 80)
                 for agent in self.agents]
        for host, ring in enumerate(rings[1:], 2):
            self.assertEqual(ring.addresses(), rings[0].addresses(),
                             f"host {host}'s ring differs from host 1's")
        client = self.lab["LAB_CLIENT4"]
        for sport, served_by in result["flows"]:
            predicted = {ring.predict(client, sport) for ring in rings}
            self.assertEqual(len(predicted), 1, (sport, predicted))
            self.assertEqual(self.backend_name(predicted.pop()), served_by,
                             f"source port {sport}")

    # --- hosts leave, join, drain; BGP daemon restarts: under load ---

    def start_flows(self):
        load = self.lab.traffic("flows", self.lab["LAB_VIP4"], 80, "--count",
                                FLOWS, "--seconds", 60, background=True)
        first = self.lab.first_line(load)
        if first != "ready":
            load.kill()
            self.fail(f"flows did not start: {first}")
        time.sleep(0.5)
        return load

    def stop_flows(self, load):
        time.sleep(1)  # traffic after the last change
        result = self.lab.collect(load, stop=True)
        self.assertEqual(result["failures"], {}, result)
        self.assertEqual(result["moved"], 0, result)
        self.assertEqual(sum(result["backends"].values()), FLOWS, result)
        return result

    def stalled_until(self, result, since):
        """Seconds from `since` until the last connection that stalled at
        that moment answered again (0: none stalled). A stalled connection
        was waiting at `since`, or sent before the router's route changed
        (within tens of ms): its reported gap (over 2.5 request intervals)
        starts at most an interval after `since` and ends after it. Gaps
        that start later are the client's own scheduling, not the event."""
        interval = 0.1
        ends = [end for start, end in result["gaps"]
                if since - 3 * interval < start < since + interval
                and end > since]
        return max(ends) - since if ends else 0.0

    def kill_host(self, host, how):
        """LB host `host` dies at the returned moment, its gobgpd and xlbd
        SIGKILLed at once and either its XDP program gone ("xdp": the pinned
        link that held it removed) or its link down ("link"). Its pins are
        removed: it comes back fresh."""
        agent = self.agents[host]
        bgp_pid = self.lab.bgp_pid(host)
        died = time.monotonic()
        if how == "link":
            self.lab.set_link(host, up=False)
        os.kill(bgp_pid, signal.SIGKILL)
        agent.kill(signal.SIGKILL)
        if how == "xdp":
            os.unlink(os.path.join(agent.pins, "link_xdp"))
        self.lab.stop_bgp(host)  # forgets the dead daemon
        agent.remove_dataplane()
        return died

    def revive_host(self, host):
        self.lab.set_link(host, up=True)
        self.lab.start_bgp(host)
        if self.agents[host].proc is None:
            self.agents[host].start()

    def lose_and_rejoin_host(self, how):
        host = HOSTS - 1
        for _ in range(ROUNDS):
            load = self.start_flows()
            try:
                died = self.kill_host(host, how)
                routed = self.watch.wait(
                    lambda hops: hops == self.without(host), 10, died)
                # The router's BGP daemon drops the path too (with the link
                # down, only when the session times out): a host coming
                # back before that would get traffic at once.
                withdrawn = self.watch.wait(
                    lambda hops: hops == self.without(host), 10, died,
                    usable=False)
                time.sleep(1)
                joining = time.monotonic()
                self.revive_host(host)
                joined = self.watch.wait(
                    lambda hops: hops == self.all_hosts(), 20, joining)
            finally:
                self.revive_host(host)
                result = self.stop_flows(load)
            self.record(f"host_lost_{how}_to_route_gone_s", routed - died)
            self.record(f"host_lost_{how}_to_bgp_withdrawn_s", withdrawn - died)
            self.record(f"host_lost_{how}_to_traffic_restored_s",
                        self.stalled_until(result, died))
            self.record("host_joined_to_route_s", joined - joining)
            self.record("host_joined_to_traffic_restored_s",
                        self.stalled_until(result, joined))
            self.record(f"host_lost_{how}_longest_gap_per_connection_s",
                        *result["longest_gaps"])

    def test_lb_host_dies_data_plane_gone_then_joins_resets_no_connection(self):
        self.lose_and_rejoin_host("xdp")

    def test_lb_host_dies_link_down_then_joins_resets_no_connection(self):
        self.lose_and_rejoin_host("link")

    def test_lb_host_drained_and_undrained_resets_no_connection(self):
        host, agent = 1, self.agents[1]
        load = self.start_flows()
        try:
            for _ in range(ROUNDS):
                called = time.monotonic()
                agent.ctl("host", "drain")
                drained = self.watch.wait(
                    lambda hops: hops == self.without(host), 10, called)
                self.record("drain_to_route_gone_s", drained - called)
                self.assertTrue(self.bgp_status(agent)["host_drained"])
                self.assertFalse(self.announcement(agent, VIP4)["announced"])
                # Drained, the host still forwards what reaches it.
                self.assertEqual(self.lab.traffic(
                    "http", self.lab["LAB_VIP4"], 80, "--count", 30)[
                        "failures"], {})
                called = time.monotonic()
                agent.ctl("host", "undrain")
                undrained = self.watch.wait(
                    lambda hops: hops == self.all_hosts(), 10, called)
                self.record("undrain_to_route_s", undrained - called)
        finally:
            agent.ctl("host", "undrain", check=False)
            self.stop_flows(load)

    def test_bgp_daemon_restarted_routes_return_and_reset_no_connection(self):
        host, agent = 1, self.agents[1]
        load = self.start_flows()
        try:
            for _ in range(ROUNDS):
                stopped = time.monotonic()
                self.lab.stop_bgp(host)
                self.watch.wait(lambda hops: hops == self.without(host), 10,
                                stopped)
                started = time.monotonic()
                self.lab.start_bgp(host)
                back = self.watch.wait(
                    lambda hops: hops == self.all_hosts(), 20, started)
                self.record("bgp_daemon_restart_to_route_s", back - started)
        finally:
            self.lab.start_bgp(host)
            self.stop_flows(load)
        self.assertTrue(self.bgp_status(agent)["daemon_reachable"])

    # --- bad input; no BGP daemon at start ---

    def test_invalid_announce_settings_are_refused_and_change_nothing(self):
        agent = self.agents[0]
        before = agent.json("config", "get")
        proc = agent.ctl("vip", "update", VIP4, "--announce-min-healthy",
                         "5000", check=False)
        self.assertEqual(proc.returncode, 4, proc.stderr)
        self.assertIn("announce_min_healthy", proc.stderr)
        self.assertEqual(agent.json("config", "get"), before)

        for flag, value in (("--bgp-api", "192.0.2.1:50051"),
                            ("--bgp-api", "127.0.0.1"),
                            ("--bgp-next-hop-v4", "2001:db8::1"),
                            ("--bgp-next-hop-v6", "not-an-address")):
            with tempfile.TemporaryDirectory() as scratch:
                proc = subprocess.run(
                    ["nsenter", agent.netns(), XLBD, "--bpffs-dir",
                     f"{agent.pins}-bad", "--state-file", f"{scratch}/state",
                     "--listen-unix", f"{scratch}/xlbd.sock",
                     "--bgp-api", self.lab["LAB_BGP_API"], flag, value],
                    capture_output=True, text=True, timeout=20)
            subprocess.run(["rm", "-rf", f"{agent.pins}-bad"])
            self.assertNotEqual(proc.returncode, 0, f"{flag} {value}")
            self.assertIn(flag.lstrip("-").replace("-", "_"),
                          proc.stderr.replace("-", "_"), f"{flag} {value}")
        self.assertEqual(self.watch.now(), self.all_hosts())

    def test_xlbd_without_bgp_daemon_forwards_and_announces_once_it_appears(self):
        host, agent = HOSTS - 1, self.agents[HOSTS - 1]
        router = self.lab["LAB_ROUTER_NS"]
        pinned = ["ip", "-n", router, "route", "add", self.lab["LAB_VIP4"],
                  "via", self.host_address(host), "metric", "1"]
        try:
            agent.kill(signal.SIGTERM)
            self.lab.stop_bgp(host)
            self.watch.wait(lambda hops: hops == self.without(host), 10)
            agent.start()
            status = self.bgp_status(agent)
            self.assertTrue(status["configured"], status)
            self.assertFalse(status.get("daemon_reachable", False), status)
            self.assertTrue(status.get("last_error"), status)
            vip = self.announcement(agent, VIP4)
            self.assertFalse(vip.get("announced", False), vip)
            self.assertIn("unreachable", vip["reason"], vip)
            # It forwards: a route of the test's own sends the client's
            # traffic to this host alone for a moment.
            before = self.new_flows(agent)
            subprocess.run(pinned, check=True)
            try:
                result = self.lab.traffic("http", self.lab["LAB_VIP4"], 80,
                                          "--count", 30)
            finally:
                subprocess.run(["ip", "-n", router, "route", "del",
                                self.lab["LAB_VIP4"], "metric", "1"],
                               check=True)
            self.assertEqual(result["failures"], {}, result)
            self.assertEqual(self.new_flows(agent) - before, 30)
            appeared = time.monotonic()
            self.lab.start_bgp(host)
            back = self.watch.wait(lambda hops: hops == self.all_hosts(), 20,
                                   appeared)
            self.assertTrue(self.bgp_status(agent)["daemon_reachable"])
            self.record("bgp_daemon_appeared_to_route_s", back - appeared)
        finally:
            self.lab.start_bgp(host)
            if agent.proc is None:
                agent.start()


if __name__ == "__main__":
    unittest.main()
