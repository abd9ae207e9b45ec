"""Shared pieces of the end-to-end tests: the lab, the agent and the client.

Every test module builds its own lab (unique name), runs a real xlbd on the
LB host and drives it through the real xlbctl; traffic comes from the
client namespace through the attached XDP program. Everything a test makes
(namespaces, processes, pins, temp files) is removed on every exit path.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
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
    def __init__(self):
        self.name = f"t{os.getpid() % 100000}"
        self.env = {}

    def up(self):
        subprocess.run([LABCTL, "up", self.name], check=True,
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

    def stop_server(self, i):
        subprocess.run([LABCTL, "stop-server", self.name, str(i)], check=True)

    def start_server(self, i):
        subprocess.run([LABCTL, "start-server", self.name, str(i)], check=True)

    def traffic(self, *args, background=False):
        """Runs traffic.py in the client namespace; returns its JSON result,
        or the Popen when background (collect with `collect`)."""
        cmd = ["ip", "netns", "exec", self["LAB_CLIENT_NS"], "python3",
               TRAFFIC, *[str(a) for a in args]]
        if background:
            return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        out = subprocess.run(cmd, check=True, capture_output=True, text=True,
                             timeout=180).stdout
        return json.loads(out)

    @staticmethod
    def first_line(proc):
        """The first line a background `session` prints: its backend."""
        return proc.stdout.readline().strip()

    @staticmethod
    def collect(proc, timeout=120):
        out, _ = proc.communicate(timeout=timeout)
        return json.loads(out.strip().splitlines()[-1])


class Agent:
    """A real xlbd on the lab's LB host, with its own pins, state and socket."""

    def __init__(self, lab, extra_flags=()):
        self.lab = lab
        self.dir = tempfile.mkdtemp(prefix="xlb-it-")
        self.pins = f"/sys/fs/bpf/xlb-it-{lab.name}"
        self.socket = os.path.join(self.dir, "xlbd.sock")
        self.state = os.path.join(self.dir, "state")
        self.extra_flags = list(extra_flags)
        self.proc = None

    def command(self):
        lab = self.lab
        return ["nsenter", f"--net=/run/netns/{lab['LAB_LB_NS']}", XLBD,
                "--interface", lab["LAB_LB_IF"], "--bpffs-dir", self.pins,
                "--state-file", self.state, "--listen-unix", self.socket,
                "--source-v4", lab["LAB_LB4"], "--source-v6", lab["LAB_LB6"],
                "--gateway-mac", lab["LAB_GATEWAY_MAC"],
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

    def close(self):
        self.kill(signal.SIGTERM)
        subprocess.run(["nsenter", f"--net=/run/netns/{self.lab['LAB_LB_NS']}",
                        XLBD, "--remove", "--interface", self.lab["LAB_LB_IF"],
                        "--bpffs-dir", self.pins],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.pins, ignore_errors=True)
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
