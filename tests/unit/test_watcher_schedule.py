"""The host watcher: which session's diff stat it refreshes next (its host budget, files that
change with the screen still), and what a starting run's blank screen reads as."""

from __future__ import annotations

from fleet.core.remote.hostside import watcher
from fleet.core.remote.hostside.watcher import DIFFSTAT_GAP, DIFFSTAT_STALE, Tracked


def tracked(sid: str, status: str, at: float, dirty: bool = False) -> Tracked:
    t = Tracked({"id": sid}, {"status": status, "diffstat": {"added": 0}})
    t.diffstat_at, t.diffstat_dirty = at, dirty
    return t


def pick(sessions: list[Tracked], now: float, last: float = 0.0) -> str | None:
    w = watcher.Watcher.__new__(watcher.Watcher)  # the schedule only: no journal, no tmux
    w.tracked = {t.id: t for t in sessions}
    w.diffstat_at = last
    return w.next_diffstat(now)


def test_a_quiet_running_session_is_refreshed_once_its_stat_is_stale() -> None:
    now = 1000.0
    quiet = tracked("quiet", "idle", now - DIFFSTAT_STALE - 1)
    assert pick([quiet], now) == "quiet"
    assert pick([tracked("fresh", "idle", now - DIFFSTAT_STALE + 1)], now) is None


def test_a_finished_session_is_not_swept() -> None:
    now = 1000.0
    for status in ("exited", "failed", "stopped", "lost"):
        assert pick([tracked("done", status, 0.0)], now) is None


def test_the_sweep_stays_within_the_host_budget_and_changed_sessions_go_first() -> None:
    now = 1000.0
    stale = tracked("stale", "working", 0.0)
    assert pick([stale], now, last=now - DIFFSTAT_GAP / 2) is None
    changed = tracked("changed", "working", now - 10, dirty=True)
    changed.diffstat_urgent = True
    assert pick([stale, changed], now) == "changed"


def test_a_blank_screen_is_starting_until_the_agent_draws_or_a_minute_passed() -> None:
    # opencode on a busy host: nothing drawn 12 s after its start, and keys typed now are lost.
    assert watcher.screen_status("\n\n   \n", {}, running_for=12.0, quiet_for=12.0) == "starting"
    drawn = "┃  Ask anything…\n tab agents  ctrl+p commands\n"
    rules = {"idle": [r"\bctrl\+p commands\b"]}
    assert watcher.screen_status(drawn, {"rules": rules}, 12.0, 1.0) == "idle"
    assert watcher.screen_status("", {}, watcher.STARTING_MAX + 1, 30.0) == "idle"


def test_a_custom_agents_question_is_needs_input_at_once() -> None:
    """A custom command's profile names no dialog: the generic reader's `(y/n)` at the bottom
    of its screen is a question for the person, not idle (nor working while it is fresh);
    an agent with a dialog rule of its own keeps its rules."""
    asked = "Working on step 1...\nRun command touch ~/ran-1? (y/n)\n"
    assert watcher.screen_status(asked, {}, running_for=3.0, quiet_for=0.2) == "needs-input"
    assert watcher.screen_status(asked, {}, running_for=30.0, quiet_for=30.0) == "needs-input"
    own = {"rules": {"waiting": ["^Allow\\?"]}}
    assert watcher.screen_status(asked, own, running_for=30.0, quiet_for=30.0) == "idle"
    assert watcher.screen_status("Working on step 2...\n$ ", {}, 30.0, 30.0) == "idle"
