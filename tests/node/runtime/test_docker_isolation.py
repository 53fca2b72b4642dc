"""The isolation self-check's verdicts and probe command, without a Docker engine."""

from __future__ import annotations

import json

import pytest

from v6lib.errors import RuntimeUnavailableError
from v6lib.node.runtime.docker_isolation import (
    PUBLIC_TARGETS,
    IsolationReport,
    host_ipv4_addresses,
    probe_command,
    read_report,
)

CAGED = {"tcp 1.1.1.1:443": "blocked: Network is unreachable", "dns example.com":
         "blocked: [Errno -3] Temporary failure in name resolution", "proxy socket": "ok"}


def test_a_caged_container_with_a_reachable_proxy_passes() -> None:
    report = read_report("noise\nV6-ISOLATION " + json.dumps(CAGED) + "\n")
    assert report.leaks == []
    report.raise_if_unsafe()


def test_any_reached_target_or_interface_is_refused_and_named() -> None:
    report = IsolationReport({**CAGED, "tcp 10.0.0.5:9": "reached (refused by a listening host)",
                              "interface eth0": "reached: a network interface other than "
                                                "loopback"})
    with pytest.raises(RuntimeUnavailableError, match="isolation check failed") as err:
        report.raise_if_unsafe()
    assert err.value.details["reached"] == ["interface eth0", "tcp 10.0.0.5:9"]
    assert "tcp 10.0.0.5:9: reached" in err.value.message


def test_an_unreachable_proxy_is_refused_too() -> None:
    report = IsolationReport({**CAGED, "proxy socket": "unreachable: [Errno 13] Permission "
                                                       "denied"})
    with pytest.raises(RuntimeUnavailableError, match="cannot reach the node proxy's socket "
                                                      r"\(unreachable: \[Errno 13\]"):
        report.raise_if_unsafe()


def test_no_answer_is_a_failed_check() -> None:
    with pytest.raises(RuntimeUnavailableError, match="gave no answer"):
        read_report("python3: not found")


def test_probe_tries_the_outside_every_host_address_and_the_proxy() -> None:
    command = probe_command("/mnt/proxy/proxy.sock", extra_targets=[("10.1.2.3", 80)])
    targets = [tuple(t) for t in json.loads(command[3])]
    assert command[:2] == ["python3", "-c"] and command[5] == "/mnt/proxy/proxy.sock"
    assert command[6:] == ["[]", ""]  # no relays, no allowlisting proxy
    assert set(PUBLIC_TARGETS) <= set(targets) and ("10.1.2.3", 80) in targets
    assert {(ip, 9) for ip in host_ipv4_addresses()} <= set(targets)
    assert ("172.17.0.1", 9) in targets and len(targets) == len(set(targets))
