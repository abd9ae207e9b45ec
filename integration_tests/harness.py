"""Shared pieces of the end-to-end tests: the lab, the agent and the client.

Every test module builds its own lab (unique name), runs a real xlbd on
each LB host and drives it through the real xlbctl; traffic comes from the
client namespace through the attached XDP program. Everything a test makes
(namespaces, processes, pins, temp files) is removed on every exit path.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("XLB_BUILD", os.path.join(ROOT, "build"))
LABCTL = os.path.join(ROOT, "tools", "lab", "lab")
TRAFFIC = os.path.join(ROOT, "integration_tests", "traffic.py")
XLBD = os.path.join(BUILD, "tools", "xlbd", "xlbd")
XLBCTL = os.path.join(BUILD, "tools", "xlbctl", "xlbctl")


def require_privilege():
    """Skips without root; under CI=true a missing privilege fails."""
    problem = None
    if os.geteuid() != 0:
        problem = "not root"
    elif not os.path.ismount("/sys/fs/bpf"):
        problem = "no bpffs at /sys/fs/bpf"
    elif shutil.which("ip") is None:
        problem = "no iproute2"
    if problem:
        if os.environ.get("CI") == "true":
            raise AssertionError(
                f"end-to-end tests need root, bpffs and netns: {problem}")
        raise unittest.SkipTest(problem)


class Lab:
    def __init__(self, lbs=1):
        self.name = f"t{os.getpid() % 100000}"
        self.lbs = lbs
        self.env = {}

    def up(self):
        lbs = ["--lbs", str(self.lbs)] if self.lbs > 1 else []
        subprocess.run([LABCTL, "up", self.name, *lbs], check=True,
                       env={**os.environ, "XLB_BUILD": BUILD},
                       stdout=subprocess.DEVNULL)
        out = subprocess.run([LABCTL, "env", self.name], check=True,
                             capture_output=True, text=True).stdout
        for line in out.splitlines():
            key, _, value = line.partition("=")
            if value.startswith("("):
                self.env[key] = value.strip("()").split()
            else:
                self.env[key] = value
        return self

    def down(self):
        subprocess.run([LABCTL, "down", self.name], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

    def __getitem__(self, key):
        return self.env[key]

    def lb(self, key, host):
        """LB host `host`'s (0-based) value of a per-host variable: `lab
        env` prints a list with several hosts, a plain value with one."""
        value = self.env[key]
        return value[host] if isinstance(value, list) else value

    def stop_server(self, i):
        subprocess.run([LABCTL, "stop-server", self.name, str(i)], check=True)

    def start_server(self, i):
        subprocess.run([LABCTL, "start-server", self.name, str(i)], check=True)

    def stop_bgp(self, host, kill=False):
        """Stops LB host `host`'s (0-based) gobgpd: SIGTERM, or SIGKILL."""
        subprocess.run([LABCTL, "stop-bgp", self.name, str(host + 1),
                        *(["KILL"] if kill else [])], check=True)

    def start_bgp(self, host):
        subprocess.run([LABCTL, "start-bgp", self.name, str(host + 1)],
                       check=True)

    def bgp_pid(self, host):
        """The PID of LB host `host`'s gobgpd, which the lab started."""
        return int(subprocess.run(
            [LABCTL, "bgp-pid", self.name, str(host + 1)], check=True,
            capture_output=True, text=True).stdout)

    def set_link(self, host, up):
        """Takes LB host `host`'s (0-based) link down (at once: `ip`, not
        the lab script), or brings it back up with its addresses and
        routes."""
        if up:
            subprocess.run([LABCTL, "link-up", self.name, str(host + 1)],
                           check=True)
        else:
            subprocess.run(["ip", "-n", self.lb("LAB_LB_NS", host), "link",
                            "set", self["LAB_LB_IF"], "down"], check=True)

    def next_hops(self, address):
        """The next hops of the router's route to a VIP address (its /32 or
        /128): those it forwards to (their link is up), and every one the
        route lists."""
        family = "-6" if ":" in address else "-4"
        out = subprocess.run(
            ["ip", "-n", self["LAB_ROUTER_NS"], family, "-j", "route", "show",
             address], check=True, capture_output=True, text=True).stdout
        usable, listed = set(), set()
        for route in json.loads(out or "[]"):
            for hop in route.get("nexthops", [route]):
                if "gateway" not in hop:
                    continue
                listed.add(hop["gateway"])
                if not {"linkdown", "dead"} & set(hop.get("flags", [])):
                    usable.add(hop["gateway"])
        return frozenset(usable), frozenset(listed)

    def traffic(self, *args, background=False):
        """Runs traffic.py in the client namespace; returns its JSON result,
        or the Popen when background (collect with `collect`)."""
        cmd = ["ip", "netns", "exec", self["LAB_CLIENT_NS"], "python3",
               TRAFFIC, *[str(a) for a in args]]
        if background:
            return subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True)
        out = subprocess.run(cmd, check=True, capture_output=True, text=True,
                             timeout=180).stdout
        return json.loads(out)

    @staticmethod
    def first_line(proc):
        """The first line a background `session` prints: its backend."""
        return proc.stdout.readline().strip()

    @staticmethod
    def collect(proc, timeout=120, stop=False):
        """The JSON result of a background run; with `stop`, asks a `flows`
        run to end now."""
        out, _ = proc.communicate("stop\n" if stop else None, timeout=timeout)
        return json.loads(out.strip().splitlines()[-1])


class RouteWatch:
    """Follows the router's route to one VIP address as it changes (each
    route or link event on the router wakes it; it then reads the route),
    recording when each state appeared, on the clock of time.monotonic().
    A state is the next hops the router forwards to (`usable`) and every one
    its route lists (`listed`: also those whose link is down)."""

    def __init__(self, lab, address):
        self.lab, self.address = lab, address
        self.changes = []  # (monotonic time, usable hops, listed hops)
        self.cond = threading.Condition()
        self.monitor = subprocess.Popen(
            ["ip", "-n", lab["LAB_ROUTER_NS"], "monitor", "route", "link"],
            stdout=subprocess.PIPE, text=True)
        self.record(time.monotonic())
        self.thread = threading.Thread(target=self.follow, daemon=True)
        self.thread.start()

    def record(self, when):
        state = self.lab.next_hops(self.address)
        with self.cond:
            if not self.changes or self.changes[-1][1:] != state:
                self.changes.append((when, *state))
                self.cond.notify_all()

    def follow(self):
        for _ in self.monitor.stdout:
            self.record(time.monotonic())

    def now(self):
        with self.cond:
            return self.changes[-1][1]

    def wait(self, predicate, timeout, since=0.0, usable=True):
        """The first time at or after `since` (monotonic) the next hops
        (usable ones, or every listed one) satisfied `predicate`;
        AssertionError after `timeout` seconds."""
        column = 1 if usable else 2
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                later = [c[0] for c in self.changes[1:]] + [float("inf")]
                for change, until in zip(self.changes, later):
                    if until > since and predicate(change[column]):
                        return max(change[0], since)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"router's next hops for {self.address}: "
                        f"{sorted(self.changes[-1][column])} after {timeout} s")
                self.cond.wait(left)

    def close(self):
        self.monitor.kill()
        self.monitor.wait()
        self.thread.join(timeout=5)


class Agent:
    """A real xlbd on one of the lab's LB hosts (0-based `host`), with its
    own pins, state and socket."""

    def __init__(self, lab, extra_flags=(), host=0):
        self.lab = lab
        self.host = host
        self.dir = tempfile.mkdtemp(prefix="xlb-it-")
        self.pins = f"/sys/fs/bpf/xlb-it-{lab.name}" + (
            f"-{host + 1}" if host else "")
        self.socket = os.path.join(self.dir, "xlbd.sock")
        self.state = os.path.join(self.dir, "state")
        self.extra_flags = list(extra_flags)
        self.proc = None

    def netns(self):
        return f"--net=/run/netns/{self.lab.lb('LAB_LB_NS', self.host)}"

    def command(self):
        lab, host = self.lab, self.host
        return ["nsenter", self.netns(), XLBD,
                "--interface", lab["LAB_LB_IF"], "--bpffs-dir", self.pins,
                "--state-file", self.state, "--listen-unix", self.socket,
                "--source-v4", lab.lb("LAB_LB4", host),
                "--source-v6", lab.lb("LAB_LB6", host),
                "--gateway-mac", lab.lb("LAB_GATEWAY_MAC", host),
                "--mtu", lab["LAB_MTU"], "--log-level", "warning",
                *self.extra_flags]

    def start(self):
        with open(os.path.join(self.dir, "xlbd.log"), "ab") as log:
            self.proc = subprocess.Popen(self.command(), stdout=log,
                                         stderr=log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("xlbd exited: " + self.log())
            if self.ctl("status", check=False).returncode == 0:
                return self
            time.sleep(0.1)
        raise RuntimeError("xlbd did not answer: " + self.log())

    def log(self):
        with open(os.path.join(self.dir, "xlbd.log"), errors="replace") as f:
            return f.read()[-4000:]

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=10)
        self.proc = None

    def remove_dataplane(self):
        """Detaches the data plane and deletes its pins (xlbd --remove)."""
        subprocess.run(["nsenter", self.netns(), XLBD, "--remove",
                        "--interface", self.lab["LAB_LB_IF"],
                        "--bpffs-dir", self.pins],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.pins, ignore_errors=True)

    def close(self):
        self.kill(signal.SIGTERM)
        self.remove_dataplane()
        shutil.rmtree(self.dir, ignore_errors=True)

    def ctl(self, *args, check=True):
        proc = subprocess.run([XLBCTL, "--server", f"unix:{self.socket}",
                               *[str(a) for a in args]],
                              capture_output=True, text=True, timeout=60)
        if check and proc.returncode != 0:
            raise AssertionError(f"xlbctl {' '.join(map(str, args))} failed "
                                 f"({proc.returncode}): {proc.stderr}")
        return proc

    def json(self, *args):
        return json.loads(self.ctl("-o", "json", *args).stdout)

    def healthy(self, vip, address):
        for b in self.json("health", "show", vip).get("backends", []):
            if b.get("address") == address:
                return bool(b.get("healthy", False))
        return None

    def wait_health(self, vip, address, healthy, timeout=15.0):
        """Seconds until `address` in `vip` reports `healthy`."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.healthy(vip, address) == healthy:
                return time.monotonic() - started
            time.sleep(0.05)
        raise AssertionError(f"{address} in {vip} not healthy={healthy} "
                             f"after {timeout} s")


class LabTestCase(unittest.TestCase):
    """One lab and one agent per test class."""
    agent_flags = ()

    @classmethod
    def setUpClass(cls):
        require_privilege()
        cls.lab = Lab()
        try:
            cls.lab.up()
            cls.agent = Agent(cls.lab, cls.agent_flags).start()
        except BaseException:
            cls.lab.down()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.agent.close()
        cls.lab.down()
