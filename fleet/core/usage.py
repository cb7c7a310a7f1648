"""What the fleet spends: usage records as the hosts report them, totals, and their cost.

A record is one request's tokens as the agent's own records say (read on the host, see
fleet.core.remote.hostside.usage): input not read from a cache, output (reasoning included),
input read from a cache, input written to one. Cost comes from a price table in US dollars
per million tokens: the defaults below, overridden or extended by ``[prices]`` in fleet.toml.
A model with no price has tokens and no cost: never a guessed one.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .remote.hostside.protocol import USAGE_AGENTS, USAGE_APPROXIMATE

READ_AGENTS = frozenset(USAGE_AGENTS)
"""Agents whose usage fleet reads; any other session's usage is unknown."""
APPROXIMATE = frozenset(USAGE_APPROXIMATE)
"""Agents whose records are rounded (aider's "2.4k sent"): their figures are shown with "~"."""


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One request's usage; `id` names it for good (seen again, it is the same request)."""

    id: str
    model: str
    at: float  # when, by the host's clock (seconds)
    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0

    @property
    def counts(self) -> tuple[int, int, int, int]:
        return (self.input, self.output, self.cache_read, self.cache_write)


@dataclass(frozen=True, slots=True)
class Price:
    """US dollars per million tokens."""

    input: float
    output: float
    cache_read: float = 0.0
    cache_write: float = 0.0


PRICE_KEYS = ("input", "output", "cache_read", "cache_write")

# List prices (standard tier, US dollars per million tokens, prompts under any long-context
# threshold) of the models the verified agent versions (Claude Code 2.1.328, Codex 0.169.0) name,
# checked 2026-12-07 against the vendors' model and pricing pages (platform.claude.com/docs
# models and pricing; developers.openai.com/api/docs/models and pricing) as stored in fleet's
# reference library. Claude's cache write is the 5-minute one (1.25 x input); Codex's rollouts
# report no cache writes. Claude Sonnet 5.5's cache read is the $0.10 of 2026-10-07 (a model
# page still said $0.20); Haiku 5.5's is its up-to-100K-token rate. Anything else: [prices].
DEFAULT_PRICES: Mapping[str, Price] = {
    "claude-opus-5-5": Price(4.0, 20.0, 0.20, 5.0),
    "claude-opus-5": Price(5.0, 25.0, 0.50, 6.25),
    "claude-sonnet-5-5": Price(2.0, 10.0, 0.10, 2.50),
    "claude-sonnet-5": Price(2.0, 10.0, 0.20, 2.50),
    "claude-haiku-5-5": Price(0.10, 0.50, 0.01, 0.125),
    "claude-opus-4-5": Price(5.0, 25.0, 0.50, 6.25),
    "claude-opus-4-1": Price(15.0, 75.0, 1.50, 18.75),
    "claude-opus-4": Price(15.0, 75.0, 1.50, 18.75),
    "claude-sonnet-4-5": Price(3.0, 15.0, 0.30, 3.75),
    "claude-sonnet-4": Price(3.0, 15.0, 0.30, 3.75),
    "claude-haiku-4-5": Price(1.0, 5.0, 0.10, 1.25),
    "claude-3-5-haiku": Price(0.80, 4.0, 0.08, 1.0),
    "gpt-6-astra": Price(10.0, 50.0, 1.0),
    "gpt-6.1-sol": Price(2.0, 10.0, 0.10),
    "gpt-6-sol": Price(2.0, 10.0, 0.20),
    "gpt-6-luna": Price(0.10, 0.50, 0.01),
    "gpt-5": Price(1.25, 10.0, 0.125),
    "gpt-5-codex": Price(1.25, 10.0, 0.125),
    "gpt-5-mini": Price(0.25, 2.0, 0.025),
}

_DATED = re.compile(r"^(.*)-\d{8}$")  # claude-sonnet-4-5-20250929: the dated release


def price_for(model: str, prices: Mapping[str, Price]) -> Price | None:
    """The model's price: by its name, else by its name without a release date."""
    found = prices.get(model)
    if found is None:
        dated = _DATED.match(model)
        found = prices.get(dated.group(1)) if dated else None
    return found


def merged_prices(overrides: Mapping[str, Price]) -> dict[str, Price]:
    return {**DEFAULT_PRICES, **overrides}


