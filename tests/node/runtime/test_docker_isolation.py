"""Firewall bookkeeping of docker_isolation, with a recording stand-in for iptables."""

from __future__ import annotations

import stat
from pathlib import Path

from v6lib.node.runtime.docker_isolation import Firewall, NodeNetwork


def _recording_iptables(tmp_path: Path) -> tuple[Path, Path]:
    calls = tmp_path / "calls.txt"
    script = tmp_path / "iptables"
    script.write_text(f'#!/bin/sh\necho "$*" >> {calls}\nexit 0\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script, calls


def test_allow_port_checks_each_bridge_and_port_once(tmp_path: Path) -> None:
    script, calls = _recording_iptables(tmp_path)
    firewall = Firewall(command=str(script))
    net = NodeNetwork(name="n", network_id="abc", gateway="10.9.0.1", subnet="10.9.0.0/24",
                      bridge="br-test")
    for _ in range(3):
        firewall.allow_port(net, 8765)
    firewall.allow_port(net, 8766)
    checks = [line for line in calls.read_text().splitlines() if " -C " in f" {line} "]
    assert len(checks) == 2
    assert "--dport 8765" in checks[0] and "--dport 8766" in checks[1]
    firewall.release(net)
    firewall.allow_port(net, 8765)  # released: the rule is checked (and added) again
    checks = [line for line in calls.read_text().splitlines() if " -C " in f" {line} "]
    assert len(checks) == 3
