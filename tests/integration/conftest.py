"""Integration tests: real OpenSSH sshd hosts on loopback, real tmux, real git.

Fixtures
- `loopback_fleet` (session): one LoopbackFleet with hosts "alpha" and "beta" (users fleet-tN),
  started once per run (about 0.3 s) and stopped at the end. Use it directly only in tests that
  leave the hosts as they found them (read-only checks).
- `fresh_hosts` (function): the same fleet, reset before the test (about 50 ms a host): every
  stopped sshd restarted on its port, all processes of the hosts' users killed (tmux servers,
  agents, open ssh sessions), their homes recreated from /etc/skel with a fresh ~/repo (same
  commit hash every time), FLEET_HOME emptied, client files rewritten; FLEET_CONFIG and
  FLEET_HOME in os.environ point at the fleet for the test. Resetting BEFORE each test (not
  after) means a test never depends on how the previous one ended. Prefer this one.
- A test that needs other hosts (more of them, raised sshd limits) makes its own
  `LoopbackFleet(...)` as a context manager; it claims other users, so it never collides.

Every test here gets the `integration` marker. Missing sshd/tmux/git/ssh-keygen/root skips
these tests locally, but FAILS them under CI=true: CI must never pass by skipping.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from tests.integration.hosts import LoopbackFleet, missing_requirements

HERE = Path(__file__).resolve().parent


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def skip_or_fail(reason: str) -> NoReturn:
    """Skip the test locally; under CI=true fail it: CI must never pass by skipping."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: failing instead of skipping)", pytrace=False)
    pytest.skip(reason)


def require_hosts(what: str) -> None:
    """Skip (or, in CI, fail) unless this machine can run loopback hosts; `what` needs them."""
    missing = missing_requirements()
    if missing:
        skip_or_fail(f"{what} need: " + ", ".join(missing))


def reset_for_test(lf: LoopbackFleet, monkeypatch: pytest.MonkeyPatch) -> LoopbackFleet:
    """The fleet reset, with FLEET_CONFIG and FLEET_HOME pointing at it for this test."""
    lf.reset()
    monkeypatch.setenv("FLEET_CONFIG", str(lf.fleet_toml))
    monkeypatch.setenv("FLEET_HOME", str(lf.state_dir))
    return lf


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # This hook sees every collected item of the session, not only this directory's.
    for item in items:
        if HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session", autouse=True)
def _integration_requirements() -> None:
    require_hosts("integration tests")


@pytest.fixture(scope="session")
def loopback_fleet(_integration_requirements: None) -> Iterator[LoopbackFleet]:
    with LoopbackFleet(names=["alpha", "beta"]) as lf:
        yield lf


@pytest.fixture
def fresh_hosts(loopback_fleet: LoopbackFleet, monkeypatch: pytest.MonkeyPatch) -> LoopbackFleet:
    return reset_for_test(loopback_fleet, monkeypatch)
