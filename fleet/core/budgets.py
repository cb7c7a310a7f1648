"""Budgets: which ones a session's spending is measured against, and when one is crossed.

Pure rules over the reducer's state (fleet.core.fleetstate): a session's budget counts the
session's whole run; a host's and the fleet's day count what was spent on the laptop's local
day. A budget is crossed at 80 % (a warning) and at 100 % (exceeded); each crossing happens
once, as the store's marks say (a restart of fleet, or a second fleet, never fires it again).
A money budget counts the models with a price (a model with none costs nothing here: a lower
bound, never a guess).

The acting on a crossing (hooks, the audit log, pausing the agent) is the supervisor's
(fleet.core.supervisor.budgets); the faces tell the person.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from .config.budgets import Budgets, Limit
from .errors import UsageError
from .fleetstate import FleetState, Key
from .models import Session
from .usage import Counts, Price, priced

WARN_AT = 0.8
Scope = Literal["session", "host", "day"]
Level = Literal["warning", "exceeded"]
ALLOWED = "allowed"  # the person chose to go on past an exceeded budget that paused


@dataclass(frozen=True, slots=True)
class Budget:
    """One budget in force: its id names it for good (a host's or the fleet's for one day)."""

    id: str  # "session:HOST/ID", "host:HOST:YYYY-MM-DD", "day:YYYY-MM-DD"
    scope: Scope
    limit: Limit
    host: str = ""  # the session's or the host's ("" for the fleet's day)
    session: str = ""  # the session id, for a session's budget

    @property
    def name(self) -> str:
        """`its session budget`, `host gpu's budget for today`, `the fleet's budget for today`."""
        if self.scope == "session":
            return "its session budget"
        if self.scope == "host":
            return f"host {self.host}'s budget for today"
        return "the fleet's budget for today"

    def covers(self, key: Key) -> bool:
        if self.scope == "session":
            return (self.host, self.session) == key
        return self.scope == "day" or self.host == key[0]


@dataclass(frozen=True, slots=True)
class Crossing:
    budget: Budget
    level: Level
    spent: float  # in the budget's unit (tokens, or US dollars)


def budgets_for(budgets: Budgets, key: Key, day: str) -> list[Budget]:
    """The budgets a session's spending counts against today."""
    host, sid = key
    out = []
    if budgets.session is not None:
        out.append(Budget(f"session:{host}/{sid}", "session", budgets.session, host, sid))
    if host in budgets.hosts:
        out.append(Budget(f"host:{host}:{day}", "host", budgets.hosts[host], host))
    if budgets.day is not None:
        out.append(Budget(f"day:{day}", "day", budgets.day))
    return out


def measured(limit: Limit, spent: Mapping[str, Counts], prices: Mapping[str, Price]) -> float:
    """What `spent` (model -> counts) comes to in the limit's unit."""
    if limit.unit == "tokens":
        return float(sum(sum(counts) for counts in spent.values()))
    return sum(priced(model, counts, prices).cost or 0.0 for model, counts in spent.items())


def spent_by(fleet: FleetState, budget: Budget, day: str) -> dict[str, Counts]:
    """model -> counts, of what the budget counts."""
    if budget.scope != "session":
        return fleet.spent_on(day, budget.host or None)
    state = fleet.sessions.get((budget.host, budget.session))
    out: dict[str, Counts] = {}
    for (_, model), counts in (state.usage.totals if state is not None else {}).items():
        was = out.get(model, (0, 0, 0, 0))
        out[model] = (
            was[0] + counts[0],
            was[1] + counts[1],
            was[2] + counts[2],
            was[3] + counts[3],
        )
    return out


def crossings(
    fleet: FleetState,
    budgets: Budgets,
    prices: Mapping[str, Price],
    keys: Iterable[Key],
    day: str,
    marked: set[tuple[str, str]],
) -> list[Crossing]:
    """The budgets of the sessions `keys` (whose spending moved) crossed and not yet marked:
    the highest level reached only (a jump past 100 % is not also a warning)."""
    found: dict[str, Crossing] = {}
    for key in keys:
        for budget in budgets_for(budgets, key, day):
            if budget.id in found or (budget.id, "exceeded") in marked:
                continue
            spent = measured(budget.limit, spent_by(fleet, budget, day), prices)
            level: Level | None = None
            if spent >= budget.limit.amount:
                level = "exceeded"
            elif spent >= WARN_AT * budget.limit.amount and (budget.id, "warning") not in marked:
                level = "warning"
            if level is not None:
                found[budget.id] = Crossing(budget, level, spent)
    return list(found.values())


def holding(budgets: Iterable[Budget], marks: Mapping[tuple[str, str], str]) -> list[str]:
    """The ids of the budgets that paused (exceeded with action pause, as the mark recorded)
    and that the person has not let the session go on past; `marks`: (id, level) -> action."""
    return [
        b.id
        for b in budgets
        if marks.get((b.id, "exceeded")) == "pause" and (b.id, ALLOWED) not in marks
    ]


class OverBudget(UsageError):
    """The session was paused by a budget the person has not let it go on past."""

    def __init__(self, session: Session, budgets: list[Budget]) -> None:
        self.session = session
        self.budgets = budgets
        named = "; ".join(f"{b.name} ({b.limit.shown})" for b in budgets)
        super().__init__(
            f"{session.ref} was paused when it went past {named}. To let it go on past it, "
            "say so: add --over-budget (asked once per budget)"
        )
