"""``v6 trust``: show, accept, forget pins; print a key's fingerprint."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from v6lib.cli import main
from v6lib.crypto import fingerprint, generate_private_key, save_private_key
from v6lib.trust import TrustStore, default_trust_path


def test_accept_show_and_forget_a_pin(tmp_path: Path) -> None:
    runner = CliRunner()
    value = "ab" * 32
    where = ["--server-url", "https://v6.example.org", "--port", "443"]
    accepted = runner.invoke(main, ["trust", "accept", *where, "3", value.upper()])
    assert accepted.exit_code == 0, accepted.output
    store = TrustStore(default_trust_path("https://v6.example.org:443/api"))
    assert store.pinned(3) == value
    assert store.path is not None and store.path.stat().st_mode & 0o777 == 0o600
    shown = runner.invoke(main, ["trust", "show", *where])
    assert f"organization 3: {value}" in shown.output
    bad = runner.invoke(main, ["trust", "accept", *where, "3", "nothex"])
    assert bad.exit_code != 0 and "64 hex digits" in bad.output
    forgot = runner.invoke(main, ["trust", "forget", *where, "3"])
    assert forgot.exit_code == 0
    assert TrustStore(store.path).pinned(3) is None


def test_fingerprint_of_a_key_file(tmp_path: Path) -> None:
    key = generate_private_key(2048)
    save_private_key(key, tmp_path / "k.pem")
    out = CliRunner().invoke(main, ["trust", "fingerprint", str(tmp_path / "k.pem")])
    assert out.exit_code == 0 and out.output.strip() == fingerprint(key)
