"""The grid's data, kept outside widgets: plain dataclasses, no Textual (unit-testable).

The supervisor's events land here (`upsert_session`, `set_screen`, `set_status`, ...). Every
mutator returns whether something a person would see on the card changed, and bumps that
card's `version` when it did: the grid caches a card's drawing per version, so an unchanged
version costs nothing to draw again. The visible order is cached and recomputed only when a
status, the membership, the filter or the grouping changed, never on a screen update.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Literal

from fleet.core import events
from fleet.core.fleetstate import (
    GONE,
    Change,
    FleetState,
    HostState,
    HostStateName,
    SessionState,
)
from fleet.core.models import Session, Status
from fleet.core.textsafe import inert
from fleet.core.usage import (
    APPROXIMATE,
    DEFAULT_PRICES,
    Price,
    SessionUsage,
    Tokens,
    local_day,
    priced,
)
from fleet.presentation import usage_label

TAIL_LINES = 6
"""How many of the last non-blank screen lines a card keeps."""
TAIL_WIDTH = 400
"""Each kept screen line is cut to this many characters (cards are far narrower)."""
_SCAN_LINES = 200
"""At most this many raw lines are looked at from the bottom of a screen (blank floods)."""
_RAW_LINE = 4096
"""At most this many raw characters of one line are made inert (a 1 MB line costs nothing)."""

GroupBy = Literal["status", "host"]

# Beyond fleet.core.textsafe.inert: characters that are harmless in a log but not in one cell
# of a grid: line/paragraph separators, bidi marks, BOM, lone surrogates (cannot be encoded).
_EXTRA = re.compile("[\u061c\u200e\u200f\u2028\u2029\ufeff\ud800-\udfff]")


def safe_line(text: str, limit: int = TAIL_WIDTH) -> str:
    """One screen-safe line: inert, tabs as spaces, no line breaks, at most `limit` chars."""
    if len(text) > _RAW_LINE:
        text = text[:_RAW_LINE]
    text = _EXTRA.sub("", inert(text))
    if "\n" in text:
        text = text.replace("\n", " ")
    if "\t" in text:
        text = text.expandtabs(4)
    return text[:limit].rstrip()


def screen_tail(text: str, lines: int = TAIL_LINES, limit: int = TAIL_WIDTH) -> tuple[str, ...]:
    """The last `lines` non-blank lines of a screen, inert and right-stripped.

    Bounded work whatever the input: it walks up from the bottom, looks at most at
    `_SCAN_LINES` raw lines and `_RAW_LINE` characters of each.
    """
    out: list[str] = []
    end = len(text)
    scanned = 0
    while end > 0 and len(out) < lines and scanned < _SCAN_LINES:
        start = text.rfind("\n", 0, end) + 1
        raw = text[start:end]
        end = start - 1
        scanned += 1
        if not raw or raw.isspace():
            continue
        piece = _EXTRA.sub("", inert(raw[:_RAW_LINE]))
        # inert turns a lone CR into a line break: the parts are lines of their own.
        for part in reversed(piece.split("\n")):
            if "\t" in part:
                part = part.expandtabs(4)
            part = part[:limit].rstrip()
            if part.strip():
                out.append(part)
                if len(out) == lines:
                    break
    out.reverse()
    return tuple(out)


@dataclass(eq=False)
class Card:
    """One session as the grid shows it: the reducer's state of it, and what the grid adds."""

    host: str
    id: str
    state: SessionState
    tail: tuple[str, ...] = ()  # last screen lines: inert, right-stripped, at most TAIL_LINES
    cached: bool = False  # known from the local cache until its host answers
    lost: bool = False  # its host is unreachable: its status is unknown
    version: int = 0
    attention_since: float | None = None  # when it started needing input (for one pulse)
    spent: str = ""  # what it spent, compact ("12.3k tok · $0.41", "usage unknown")
    held: str = ""  # why fleet paused it ("paused: over budget"), until the person goes on

    @property
    def key(self) -> tuple[str, str]:
        return (self.host, self.id)

    @property
    def session(self) -> Session:
        return self.state.session

    @property
    def unread(self) -> int:
        return self.state.unread

    @property
    def gone(self) -> bool:
        return self.state.gone

    @property
    def shown_status(self) -> str:
        """The status the card shows: `gone` and `lost` win over what the host last said."""
        if self.state.gone:
            return GONE
        if self.lost:
            return str(Status.LOST)
        return str(self.state.session.status)


