"""fleet.core.wiring.wired: the store, hooks and supervisor both faces use, opened together and
closed in one order; the error of what ran inside is never replaced by a failing store close."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fleet.core.config import Config
from fleet.core.errors import FleetError
from fleet.core.hooks import HookRunner
from fleet.core.store import Store, StoreError
from fleet.core.supervisor import Supervisor
from fleet.core.wiring import wired


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv("FLEET_HOME", str(tmp_path / "state"))
    return Config(path=tmp_path / "fleet.toml", exists=False)


@pytest.fixture
def closed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The order things close in; a store close that fails when `closed` holds "fail"."""
    order: list[str] = []
    for cls, name in ((Supervisor, "supervisor"), (HookRunner, "hooks"), (Store, "store")):
        real = cls.close

        async def close(self: object, real: Any = real, name: str = name) -> None:
            order.append(name)
            await real(self)
            if name == "store" and "fail" in order:
                raise StoreError("fleet.db: the disk is full")

        monkeypatch.setattr(cls, "close", close)
    return order


async def test_it_opens_everything_and_closes_in_order(
    config: Config, tmp_path: Path, closed: list[str]
) -> None:
    async with wired(config) as sup:
        assert sup.store is not None and sup.hooks is not None
        assert sup.store.path == tmp_path / "state" / "fleet.db"
        sup.store.record_host("alpha", "alpha", "connected")
    assert closed == ["supervisor", "hooks", "store"]
    async with await Store.open(tmp_path / "state" / "fleet.db") as store:
        assert list(await store.hosts()) == ["alpha"]  # committed on the way out


async def test_the_commands_error_wins_over_a_failing_store_close(
    config: Config, closed: list[str]
) -> None:
    with pytest.raises(FleetError, match="the command failed"):
        async with wired(config):
            closed.append("fail")
            raise FleetError("the command failed")
    assert closed == ["fail", "supervisor", "hooks", "store"]


async def test_a_failing_store_close_is_raised_when_nothing_else_failed(
    config: Config, closed: list[str]
) -> None:
    with pytest.raises(StoreError, match="disk is full"):
        async with wired(config):
            closed.append("fail")
    assert closed == ["fail", "supervisor", "hooks", "store"]
