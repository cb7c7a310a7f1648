"""The real-agents tier: real agent CLIs, as fleet sessions on a loopback sshd host, against
the scripted model of fakemodel.py. Run it with `pytest -m realagents` (it is deselected by
default); install the CLIs first with `python tests/realagents/install.py`.

Fixtures
- `loopback` (session): a LoopbackFleet with one host, "alpha".
- `hosts` (function): that fleet reset before the test (every process of the host's user killed,
  its home recreated from /etc/skel with a fresh ~/repo), FLEET_CONFIG/FLEET_HOME pointing at it.
- `model` (function): a started FakeModel; its transcript is printed when the test fails.
- `agent_cli` (factory): `agent_cli("claude")` -> the installed executable. A missing CLI skips
  the test locally and FAILS it under CI=true: CI must never pass by skipping.
- `seed` (factory): `seed(".claude.json", text)` writes a file into the host user's home, owned
  by that user, as the person would have set the agent up.

Every test here gets the `realagents` marker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import require_hosts, reset_for_test, skip_or_fail
from tests.integration.hosts import LoopbackFleet
from tests.realagents.clis import CLIS
from tests.realagents.fakemodel import FakeModel
from tests.realagents.harness import seed_file

HERE = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # tryfirst: the marker must be on the items before `-m` deselects by it.
    for item in items:
        if HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.realagents)


@pytest.fixture(scope="session")
def loopback() -> Iterator[LoopbackFleet]:
    require_hosts("real-agent tests")
    with LoopbackFleet(names=["alpha"]) as lf:
        yield lf


@pytest.fixture
def hosts(loopback: LoopbackFleet, monkeypatch: pytest.MonkeyPatch) -> LoopbackFleet:
    return reset_for_test(loopback, monkeypatch)


@pytest.fixture
def model(request: pytest.FixtureRequest) -> Iterator[FakeModel]:
    with FakeModel() as fake:
        yield fake
        # Printed into the captured output, which pytest shows only for a failed test.
        print("---- fake model transcript ----\n" + fake.transcript())


@pytest.fixture
def agent_cli() -> Callable[[str], Path]:
    def locate(name: str) -> Path:
        cli = CLIS[name]
        if not cli.installed():
            skip_or_fail(
                f"{cli.name} {cli.version} is not installed at {cli.path} "
                f"(python tests/realagents/install.py {cli.name})"
            )
        return cli.path

    return locate


@pytest.fixture
def seed(hosts: LoopbackFleet) -> Callable[[str, str], Path]:
    host = hosts["alpha"]

    def write(relpath: str, text: str) -> Path:
        return seed_file(host, relpath, text)

    return write