# Sort groups: needs-input first (the one a person must never miss), then failed, then the
# running ones (and lost: they were running when the host went away), then the finished ones.
_RANK: dict[str, int] = {
    str(Status.NEEDS_INPUT): 0,
    str(Status.FAILED): 1,
    str(Status.WORKING): 2,
    str(Status.IDLE): 2,
    str(Status.STARTING): 2,
    str(Status.LOST): 2,
    str(Status.EXITED): 3,
    str(Status.STOPPED): 3,
    "gone": 3,
}
GROUP_TITLES: tuple[str, ...] = ("needs input", "failed", "running", "finished")


def rank(card: Card) -> int:
    return _RANK.get(card.shown_status, 2)


def group_title(card: Card, group_by: GroupBy) -> str:
    """The heading of the group a card sorts into."""
    return card.host if group_by == "host" else GROUP_TITLES[rank(card)]


_FIELDS = ("host", "agent", "status", "name", "task")


def _parse_filter(text: str) -> list[tuple[str | None, str]]:
    terms: list[tuple[str | None, str]] = []
    for word in text.lower().split():
        name, sep, value = word.partition(":")
        if sep and name in _FIELDS:
            if value:
                terms.append((name, value))
        else:
            terms.append((None, word))
    return terms


def _matches(card: Card, terms: list[tuple[str | None, str]]) -> bool:
    s = card.session
    values = {
        "host": card.host.lower(),
        "name": s.name.lower(),
        "agent": s.agent.lower(),
        "status": card.shown_status,
        "task": s.task.lower(),
    }
    for name, value in terms:
        if name is None:
            if not any(value in v for v in values.values()):
                return False
        elif value not in values[name]:
            return False
    return True


