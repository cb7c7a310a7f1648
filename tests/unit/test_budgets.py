"""Budgets: the [budgets] shape and its errors, when a budget is crossed (the highest level
reached, once), which budgets hold a session, and the supervisor marking a crossing once in
the store (a second fleet on the same file, or a restart, does not act on it again)."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

from fleet.core import events
from fleet.core.budgets import budgets_for, crossings, holding
from fleet.core.config import ConfigError, load_config
from fleet.core.config.budgets import Budgets, Limit
from fleet.core.fleetstate import FleetState
from fleet.core.models import Session, Status
from fleet.core.store import Store
from fleet.core.supervisor import OverBudget, Supervisor
from fleet.core.usage import DEFAULT_PRICES, UsageRecord, local_day
from fleet.presentation import crossing_words

NOW = time.time()
DAY = local_day(NOW)
SONNET = "claude-sonnet-4-5"


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fleet.toml"
    path.write_text('[hosts.gpu]\nssh = "gpu"\n' + textwrap.dedent(text))
    return path


def test_the_budgets_shape(tmp_path: Path) -> None:
    loaded = load_config(
        config(
            tmp_path,
            """
            [budgets]
            session = "2M tok"
            day = { limit = "$20", action = "pause" }
            [budgets.hosts]
            gpu = 500000
            """,
        )
    ).budgets
    assert loaded.session == Limit(2_000_000, "tokens", "warn")
    assert loaded.day == Limit(20.0, "dollars", "pause")
    assert loaded.hosts == {"gpu": Limit(500_000, "tokens", "warn")}
    assert loaded.day.shown == "$20.00" and loaded.session.shown == "2,000,000 tokens"
    assert not load_config(config(tmp_path, "")).budgets


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('session = "2 apples"', 'expected tokens (2000000, "2M tok") or dollars ("$5")'),
        ("session = 0", "got 0"),
        ('day = { limit = "$5", action = "stop" }', 'expected "warn" or "pause"'),
        ('day = { action = "pause" }', "limit is missing"),
        ('sesion = "$5"', "unknown"),
        ('[budgets.hosts]\nnowhere = "$5"', "no host 'nowhere' (hosts: gpu)"),
    ],
)
def test_a_wrong_budget_names_its_line(tmp_path: Path, text: str, said: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(config(tmp_path, "[budgets]\n" + text + "\n"))
    assert said in str(err.value) and "fleet.toml:" in str(err.value)


def spending(tokens: int, sid: str = "a", host: str = "gpu", n: int = 1) -> FleetState:
    fleet = FleetState()
    fleet.upsert(Session(sid, sid, host, "claude", Status.WORKING, "", "", ""))
    record = UsageRecord(f"claude:{n}", SONNET, NOW, tokens, 0, 0, 0)
    fleet.apply(
        events.UsageReported(
            host=host, seq=1, at=NOW, session=sid, agent="claude", records=(record,)
        )
    )
    return fleet


def test_crossings_the_highest_level_once() -> None:
    budgets = Budgets(session=Limit(1000, "tokens", "pause"), hosts={"gpu": Limit(1.0, "dollars")})
    key = ("gpu", "a")
    assert crossings(spending(700), budgets, DEFAULT_PRICES, [key], DAY, set()) == []
    [warned] = crossings(spending(800), budgets, DEFAULT_PRICES, [key], DAY, set())
    assert (warned.level, warned.budget.id, warned.spent) == ("warning", "session:gpu/a", 800)
    # A jump past 100 % is exceeded only; marked, it is not crossed again.
    over = crossings(spending(400_000), budgets, DEFAULT_PRICES, [key], DAY, set())
    assert [(c.budget.scope, c.level) for c in over] == [
        ("session", "exceeded"),
        ("host", "exceeded"),  # 400k input tokens of sonnet: $1.20 of $1
    ]
    marked = {(c.budget.id, c.level) for c in over}
    assert crossings(spending(900_000), budgets, DEFAULT_PRICES, [key], DAY, marked) == []
    assert crossing_words(over[1], "host gpu") == (
        "host gpu went past host gpu's budget for today ($1.20 of $1.00)"
    )
    assert (
        crossing_words(warned, "gpu/a") == "gpu/a: 80 % of its session budget (800 tok of 1.0k tok)"
    )


def test_holding_needs_a_pause_and_no_word_from_the_person() -> None:
    budgets = Budgets(session=Limit(10, "tokens", "pause"), day=Limit(5.0, "dollars"))
    covering = budgets_for(budgets, ("gpu", "a"), DAY)
    assert [b.id for b in covering] == ["session:gpu/a", f"day:{DAY}"]
    marks = {("session:gpu/a", "exceeded"): "pause", (f"day:{DAY}", "exceeded"): "warn"}
    assert holding(covering, marks) == ["session:gpu/a"]
    assert holding(covering, {**marks, ("session:gpu/a", "allowed"): "pause"}) == []


async def test_a_crossing_is_acted_on_once_across_fleets_and_the_word_is_asked_once(
    tmp_path: Path,
) -> None:
    path = config(tmp_path, '[budgets]\nsession = { limit = 100, action = "pause" }\n')
    conf = load_config(path)
    fleet = spending(150)
    fleet.set_host("gpu", "connected")
    store = await Store.open(tmp_path / "fleet.db")
    try:
        first = Supervisor(conf, store=store)
        paused: list[str] = []

        async def pause(fleet: FleetState, budget: object) -> tuple[str, ...]:
            paused.append("gpu/a")
            return ("gpu/a",)

        first._pause = pause  # type: ignore[method-assign]  # no host here: the unit is the rule
        [news] = await first.check_budgets(fleet, [("gpu", "a")])
        assert news.paused == ("gpu/a",) and news.crossing.level == "exceeded"
        assert await first.check_budgets(fleet, [("gpu", "a")]) == []
        second = Supervisor(conf, store=store)  # another fleet, or this one restarted
        second._pause = pause  # type: ignore[method-assign]
        assert await second.check_budgets(fleet, [("gpu", "a")]) == []
        assert paused == ["gpu/a"]
        session = fleet.sessions[("gpu", "a")].session
        with pytest.raises(OverBudget) as err:
            await second.over_budget_check(session, over_budget=False)
        assert "its session budget (100 tokens)" in str(err.value)
        await second.over_budget_check(session, over_budget=True)
        await first.over_budget_check(session, over_budget=False)  # asked once per budget
        await store.flush()
        kinds = [e.kind for e in await store.audit_log("gpu", "a")]
        assert kinds.count("budget-exceeded") == 1 and kinds.count("budget-allowed") == 1
    finally:
        await store.close()
