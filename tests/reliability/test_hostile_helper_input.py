"""Malformed requests to the real helper on a real host, sent over ssh exactly as fleet sends
them (the helper's fixed command line, the request on stdin): every one gets a clear JSON
error and a nonzero exit, never a traceback, and no message longer than the helper's bound.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from fleet.core.remote.hostside.protocol import MAX_ERROR
from tests.integration.fleetrun import FleetCLI
from tests.integration.hosts import LoopbackFleet

MALFORMED: list[tuple[str, bytes, str]] = [
    ("empty", b"", "bad-request"),
    ("blank line", b"\n", "bad-request"),
    ("not json", b"not json at all\n", "bad-request"),
    ("array", b"[1, 2]\n", "bad-request"),
    ("string", b'"list"\n', "bad-request"),
    ("number", b"42\n", "bad-request"),
    ("null", b"null\n", "bad-request"),
    ("no op", b"{}\n", "bad-request"),
    ("op not a string", b'{"op": 5}\n', "bad-request"),
    ("args not an object", b'{"op": "list", "args": [1]}\n', "bad-request"),
    ("unknown op", b'{"op": "rm -rf /"}\n', "bad-request"),
    ("not utf-8", b'{"op": "\xff\xfe"}\n', "bad-request"),
    ("nested 100k deep", b"[" * 100_000 + b"]" * 100_000 + b"\n", "bad-request"),
    ("2 MB of garbage", b"x" * 2_000_000 + b"\n", "bad-request"),
    ("NaN args", b'{"op": "screen", "args": {"session": NaN}}\n', "bad-request"),
    ("traversing session", b'{"op": "screen", "args": {"session": "../../x"}}\n', "bad-request"),
    ("traversing diff", b'{"op": "diff", "args": {"session": "../../../etc"}}\n', "bad-request"),
    ("traversing tail", b'{"op": "tail", "args": {"session": "../x"}}\n', "bad-request"),
    ("unknown session", b'{"op": "diff", "args": {"session": "abcdefgh"}}\n', ""),
    (
        "session as list",
        b'{"op": "send", "args": {"session": ["a"], "text": "x"}}\n',
        "bad-request",
    ),
    ("name traversing", b'{"op": "new", "args": {"repo": "~/repo", "name": "../../x"}}\n', ""),
    ("repo not a string", b'{"op": "new", "args": {"repo": 5}}\n', ""),
    ("keys not names", b'{"op": "keys", "args": {"session": "abcdefgh", "keys": ["C-c;x"]}}\n', ""),
    ("huge id", b'{"op": "screen", "args": {"session": "' + b"a" * 500_000 + b'"}}\n', ""),
]


def ssh_helper(lf: LoopbackFleet, helper: str, data: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["ssh", "-F", str(lf.ssh_config), "-o", "BatchMode=yes", "alpha", f"python3 {helper}"],
        input=data,
        capture_output=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def installed(loopback_fleet: LoopbackFleet) -> tuple[LoopbackFleet, str]:
    """The real helper, installed by fleet itself (read-only use of the hosts after that)."""
    lf = loopback_fleet
    lf.reset()
    fleet = FleetCLI(lf)
    fleet.ok("hosts")
    helpers = list((lf["alpha"].home / ".fleet").glob("helper-*.pyz"))
    assert len(helpers) == 1
    return lf, f".fleet/{helpers[0].name}"


@pytest.mark.parametrize(("what", "data", "kind"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_request_gets_a_clear_error(
    installed: tuple[LoopbackFleet, str], what: str, data: bytes, kind: str
) -> None:
    lf, helper = installed
    proc = ssh_helper(lf, helper, data)
    assert proc.returncode != 0, (what, proc)
    assert b"Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert proc.stderr == b"", proc.stderr[-500:]
    lines = proc.stdout.decode("utf-8").strip().splitlines()
    assert lines, what
    answer: dict[str, Any] = json.loads(lines[-1])
    error = answer.get("error") or {}
    assert answer.get("ok") is False or answer.get("type") == "failed", answer
    assert isinstance(error.get("message"), str) and error["message"], answer
    assert len(error["message"]) <= MAX_ERROR, len(error["message"])
    if kind:
        assert error.get("kind") == kind, (what, answer)
    assert "/home/" not in error["message"] or what in ("unknown session",), error
