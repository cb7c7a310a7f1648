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
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from fleet.core.models import DiffStat, Session, Status
from fleet.core.textsafe import inert

TAIL_LINES = 6
"""How many of the last non-blank screen lines a card keeps."""
TAIL_WIDTH = 400
"""Each kept screen line is cut to this many characters (cards are far narrower)."""
_SCAN_LINES = 200
"""At most this many raw lines are looked at from the bottom of a screen (blank floods)."""
_RAW_LINE = 4096
"""At most this many raw characters of one line are made inert (a 1 MB line costs nothing)."""

HostStateName = Literal["connecting", "connected", "reconnecting", "unreachable"]
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


@dataclass
class HostState:
    """What the person sees about a host's link."""

    name: str
    state: HostStateName
    reason: str = ""
    retry_at: float | None = None

    def label(self, now: float | None = None) -> str:
        if self.state == "reconnecting":
            if self.retry_at is None:
                return "reconnecting"
            now = time.time() if now is None else now
            wait = max(0, round(self.retry_at - now))
            return f"reconnecting in {wait}s" if wait else "reconnecting"
        if self.state == "unreachable":
            reason = safe_line(self.reason, 200)
            return f"unreachable: {reason}" if reason else "unreachable"
        return self.state


@dataclass(eq=False)
class Card:
    """One session as the grid shows it."""

    host: str
    id: str
    session: Session
    tail: tuple[str, ...] = ()  # last screen lines: inert, right-stripped, at most TAIL_LINES
    unread: int = 0
    cached: bool = False  # known from the local cache until its host answers
    gone: bool = False  # the host no longer lists it (kept, never silently dropped)
    lost: bool = False  # its host is unreachable: its status is unknown
    version: int = 0
    attention_since: float | None = None  # when it started needing input (for one pulse)

    @property
    def key(self) -> tuple[str, str]:
        return (self.host, self.id)

    @property
    def shown_status(self) -> str:
        """The status the card shows: `gone` and `lost` win over what the host last said."""
        if self.gone:
            return "gone"
        if self.lost:
            return str(Status.LOST)
        return str(self.session.status)


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
    """Every card and host the grid knows, the filter and the grouping."""

    def __init__(
        self, *, group_by: GroupBy = "status", clock: Callable[[], float] = time.time
    ) -> None:
        self.cards: dict[tuple[str, str], Card] = {}
        self.hosts: dict[str, HostState] = {}
        self.clock = clock
        self._group_by: GroupBy = "status"
        self._filter_text = ""
        self._order: list[Card] | None = None
        self._counts: dict[str, int] | None = None
        self.order_version = 0  # bumped whenever the visible order may have changed
        self.group_by = group_by

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

    # -- mutators: each returns whether the card (or the order) visibly changed -------------

    def _bump(self, card: Card) -> bool:
        card.version += 1
        return True

    def _status_changed(self, card: Card, before: Status | None) -> None:
        now_needs = card.session.status == Status.NEEDS_INPUT
        if now_needs and before != Status.NEEDS_INPUT:
            card.attention_since = self.clock()
        elif not now_needs:
            card.attention_since = None

    def upsert_session(
        self,
        session: Session,
        *,
        cached: bool = False,
        gone: bool = False,
        unread: int | None = None,
    ) -> bool:
        key = (session.host, session.id)
        host = self.hosts.get(session.host)
        lost = host is not None and host.state == "unreachable"
        card = self.cards.get(key)
        if card is None:
            card = Card(session.host, session.id, session, cached=cached, gone=gone, lost=lost)
            if unread is not None:
                card.unread = unread
            if session.status == Status.NEEDS_INPUT:
                # First seen: it started needing input when the host says it did.
                card.attention_since = session.status_since or self.clock()
            self.cards[key] = card
            self._invalidate()
            return True
        old = card.session
        order = (
            old.status != session.status
            or old.name != session.name
            or old.agent != session.agent
            or old.task != session.task
            or card.gone != gone
            or card.lost != lost
        )
        changed = (
            order
            or old.status_since != session.status_since
            or old.exit_code != session.exit_code
            or old.diffstat != session.diffstat
            or old.branch != session.branch
            or card.cached != cached
            or (unread is not None and unread != card.unread)
        )
        before = old.status
        card.session = session
        card.cached, card.gone, card.lost = cached, gone, lost
        if unread is not None:
            card.unread = unread
        if old.status != session.status:
            self._status_changed(card, before)
        if order:
            self._invalidate()
        return self._bump(card) if changed else False

    def set_screen(self, host: str, id: str, text: str) -> bool:
        card = self.cards.get((host, id))
        if card is None:
            return False
        tail = screen_tail(text)
        if tail == card.tail:
            return False
        card.tail = tail
        return self._bump(card)

    def set_status(
        self,
        host: str,
        id: str,
        status: Status,
        since: float | None = None,
        exit_code: int | None = None,
    ) -> bool:
        card = self.cards.get((host, id))
        if card is None:
            return False
        s = card.session
        if since is None:
            since = s.status_since if s.status == status else self.clock()
        if s.status == status and s.status_since == since and s.exit_code == exit_code:
            return False
        before = s.status
        card.session = replace(s, status=status, status_since=since, exit_code=exit_code)
        if before != status:
            self._status_changed(card, before)
            self._invalidate()
        return self._bump(card)

    def set_diffstat(self, host: str, id: str, diffstat: DiffStat) -> bool:
        card = self.cards.get((host, id))
        if card is None or card.session.diffstat == diffstat:
            return False
        card.session = replace(card.session, diffstat=diffstat)
        return self._bump(card)

    def set_unread(self, host: str, id: str, n: int) -> bool:
        card = self.cards.get((host, id))
        if card is None or card.unread == n:
            return False
        card.unread = n
        return self._bump(card)

    def mark_host(
        self,
        host: str,
        state: HostStateName,
        reason: str = "",
        retry_at: float | None = None,
    ) -> bool:
        """Record a host's link state; returns whether any of its cards changed.

        Connected: its cards stop being "cached" (the host answers for them now).
        Unreachable: its cards show as lost until it is back.
        """
        old = self.hosts.get(host)
        new = HostState(host, state, reason, retry_at)
        self.hosts[host] = new
        changed = old != new
        lost = state == "unreachable"
        order = False
        for card in self.cards.values():
            if card.host != host:
                continue
            touched = False
            if card.lost != lost:
                card.lost = lost
                touched = order = True
            if state == "connected" and card.cached:
                card.cached = False
                touched = True
            if touched:
                self._bump(card)
                changed = True
        if order:
            self._invalidate()
        return changed

    def remove(self, host: str, id: str) -> bool:
        if self.cards.pop((host, id), None) is None:
            return False
        self._invalidate()
        return True

    def host_cards(self, host: str) -> list[Card]:
        return [c for c in self.cards.values() if c.host == host]
