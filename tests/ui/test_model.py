"""fleet.ui.model: the grid's data, outside widgets (no Textual)."""

from __future__ import annotations

import re
import subprocess
import sys
import time

from fleet.core.fleetstate import HostState
from fleet.core.models import DiffStat, Status
from fleet.presentation import host_label
from fleet.ui.model import TAIL_LINES, TAIL_WIDTH, FleetModel, screen_tail
from tests.ui import diffstat_event, make_session, output_event, status_event

UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def _model(*specs: tuple[str, int, Status]) -> FleetModel:
    m = FleetModel()
    for host, n, status in specs:
        m.upsert_session(make_session(host, n, status))
    return m


def _refs(m: FleetModel) -> list[str]:
    return [f"{c.host}/{c.session.name}" for c in m.visible()]


def test_model_does_not_import_textual() -> None:
    code = "import sys, fleet.ui.model; print(any(m.startswith('textual') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_needs_input_first_then_failed_running_finished() -> None:
    m = _model(
        ("b", 1, Status.EXITED),
        ("a", 2, Status.WORKING),
        ("b", 3, Status.NEEDS_INPUT),
        ("a", 4, Status.STOPPED),
        ("a", 5, Status.FAILED),
        ("a", 6, Status.IDLE),
        ("a", 7, Status.NEEDS_INPUT),
        ("c", 8, Status.STARTING),
    )
    assert _refs(m) == [
        "a/task-7",  # needs-input, by host then name
        "b/task-3",
        "a/task-5",  # failed
        "a/task-2",  # working / idle / starting together, by host then name
        "a/task-6",
        "c/task-8",
        "a/task-4",  # exited / stopped / gone
        "b/task-1",
    ]


def test_group_by_host_puts_needs_input_first_inside_each_host() -> None:
    m = _model(
        ("b", 1, Status.WORKING),
        ("a", 2, Status.WORKING),
        ("b", 3, Status.NEEDS_INPUT),
        ("a", 4, Status.EXITED),
        ("a", 5, Status.NEEDS_INPUT),
    )
    m.group_by = "host"
    assert _refs(m) == ["a/task-5", "a/task-2", "a/task-4", "b/task-3", "b/task-1"]
    m.group_by = "status"
    assert _refs(m)[:2] == ["a/task-5", "b/task-3"]


def test_filter_text_and_field_prefixes() -> None:
    m = FleetModel()
    m.upsert_session(make_session("gpu1", 1, name="fix-auth", agent="claude", task="login bug"))
    m.upsert_session(make_session("gpu2", 2, Status.NEEDS_INPUT, name="docs", agent="codex"))
    m.upsert_session(make_session("cpu", 3, Status.FAILED, name="gpu-bench", agent="aider"))

    m.filter_text = "gpu"  # free text: host, name, agent, status, task
    assert _refs(m) == ["gpu2/docs", "cpu/gpu-bench", "gpu1/fix-auth"]
    m.filter_text = "host:gpu"  # only the host field
    assert _refs(m) == ["gpu2/docs", "gpu1/fix-auth"]
    m.filter_text = "agent:CODEX"
    assert _refs(m) == ["gpu2/docs"]
    m.filter_text = "status:needs"
    assert _refs(m) == ["gpu2/docs"]
    m.filter_text = "LOGIN"  # task text
    assert _refs(m) == ["gpu1/fix-auth"]
    m.filter_text = "host:gpu agent:claude"  # terms narrow together
    assert _refs(m) == ["gpu1/fix-auth"]
    m.filter_text = "status:failed bench"
    assert _refs(m) == ["cpu/gpu-bench"]
    m.filter_text = "nothing-matches"
    assert m.visible() == []
    m.filter_text = ""
    assert len(m.visible()) == 3


def test_cached_gone_and_lost_marks() -> None:
    m = FleetModel()
    m.mark_host("a", "connecting")
    m.upsert_session(make_session("a", 1), cached=True)
    m.upsert_session(make_session("a", 2), cached=True, gone=True)
    c1, c2 = m.cards[("a", "s1")], m.cards[("a", "s2")]
    assert c1.cached and c2.gone and c2.shown_status == "gone"
    assert _refs(m) == ["a/task-1", "a/task-2"]  # gone sorts with the finished ones

    assert m.mark_host("a", "unreachable", "Connection refused")
    assert c1.lost and c1.shown_status == "lost" and c1.cached
    assert host_label(m.hosts["a"], 0.0) == "unreachable: Connection refused"
    assert m.counts() == {"lost": 1, "gone": 1}

    v = c1.version
    assert m.mark_host("a", "connected")
    assert not c1.lost and not c1.cached and c1.shown_status == "working"
    assert c1.version > v
    assert not m.mark_host("a", "connected")  # nothing changed


