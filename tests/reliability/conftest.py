"""Reliability tests: faults fleet must survive (network cuts, restarts, a killed supervisor, a
hanging hook, a full disk, a slow host) and the soak. Real sshd hosts, as in tests/integration,
whose fixtures (`loopback_fleet`, `fresh_hosts`) are reused here.

Every test here gets the `integration` and `reliability` markers. Missing sshd/tmux/git/root
skips the tests that need hosts locally, but FAILS them under CI=true.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.conftest import fresh_hosts, loopback_fleet, require_hosts

__all__ = ["fresh_hosts", "loopback_fleet"]

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # This hook sees every collected item of the session, not only this directory's.
    for item in items:
        if HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.reliability)


@pytest.fixture(scope="session")
def _integration_requirements() -> None:
    """Not autouse (unlike tests/integration's): tests here that need no host never skip."""
    require_hosts("reliability tests")
