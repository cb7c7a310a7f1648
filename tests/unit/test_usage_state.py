"""What a session spent, in the one reducer (fleet.core.fleetstate): each record once by its
id, a record said again keeping its largest figures, the fleet's day per host, and the
card's and the top line's words."""

from __future__ import annotations

import time

from fleet.core import events
from fleet.core.fleetstate import FleetState
from fleet.core.models import Session, Status
from fleet.core.usage import DEFAULT_PRICES, SessionUsage, UsageRecord, local_day
from fleet.presentation import today_label
from fleet.ui.model import FleetModel

NOW = time.time()
SONNET = "claude-sonnet-4-5"


def usage(session: str, *records: UsageRecord, host: str = "h", seq: int = 1) -> events.Event:
    return events.UsageReported(
        host=host, seq=seq, at=NOW, session=session, agent="claude", records=records
    )


def session(sid: str, host: str = "h", agent: str = "claude") -> Session:
    return Session(
        id=sid,
        name=sid,
        host=host,
        agent=agent,
        status=Status.WORKING,
        branch="",
        worktree="",
        repo="",
    )


def test_a_record_said_again_counts_once_with_its_largest_figures() -> None:
    first = UsageRecord("claude:m1", SONNET, NOW, 10, 5, 100, 0)
    streamed = UsageRecord("claude:m1", SONNET, NOW, 10, 40, 100, 0)  # its later line
    spent = SessionUsage().counted([first]).counted([streamed]).counted([first, streamed])
    assert spent.requests == 1
    assert spent.totals == {(local_day(NOW), SONNET): (10, 40, 100, 0)}
    same = spent.counted([first])
    assert same is spent  # nothing moved: the reducer says so by giving the same state


def test_fleet_state_counts_per_host_and_day_and_forgets_a_removed_session() -> None:
    fleet = FleetState(clock=lambda: NOW)
    fleet.upsert(session("a"))
    fleet.upsert(session("b", host="g"))
    change = fleet.apply(usage("a", UsageRecord("claude:1", SONNET, NOW, 100, 10, 0, 0)))
    assert change.usage and change.sessions == {("h", "a")}
    fleet.apply(usage("b", UsageRecord("claude:2", SONNET, NOW, 1, 1, 0, 0), host="g"))
    replay = fleet.apply(usage("a", UsageRecord("claude:1", SONNET, NOW, 100, 10, 0, 0)))
    assert not replay  # said again: nothing changed
    today = local_day(NOW)
    assert fleet.spent_on(today) == {SONNET: (101, 11, 0, 0)}
    assert fleet.spent_on(today, "g") == {SONNET: (1, 1, 0, 0)}
    assert fleet.spent_on("1999-01-01") == {}
    # A listing of the host keeps what the session spent.
    fleet.upsert(session("a"))
    assert fleet.sessions[("h", "a")].usage.requests == 1
    fleet.remove(("h", "a"))
    assert fleet.spent_on(today) == {SONNET: (1, 1, 0, 0)}


def test_the_card_and_the_top_line_say_it() -> None:
    model = FleetModel(clock=lambda: NOW)
    model.upsert_session(session("a"))
    model.upsert_session(session("x", agent="my-own-agent"))
    assert model.cards[("h", "a")].spent == "0 tok · $0.00"
    assert model.cards[("h", "x")].spent == "usage unknown"
    before = model.usage_version
    model.apply(usage("a", UsageRecord("claude:1", SONNET, NOW, 10_000, 2_300, 0, 0)))
    assert model.usage_version == before + 1
    assert model.cards[("h", "a")].spent == "12.3k tok · $0.06"
    assert today_label(model.today()) == "today 12.3k tok · $0.06"
    model.apply(usage("a", UsageRecord("claude:2", "their-own-model", NOW, 5, 5, 0, 0)))
    assert model.cards[("h", "a")].spent == "12.3k tok · no price"
    assert today_label(FleetModel().today()) == ""
    assert DEFAULT_PRICES[SONNET].input == 3.0


def test_aiders_rounded_figures_show_approximate_on_its_card_and_the_top_line() -> None:
    model = FleetModel(clock=lambda: NOW)
    model.upsert_session(session("a"))
    model.upsert_session(session("d", agent="aider"))
    model.apply(usage("a", UsageRecord("claude:1", SONNET, NOW, 10_000, 2_300, 0, 0)))
    assert today_label(model.today()) == "today 12.3k tok · $0.06"
    model.apply(usage("d", UsageRecord("aider:h:10", SONNET, NOW, 2_400, 22, 0, 0), seq=2))
    assert model.cards[("h", "d")].spent == "~2.4k tok · ~$0.01"
    assert model.cards[("h", "a")].spent == "12.3k tok · $0.06"
    assert today_label(model.today()) == "today ~14.7k tok · ~$0.07"
