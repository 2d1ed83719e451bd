"""The test host for outbound actions: a network namespace joined to the host by a veth pair.

Addresses come from the documentation ranges (a /30 per run, none that overlaps a network the host's
interfaces are on: a VM may itself sit in 192.0.2.0/24), so connections leave the host's loopback
(they are outbound for the rules) but never the machine. A listener inside accepts and
closes connections on the ports the actions use.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
from dataclasses import dataclass

from tiercel.generator.base import helper_python

PORTS = (8080, 3333)
LISTENER = """
import socket, sys, threading
def serve(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[1], port)); s.listen(64); return s
socks = [serve(int(p)) for p in sys.argv[2:]]
print("ready", flush=True)
def loop(s):
    while True:
        c, _ = s.accept(); c.close()
for s in socks[1:]:
    threading.Thread(target=loop, args=(s,), daemon=True).start()
loop(socks[0])
"""


DOC_RANGES = ("198.51.100.0/24", "203.0.113.0/24", "192.0.2.0/24")


def free_block(taken: list[ipaddress.IPv4Network], seed: int) -> ipaddress.IPv4Network:
    """A /30 of the documentation ranges that overlaps none of `taken`, from `seed` on."""
    blocks = [b for r in DOC_RANGES for b in ipaddress.IPv4Network(r).subnets(new_prefix=30)]
    for i in range(len(blocks)):
        b = blocks[(seed + i) % len(blocks)]
        if not any(b.overlaps(t) for t in taken):
            return b
    raise RuntimeError("every documentation /30 overlaps a network of this host")


def host_networks() -> list[ipaddress.IPv4Network]:
    out = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True).stdout
    return [ipaddress.IPv4Interface(line.split()[3]).network for line in out.splitlines()
            if len(line.split()) > 3]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@dataclass
class TestHost:
    ns: str
    host_if: str
    host_ip: str
    peer_ip: str
    listener: subprocess.Popen[bytes] | None = None

    @classmethod
    def create(cls) -> TestHost:
        block = free_block(host_networks(), os.getpid())
        host_ip, peer_ip = list(block.hosts())
        th = cls(ns=f"tiercel-gen-{os.getpid()}", host_if=f"tcgen{os.getpid()}"[:15],
                 host_ip=str(host_ip), peer_ip=str(peer_ip))
        try:
            th._setup()
        except BaseException:
            th.close()
            raise
        return th

    def _setup(self) -> None:
        _ip("netns", "add", self.ns)
        _ip("link", "add", self.host_if, "type", "veth", "peer", "name", "tcgen-peer", "netns", self.ns)
        _ip("addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
        _ip("link", "set", self.host_if, "up")
        _ip("-n", self.ns, "addr", "add", f"{self.peer_ip}/30", "dev", "tcgen-peer")
        _ip("-n", self.ns, "link", "set", "tcgen-peer", "up")
        _ip("-n", self.ns, "link", "set", "lo", "up")
        self.listener = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, helper_python(), "-I", "-S", "-c", LISTENER,
             self.peer_ip, *map(str, PORTS)], stdout=subprocess.PIPE)
        assert self.listener.stdout is not None
        if self.listener.stdout.readline().strip() != b"ready":
            raise RuntimeError("the test host's listener did not start")

    @property
    def target(self) -> tuple[str, int]:
        return (self.peer_ip, PORTS[0])

    def close(self) -> None:
        if self.listener is not None and self.listener.poll() is None:
            self.listener.kill()
            self.listener.wait()
        subprocess.run(["ip", "link", "del", self.host_if], stderr=subprocess.DEVNULL, check=False)
        subprocess.run(["ip", "netns", "del", self.ns], stderr=subprocess.DEVNULL, check=False)