def test_host_labels() -> None:
    now = 1000.0
    assert host_label(HostState("h", "connected"), now) == "connected"
    assert host_label(HostState("h", "connecting"), now) == "connecting"
    assert host_label(HostState("h", "reconnecting", retry_at=1004.2), now) == "reconnecting in 4s"
    assert host_label(HostState("h", "reconnecting", retry_at=999), now) == "reconnecting"
    assert host_label(HostState("h", "unreachable", "no route"), now) == "unreachable: no route"
    # A host that keeps refusing still says when fleet tries again.
    refusing = HostState("h", "unreachable", "refused", retry_at=1003.6)
    assert host_label(refusing, now) == "unreachable: refused (retry in 4s)"
    evil = HostState("h", "unreachable", "x\x1b]52;c;AAAA\x07y\u202ez\n" + "w" * 10_000)
    label = host_label(evil, now)
    assert not UNSAFE.search(label) and len(label) < 250


def test_screen_tail_is_inert_and_bounded() -> None:
    m = _model(("a", 1, Status.WORKING))
    hostile = (
        "ok line\n"
        "\x1b[2J\x1b[Hcleared\x1b]52;c;ZWNobyBwd25lZA==\x07 clip\n"
        "\x1b]0;title\x1b\\ admin\u202e\u2066 // check\u2069 bidi\n"
        "tab\there\rcarriage\n"
        "\ud800 surrogate \u2028 separator\n"
        + "x" * 1_000_000  # a 1 MB line
        + "\n\n   \n"
    )
    t0 = time.perf_counter()
    assert m.set_screen("a", "s1", hostile)
    took = time.perf_counter() - t0
    tail = m.cards[("a", "s1")].tail
    assert 0 < len(tail) <= TAIL_LINES
    for line in tail:
        assert not UNSAFE.search(line), repr(line)
        assert "\x1b" not in line and "\t" not in line
        assert len(line) <= TAIL_WIDTH and line == line.rstrip()
    assert tail[-1] == "x" * TAIL_WIDTH
    assert "cleared clip" in tail
    assert "carriage" in tail and "tab here" in tail  # CR splits, tabs become spaces
    assert took < 0.5, took  # bounded work, not a regex over the whole megabyte


def test_screen_tail_keeps_last_non_blank_lines() -> None:
    text = "\n".join(f"line {i}" for i in range(50)) + "\n\n\n  \n"
    assert screen_tail(text) == tuple(f"line {i}" for i in range(44, 50))
    assert screen_tail("\n" * 1_000_000) == ()  # a flood of blank lines: bounded, empty
    assert screen_tail("") == ()


def test_versions_bump_only_on_visible_change() -> None:
    m = _model(("a", 1, Status.WORKING))
    card = m.cards[("a", "s1")]
    v = card.version
    assert not m.set_screen("a", "s1", "")  # empty screen, empty tail: no change
    assert m.set_screen("a", "s1", "hello\n")
    assert not m.set_screen("a", "s1", "hello\n\n  \n")  # same visible tail
    assert not m.set_screen("a", "s1", "\x1b[1mhello\x1b[0m")  # same after inert
    assert card.version == v + 1
    assert m.apply(diffstat_event("a", "s1", DiffStat(1, 2, 3)))
    assert not m.apply(diffstat_event("a", "s1", DiffStat(1, 2, 3)))
    assert m.apply(output_event("a", "s1", 0, b"one\ntwo\n"))
    assert not m.apply(output_event("a", "s1", 0, b"one\ntwo\n"))  # a replay counts nothing
    assert card.unread == 2
    since = card.session.status_since
    assert m.apply(status_event("a", "s1", Status.EXITED, since + 5, 0))
    assert card.version == v + 4 and card.unread == 3
    assert card.session.status_since == since + 5 and card.session.exit_code == 0
    assert not m.upsert_session(card.session)
    assert not m.set_screen("a", "missing", "x")
    assert not m.apply(status_event("a", "missing", Status.IDLE))


def test_order_is_cached_and_recomputed_only_when_it_can_change() -> None:
    m = FleetModel()
    for i in range(1000):
        m.upsert_session(make_session(f"h{i % 50}", i))
    first = m.visible()
    ov = m.order_version
    for i in range(1000):  # screen, diff stat and unread never reorder
        m.set_screen(f"h{i % 50}", f"s{i}", f"output {i}\n")
        m.apply(diffstat_event(f"h{i % 50}", f"s{i}", DiffStat(i, 0, 1)))
        m.apply(output_event(f"h{i % 50}", f"s{i}", 0, b"a line\n"))
    assert m.visible() is first and m.order_version == ov
    assert m.apply(status_event("h7", "s507", Status.NEEDS_INPUT))
    assert m.order_version > ov
    order = m.visible()
    assert order is not first and order[0].key == ("h7", "s507")
    m.remove("h7", "s507")
    assert len(m.visible()) == 999 and ("h7", "s507") not in {c.key for c in m.visible()}


def test_attention_since_is_set_when_needing_input_starts() -> None:
    clock = [100.0]
    m = FleetModel(clock=lambda: clock[0])
    m.upsert_session(make_session("a", 1))
    card = m.cards[("a", "s1")]
    assert card.attention_since is None
    clock[0] = 150.0
    m.apply(status_event("a", "s1", Status.NEEDS_INPUT, 149.0))
    assert card.attention_since == 150.0
    clock[0] = 160.0
    m.apply(status_event("a", "s1", Status.NEEDS_INPUT, 155.0))  # still needs input: unchanged
    assert card.attention_since == 150.0
    m.apply(status_event("a", "s1", Status.WORKING))
    assert card.attention_since is None
