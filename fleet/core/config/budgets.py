"""``[budgets]``: how much the fleet may spend, in tokens or money, and what 100 % does.

    [budgets]
    session = "2M tok"                           # each session, over its whole run
    day = { limit = "$20", action = "pause" }    # the whole fleet, per day (local time)

    [budgets.hosts]
    gpu = "$5"                                   # the host's sessions together, per day

A limit is tokens (``2000000``, ``"2M tok"``, ``"500k tok"``) or US dollars (``"$5"``,
``"$0.50"``). A plain value warns at 80 % and at 100 %; the table form with
``action = "pause"`` also pauses the agents it covers at 100 % (fleet.core.budgets).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal

from fleet.core.config.locate import KeyPath

if TYPE_CHECKING:
    from fleet.core.config.loader import _Loader

BUDGET_KEYS: Final = ("session", "day", "hosts")
LIMIT_KEYS: Final = ("limit", "action")
ACTIONS: Final = ("warn", "pause")
MAX_TOKENS: Final = 10**15
MAX_DOLLARS: Final = 10**9
_TOKENS_RE: Final = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([kKmMbB]?)\s*(?:tok|tokens)?")
_DOLLARS_RE: Final = re.compile(r"\$\s*([0-9]+(?:\.[0-9]{1,4})?)")
_SCALE: Final = {"": 1, "k": 1_000, "m": 1_000_000, "b": 1_000_000_000}

Unit = Literal["tokens", "dollars"]
Action = Literal["warn", "pause"]


@dataclass(frozen=True)
class Limit:
    """One budget's limit: `amount` tokens or US dollars; at 100 %, warn or also pause."""

    amount: float
    unit: Unit
    action: Action = "warn"

    @property
    def shown(self) -> str:
        """`$5.00`, `2,000,000 tokens`."""
        if self.unit == "dollars":
            return f"${self.amount:,.2f}"
        return f"{int(self.amount):,} tokens"


@dataclass(frozen=True)
class Budgets:
    session: Limit | None = None  # each session, over its run
    day: Limit | None = None  # the fleet, per local day
    hosts: dict[str, Limit] = field(default_factory=dict)  # a host's sessions, per local day

    def __bool__(self) -> bool:
        return bool(self.session or self.day or self.hosts)


def parse_budgets(loader: _Loader, value: object, known: Mapping[str, object]) -> Budgets:
    key: KeyPath = ("budgets",)
    table = loader.table(key, value, 'a table [budgets] with session = "2M tok", day = "$20"')
    loader.check_keys(key, table, BUDGET_KEYS)
    hosts: dict[str, Limit] = {}
    if "hosts" in table:
        hosts_key: KeyPath = (*key, "hosts")
        per_host = loader.table(hosts_key, table["hosts"], 'a table [budgets.hosts] of NAME = "$5"')
        for name in per_host:
            if name not in known:
                names = ", ".join(sorted(known)) or "none configured"
                raise loader.fail((*hosts_key, name), f"no host {name!r} (hosts: {names})")
        hosts = {name: _limit(loader, (*hosts_key, name), v) for name, v in per_host.items()}
    return Budgets(
        session=_limit(loader, (*key, "session"), table["session"]) if "session" in table else None,
        day=_limit(loader, (*key, "day"), table["day"]) if "day" in table else None,
        hosts=hosts,
    )


def _limit(loader: _Loader, key: KeyPath, value: object) -> Limit:
    if not isinstance(value, dict):
        return _amount(loader, key, value, "warn")
    loader.check_keys(key, value, LIMIT_KEYS)
    if "limit" not in value:
        raise loader.fail(key, 'limit is missing (like limit = "$5" or limit = "2M tok")')
    action = value.get("action", "warn")
    if action not in ACTIONS:
        raise loader.expected((*key, "action"), '"warn" or "pause"', action)
    return _amount(loader, (*key, "limit"), value["limit"], action)


def _amount(loader: _Loader, key: KeyPath, value: object, action: Action) -> Limit:
    what = 'tokens (2000000, "2M tok") or dollars ("$5")'
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 < value <= MAX_TOKENS:
            return Limit(float(value), "tokens", action)
        raise loader.expected(key, what, value)
    if not isinstance(value, str):
        raise loader.expected(key, what, value)
    text = value.strip()
    dollars = _DOLLARS_RE.fullmatch(text)
    if dollars:
        amount = float(dollars.group(1))
        if 0 < amount <= MAX_DOLLARS:
            return Limit(amount, "dollars", action)
        raise loader.expected(key, what, value)
    tokens = _TOKENS_RE.fullmatch(text)
    if tokens:
        amount = float(tokens.group(1)) * _SCALE[tokens.group(2).lower()]
        if 0 < amount <= MAX_TOKENS:
            return Limit(round(amount), "tokens", action)
    raise loader.expected(key, what, value)