@dataclass(frozen=True, slots=True)
class Tokens:
    """Tokens of some records, and their cost (None: a model among them has no price)."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    cost: float | None = 0.0
    unpriced: tuple[str, ...] = ()  # the models with no price
    approximate: bool = False  # some of it from rounded records

    @property
    def total(self) -> int:
        return self.input + self.output + self.cache_read + self.cache_write

    def __add__(self, other: Tokens) -> Tokens:
        cost = None if self.cost is None or other.cost is None else self.cost + other.cost
        return Tokens(
            self.input + other.input,
            self.output + other.output,
            self.cache_read + other.cache_read,
            self.cache_write + other.cache_write,
            cost,
            tuple(sorted(set(self.unpriced) | set(other.unpriced))),
            self.approximate or other.approximate,
        )

    def to_json(self) -> dict[str, object]:
        return {
            "input": self.input,
            "output": self.output,
            "cache_read": self.cache_read,
            "cache_write": self.cache_write,
            "total": self.total,
            "cost": None if self.cost is None else round(self.cost, 6),
            "unpriced": list(self.unpriced),
            "approximate": self.approximate,
        }


def priced(
    model: str, counts: Iterable[int], prices: Mapping[str, Price], approximate: bool = False
) -> Tokens:
    """Tokens of one model (input, output, cache_read, cache_write) with their cost."""
    n_in, n_out, n_read, n_write = counts
    price = price_for(model, prices)
    if price is None:
        return Tokens(n_in, n_out, n_read, n_write, None, (model or "(no model)",), approximate)
    cost = (
        n_in * price.input
        + n_out * price.output
        + n_read * price.cache_read
        + n_write * price.cache_write
    ) / 1_000_000
    return Tokens(n_in, n_out, n_read, n_write, cost, (), approximate)


# -- what one session spent, in memory (the reducer's part: fleet.core.fleetstate) ---------------

Counts = tuple[int, int, int, int]  # input, output, cache_read, cache_write
ZERO: Counts = (0, 0, 0, 0)
DayModel = tuple[str, str]  # (the laptop's local day YYYY-MM-DD, model)


def local_day(at: float) -> str:
    """The laptop's local day of a time, as the store's date(at, 'unixepoch', 'localtime')."""
    return time.strftime("%Y-%m-%d", time.localtime(at))


def add_counts(a: Counts, b: Counts, sign: int = 1) -> Counts:
    return (a[0] + sign * b[0], a[1] + sign * b[1], a[2] + sign * b[2], a[3] + sign * b[3])


def merged_counts(old: Counts | None, new: Counts) -> Counts:
    """A record seen again keeps the largest figures: they only grow while a response
    streams (the store's upsert keeps the same rule in SQL)."""
    if old is None:
        return new
    return (max(old[0], new[0]), max(old[1], new[1]), max(old[2], new[2]), max(old[3], new[3]))


@dataclass(frozen=True, slots=True)
class SessionUsage:
    """A session's requests, each counted once by its record id, added up per day and model.

    `seen` (record id -> its day, model and counts) is shared from one state to the next and
    only ever grows: copying it per event would cost a long session's whole history each
    time. Two states compare by their totals alone."""

    totals: Mapping[DayModel, Counts] = field(default_factory=dict)
    requests: int = 0
    seen: dict[str, tuple[DayModel, Counts]] = field(default_factory=dict, compare=False)

    def counted(self, records: Iterable[UsageRecord], at: float = 0.0) -> SessionUsage:
        """This usage after `records` (at: when the event came, for a record without a time)."""
        totals = dict(self.totals)
        requests = self.requests
        seen = self.seen
        for r in records:
            before = seen.get(r.id)
            if before is None:
                where: DayModel = (local_day(r.at or at), r.model)
                requests += 1
                old: Counts = ZERO
            else:
                where, old = before
            new = merged_counts(old, r.counts)
            if new == old and before is not None:
                continue
            seen[r.id] = (where, new)
            totals[where] = add_counts(add_counts(totals.get(where, ZERO), new), old, -1)
        if requests == self.requests and totals == self.totals:
            return self
        return SessionUsage(totals, requests, seen)

    def tokens(self, prices: Mapping[str, Price], day: str | None = None) -> Tokens:
        """Its tokens and cost (of one day, or of all)."""
        out = Tokens()
        for (d, model), counts in self.totals.items():
            if day is None or d == day:
                out = out + priced(model, counts, prices)
        return out


# -- summaries -----------------------------------------------------------------------------

BY = ("session", "host", "agent", "model", "day")


@dataclass(frozen=True, slots=True)
class UsageRow:
    """A session's tokens of one model on one day (the laptop's local day), as stored."""

    host: str
    session: str
    name: str  # the session's name ("" when fleet no longer knows it)
    agent: str
    model: str
    day: str  # YYYY-MM-DD
    input: int
    output: int
    cache_read: int
    cache_write: int
    requests: int


@dataclass(frozen=True, slots=True)
class Spent:
    """One line of `fleet usage`: what `key` (a session, host, agent, model or day) spent."""

    key: str
    tokens: Tokens
    requests: int


def _key(row: UsageRow, by: str) -> str:
    if by == "session":
        return f"{row.host}/{row.name or row.session}"
    value: str = getattr(row, by)
    return value or "(unknown)"


def summarize(rows: Iterable[UsageRow], by: str, prices: Mapping[str, Price]) -> list[Spent]:
    """The rows added up per `by` (one of BY), in key order."""
    if by not in BY:
        raise ValueError(f"cannot add usage up by {by!r}")
    sums: dict[str, tuple[Tokens, int]] = {}
    for row in rows:
        counts = (row.input, row.output, row.cache_read, row.cache_write)
        key = _key(row, by)
        tokens, requests = sums.get(key, (Tokens(), 0))
        spent = priced(row.model, counts, prices, row.agent in APPROXIMATE)
        sums[key] = (tokens + spent, requests + row.requests)
    return [Spent(k, t, n) for k, (t, n) in sorted(sums.items())]


def per_session(
    rows: Iterable[UsageRow], prices: Mapping[str, Price]
) -> dict[tuple[str, str], Tokens]:
    """(host, session id) -> its tokens and cost."""
    out: dict[tuple[str, str], Tokens] = {}
    for row in rows:
        counts = (row.input, row.output, row.cache_read, row.cache_write)
        key = (row.host, row.session)
        spent = priced(row.model, counts, prices, row.agent in APPROXIMATE)
        out[key] = out.get(key, Tokens()) + spent
    return out


def known(agent: str, tokens: Tokens | None) -> bool:
    """Whether fleet knows what the session spent: it read records, or reads its agent's."""
    return tokens is not None or agent in READ_AGENTS


def session_json(agent: str, tokens: Tokens | None) -> dict[str, object]:
    """A session's usage as `fleet ls --json` shows it: {"known": false} when unknown."""
    if not known(agent, tokens):
        return {"known": False}
    return {"known": True, **(tokens or Tokens()).to_json()}
