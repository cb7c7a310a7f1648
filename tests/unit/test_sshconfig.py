"""The per-host part of an ssh config: asyncssh reads the same options from it as from the
whole file, and a config of many plain Host blocks shrinks to the ones that can apply."""

from __future__ import annotations

import stat
from pathlib import Path

import asyncssh

from fleet.core import sshconfig

CONFIG = """\
# global part
ServerAliveInterval 30

Host alpha
  HostName 10.0.0.1
  User ann
Host beta gamma
  HostName 10.0.0.2
  Port 2222
Host *.lab
  User labber
Host !delta *
  Compression yes
Match user root
  Port 2022
Host "quoted name"
  Port 2400
Host=eq
  Port 2500
Host ALPHA-CAPS
  Port 2600
"""


def _options(path: Path, host: str) -> dict[str, object]:
    opts = asyncssh.SSHClientConnectionOptions(config=[str(path)], host=host)
    return {
        "host": opts.host,
        "port": opts.port,
        "user": opts.username,
        "compression": opts.compression_algs,
    }


def test_the_copy_gives_asyncssh_the_same_options(tmp_path: Path) -> None:
    whole = tmp_path / "config"
    whole.write_text(CONFIG)
    for host in ("alpha", "beta", "gamma", "x.lab", "delta", "eq", "alpha-caps", "ALPHA", "zeta"):
        part = sshconfig.config_for(whole, host)
        assert _options(part, host) == _options(whole, host), host


def test_only_plain_host_blocks_for_other_hosts_are_left_out() -> None:
    part = sshconfig.for_host(CONFIG, "alpha")
    assert "HostName 10.0.0.1" in part and "ServerAliveInterval 30" in part
    assert "HostName 10.0.0.2" not in part  # beta gamma: plain names, not alpha
    assert "Port 2600" not in part
    for kept in ("User labber", "Compression yes", "Port 2022", "Port 2400", "Port 2500"):
        assert kept in part, kept
    assert "HostName 10.0.0.2" in sshconfig.for_host(CONFIG, "GAMMA")


def test_many_plain_blocks_leave_one(tmp_path: Path) -> None:
    whole = tmp_path / "config"
    whole.write_text(
        "".join(f"Host sim{i:03d}\n  HostName 127.0.0.1\n  Port {20000 + i}\n" for i in range(500))
    )
    part = sshconfig.config_for(whole, "sim250")
    assert part.read_text() == "Host sim250\n  HostName 127.0.0.1\n  Port 20250\n"
    assert stat.S_IMODE(part.stat().st_mode) == 0o600
    assert stat.S_IMODE(part.parent.stat().st_mode) == 0o700
    assert _options(part, "sim250")["port"] == 20250


def test_a_config_with_nothing_to_leave_out_is_used_as_it_is(tmp_path: Path) -> None:
    whole = tmp_path / "config"
    whole.write_text("Host *\n  User everyone\n")
    assert sshconfig.config_for(whole, "any") == whole


def test_an_edited_config_is_read_again(tmp_path: Path) -> None:
    whole = tmp_path / "config"
    whole.write_text("Host a\n  Port 1001\nHost b\n  Port 1002\n")
    assert "1001" in sshconfig.config_for(whole, "a").read_text()
    whole.write_text("Host a\n  Port 1003\nHost b\n  Port 1002\n  User bee\n")
    assert "1003" in sshconfig.config_for(whole, "a").read_text()