class FleetModel:
    """Every card and host the grid knows, the filter and the grouping.

    The state itself is a :class:`FleetState` (the same reducer the store and the CLI use);
    the model keeps the grid's own part beside it (screen tails, versions, cached, the order).
    """

    def __init__(
        self, *, group_by: GroupBy = "status", clock: Callable[[], float] = time.time
    ) -> None:
        self.fleet = FleetState(clock)
        self.cards: dict[tuple[str, str], Card] = {}
        self.clock = clock
        self.prices: Mapping[str, Price] = DEFAULT_PRICES  # the app sets the config's
        self._group_by: GroupBy = "status"
        self._filter_text = ""
        self._order: list[Card] | None = None
        self._counts: dict[str, int] | None = None
        self.order_version = 0  # bumped whenever the visible order may have changed
        self.usage_version = 0  # bumped whenever what any session spent moved (the top line)
        self.group_by = group_by

    @property
    def hosts(self) -> dict[str, HostState]:
        return self.fleet.hosts

    # -- grouping and filter ------------------------------------------------------------------

    @property
    def group_by(self) -> GroupBy:
        return self._group_by

    @group_by.setter
    def group_by(self, value: GroupBy) -> None:
        if value not in ("status", "host"):
            raise ValueError(f"group_by must be 'status' or 'host', not {value!r}")
        if value != self._group_by:
            self._group_by = value
            self._invalidate()

    @property
    def filter_text(self) -> str:
        return self._filter_text

    @filter_text.setter
    def filter_text(self, value: str) -> None:
        if value != self._filter_text:
            self._filter_text = value
            self._invalidate()

    def today(self) -> Tokens:
        """What the whole fleet spent today (the laptop's local day)."""
        day = local_day(self.clock())
        spent = self.fleet.spent_on(day)
        total = sum((priced(m, c, self.prices) for m, c in spent.items()), Tokens())
        rounded = any(
            s.session.agent in APPROXIMATE and s.usage.tokens(self.prices, day).total
            for s in self.fleet.sessions.values()
            if s.usage.requests
        )
        return replace(total, approximate=rounded)

    def spent_label(self, state: SessionState) -> str:
        usage = state.usage
        tokens = usage.tokens(self.prices) if usage.requests else None
        return usage_label(state.session.agent, tokens)

    def _invalidate(self) -> None:
        self._order = None
        self._counts = None
        self.order_version += 1

    def visible(self) -> list[Card]:
        """The cards to show, filtered and in order (cached until the order can change)."""
        if self._order is None:
            terms = _parse_filter(self._filter_text)
            cards = [c for c in self.cards.values() if _matches(c, terms)] if terms else None
            pool = list(self.cards.values()) if cards is None else cards
            if self._group_by == "host":
                pool.sort(key=lambda c: (c.host, rank(c), c.session.name, c.id))
            else:
                pool.sort(key=lambda c: (rank(c), c.host, c.session.name, c.id))
            self._order = pool
        return self._order

    def counts(self) -> dict[str, int]:
        """How many cards show each status (all cards, unfiltered), needs-input first."""
        if self._counts is None:
            counts: dict[str, int] = {}
            for card in self.cards.values():
                shown = card.shown_status
                counts[shown] = counts.get(shown, 0) + 1
            self._counts = dict(sorted(counts.items(), key=lambda kv: (_RANK.get(kv[0], 2), kv[0])))
        return self._counts

    # -- changes: each returns the cards whose drawing changed ---------------------------------

    def apply(self, event: events.Event) -> set[tuple[str, str]]:
        """One event of a host's stream (the reducer's rules, then the grid's own part)."""
        if isinstance(event, events.ScreenChanged):
            key = (event.host, event.session)
            return {key} if self.set_screen(*key, event.text) else set()
        touched = self._sync(self.fleet.apply(event))
        if isinstance(event, events.Hello):
            for card in self.cards.values():
                if card.host == event.host and card.cached:
                    card.cached = False
                    touched.add(self._bump(card))
        return touched

    def upsert_session(
        self,
        session: Session,
        *,
        cached: bool = False,
        gone: bool = False,
        unread: int | None = None,
        output_cursor: int | None = None,
        usage: SessionUsage | None = None,
    ) -> bool:
        """A session a helper described, or the store remembered (`cached`, with what it
        spent as the store counted it)."""
        key = (session.host, session.id)
        if unread is None and output_cursor is None and usage is None:
            change = self.fleet.upsert(session, gone=gone)
        else:
            old = self.fleet.sessions.get(key)
            state = SessionState(
                session,
                gone,
                unread if unread is not None else (old.unread if old else 0),
                output_cursor if output_cursor is not None else (old.output_cursor if old else 0),
                usage if usage is not None else (old.usage if old else SessionUsage()),
            )
            change = self.fleet.load(state)
        touched = self._sync(change)
        card = self.cards.get(key)
        if card is not None and card.cached != cached:
            card.cached = cached
            touched.add(self._bump(card))
        return bool(touched)

    def set_screen(self, host: str, id: str, text: str) -> bool:
        card = self.cards.get((host, id))
        if card is None:
            return False
        tail = screen_tail(text)
        if tail == card.tail:
            return False
        card.tail = tail
        self._bump(card)
        return True

    def set_held(self, key: tuple[str, str], why: str) -> bool:
        """Say on the card why fleet paused it ("" once it may go on)."""
        card = self.cards.get(key)
        if card is None or card.held == why:
            return False
        card.held = why
        self._bump(card)
        return True

    def mark_read(self, key: tuple[str, str]) -> bool:
        return bool(self._sync(self.fleet.mark_read(key)))

    def mark_host(self, host: str, state: HostStateName, reason: str = "") -> bool:
        """Record a host's link state (connecting, before its stream starts; or unreachable
        when its stream could not be followed at all); whether any card changed."""
        change = self.fleet.set_host(host, state, reason)
        touched = self._sync(change)
        if state == "connected":
            for card in self.cards.values():
                if card.host == host and card.cached:
                    card.cached = False
                    touched.add(self._bump(card))
        return bool(change) or bool(touched)

    def remove(self, host: str, id: str) -> bool:
        if self.cards.pop((host, id), None) is None:
            return False
        self.fleet.remove((host, id))
        self._invalidate()
        return True

    # -- keeping the cards in step with the reducer --------------------------------------------

    def _bump(self, card: Card) -> tuple[str, str]:
        card.version += 1
        return card.key

    def _sync(self, change: Change) -> set[tuple[str, str]]:
        touched: set[tuple[str, str]] = set()
        if change.usage:
            self.usage_version += 1
        for key in change.sessions:
            state = self.fleet.sessions.get(key)
            if state is None:
                continue
            host = self.fleet.hosts.get(key[0])
            lost = host is not None and host.lost
            card = self.cards.get(key)
            if card is None:
                card = self.cards[key] = Card(key[0], key[1], state, lost=lost)
                card.spent = self.spent_label(state)
                if state.session.status == Status.NEEDS_INPUT:
                    # First seen: it started needing input when the host says it did.
                    card.attention_since = state.session.status_since or self.clock()
                touched.add(card.key)
                continue
            before = card.state.session.status
            if card.state == state and card.lost == lost:
                continue
            if card.state.usage != state.usage or card.state.session.agent != state.session.agent:
                card.spent = self.spent_label(state)
            card.state, card.lost = state, lost
            if before != state.session.status:
                self._status_changed(card, before)
            touched.add(self._bump(card))
        if change.order:
            self._invalidate()
        return touched

    def _status_changed(self, card: Card, before: Status | None) -> None:
        now_needs = card.session.status == Status.NEEDS_INPUT
        if now_needs and before != Status.NEEDS_INPUT:
            card.attention_since = self.clock()
        elif not now_needs:
            card.attention_since = None
