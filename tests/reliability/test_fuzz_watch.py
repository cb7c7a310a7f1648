"""Fuzz the client side of the watch stream (fleet.core.remote.untrusted): line splitting,
line decoding, event and session checks. Pure units, no host.

Documented behaviour: `LineSplitter.feed` and `decode_line` never raise; `watch_event` never
raises (a bad event is None, logged); `parse_session` raises only `Malformed`. What passes is
safe: session ids match the helper's id rule, numbers fit SQLite, text fields are inert.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fleet.core import events as ev
from fleet.core.remote import untrusted
from fleet.core.remote.hostside import protocol
from fleet.core.remote.hostside.layout import ID_RE, NAME_RE
from fleet.core.textsafe import said

FORBIDDEN = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
SETTINGS = settings(max_examples=150, deadline=None)

IDS = st.one_of(
    st.sampled_from(["abcdefgh", "../../x", "ABCDEFGH", "abc", "", "abcdefgh/..", "a" * 9]),
    st.text(max_size=10),
    st.integers(),
    st.none(),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["idle", "working", "needs-input", "pwned", "\x1b]52;c;eA==\x07", "\u202e"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
KEYS = st.sampled_from(
    [
        "type", "seq", "t", "session", "status", "prev", "exit_code", "hash", "text", "offset",
        "data", "from", "to", "diffstat", "info", "sessions", "version", "message", "gap",
        "n", "action", "hunks", "undid", "what",
    ]
)  # fmt: skip
TYPES = st.sampled_from(
    [
        "snapshot", "hello", "status", "diffstat", "screen", "output", "output-gap", "created",
        "removed", "heartbeat", "error", "input", "checkpoint", "decision", "",
    ]
)  # fmt: skip
ROW_KEYS = st.sampled_from(
    [
        "id", "name", "agent", "status", "branch", "worktree", "repo", "base", "task",
        "created", "status_since", "exit_code", "diffstat", "agent_session_id",
    ]
)  # fmt: skip
ROWS = st.dictionaries(ROW_KEYS, st.one_of(VALUES, IDS), max_size=14)
EVENTS = st.builds(
    lambda kind, sid, extra: {"type": kind, "session": sid, **extra},
    st.one_of(TYPES, VALUES),
    IDS,
    st.dictionaries(KEYS, st.one_of(VALUES, ROWS, st.lists(ROWS, max_size=3)), max_size=6),
)


def _check_safe(event: ev.Event) -> None:
    assert event.host == "h"
    session = getattr(event, "session", None)
    if session is not None:
        assert ID_RE.match(session)
    for key in ("seq", "offset", "start", "end", "n", "undid"):
        value = getattr(event, key, None)
        if value is not None:
            assert isinstance(value, int) and 0 <= value <= untrusted.MAX_INT
    at = getattr(event, "at", None)
    if at is not None:
        assert math.isfinite(at)
    for text in (getattr(event, "message", ""), getattr(event, "what", "")):
        assert not FORBIDDEN.search(text.replace("\n", "").replace("\t", ""))
    for row in getattr(event, "sessions", ()):
        assert ID_RE.match(row.id) and NAME_RE.match(row.name)  # every row kept is valid


@SETTINGS
@given(EVENTS)
def test_watch_event_never_raises_and_what_passes_is_safe(event: dict[str, Any]) -> None:
    checked = untrusted.watch_event("h", event)
    if checked is not None:
        _check_safe(checked)
        assert checked.kind == event["type"] or isinstance(checked, ev.OtherJournalEvent)


def test_every_kind_the_protocol_defines_has_a_parser() -> None:
    assert set(untrusted._PARSERS) == protocol.JOURNAL_KINDS | protocol.STREAM_KINDS
    kinds = {cls.kind for cls in ev.Event.__subclasses__()}
    kinds |= {sub.kind for cls in ev.Event.__subclasses__() for sub in cls.__subclasses__()}
    assert kinds >= protocol.JOURNAL_KINDS | protocol.STREAM_KINDS


@SETTINGS
@given(st.one_of(ROWS, VALUES))
def test_parse_session_raises_only_malformed(row: Any) -> None:
    try:
        s = untrusted.parse_session("h", row)
    except untrusted.Malformed:
        return
    assert ID_RE.match(s.id) and NAME_RE.match(s.name)
    for text in (s.agent, s.branch, s.worktree, s.repo, s.base, s.task):
        assert not FORBIDDEN.search(text.replace("\n", "").replace("\t", ""))
    assert math.isfinite(s.created) and math.isfinite(s.status_since)
    assert all(0 <= n <= untrusted.MAX_INT for n in (s.diffstat.added, s.diffstat.files))


@SETTINGS
@given(st.one_of(st.binary(max_size=200), EVENTS.map(lambda e: json.dumps(e).encode())))
def test_decode_line_never_raises(line: bytes) -> None:
    value = untrusted.decode_line(line)
    assert value is None or isinstance(value, dict)


@SETTINGS
@given(
    st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=12),
    st.lists(st.integers(min_value=0, max_value=400), max_size=8),
    st.integers(min_value=1, max_value=30),
)
def test_line_splitter_keeps_lines_drops_only_long_ones(
    lines: list[bytes], cuts: list[int], limit: int
) -> None:
    stream = b"".join(line + b"\n" for line in lines)
    splitter = untrusted.LineSplitter(limit)
    out: list[bytes] = []
    last = 0
    for cut in [*sorted(c for c in cuts if c <= len(stream)), len(stream)]:
        out += splitter.feed(stream[last:cut])
        last = cut
    assert out == [line for line in lines if len(line) <= limit]
    assert splitter.dropped == sum(1 for line in lines if len(line) > limit)
    assert len(splitter._buf) <= limit


@SETTINGS
@given(st.text(max_size=300))
def test_said_is_inert_and_bounded(text: str) -> None:
    shown = said(text, 50)
    assert len(shown) <= 50 and not FORBIDDEN.search(shown) and "\n" not in shown
