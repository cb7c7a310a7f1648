"""The Supervisor's budgets: acting once on a budget crossed, and holding a paused session.

Wherever fleet follows the hosts (the TUI, `fleet watch`) the face calls `check_budgets`
with its reducer's state after what a session spent moved. A crossing is marked in the store
first (only the fleet whose mark it is acts: a restart or a second fleet never fires it
again), then audited, then, for a budget with action = "pause" at 100 %, every working agent
it covers gets its profile's interrupt key, and only that: nothing is typed that would start
a turn. Then the hooks run (budget-warning, budget-exceeded) and the face tells the person.

A session a budget paused stays held: `send` and `resume` refuse it (OverBudget) until the
person says to go on past that budget (`over_budget=True`), once per budget.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..budgets import ALLOWED, Budget, Crossing, OverBudget, budgets_for, crossings, holding
from ..errors import FleetError
from ..fleetstate import FleetState, Key, shown_status
from ..models import Session
from ..store import StoreError
from ..usage import local_day, merged_prices
from .base import Base

log = logging.getLogger("fleet.budgets")


@dataclass(frozen=True)
class BudgetNews:
    """A crossing this fleet acted on, for the face to tell the person."""

    crossing: Crossing
    who: str  # "alpha/fix-auth", "host alpha", "the fleet"
    paused: tuple[str, ...] = ()  # the sessions given their interrupt key


class Budgeting(Base):
    """Budgets (a part of the Supervisor)."""

    _budget_marks: dict[tuple[str, str], str] | None = None

    async def _marks(self) -> dict[tuple[str, str], str]:
        if self._budget_marks is None:
            self._budget_marks = await self.require_store().budget_marks()
        return self._budget_marks

    async def check_budgets(self, fleet: FleetState, keys: Iterable[Key]) -> list[BudgetNews]:
        """Act on the budgets of the sessions `keys` that were crossed (see the module)."""
        budgets = self.config.budgets
        if not budgets or self.store is None:
            return []
        marks = await self._marks()
        prices = merged_prices(self.config.prices)
        day = local_day(time.time())
        news = []
        for crossing in crossings(fleet, budgets, prices, keys, day, set(marks)):
            budget = crossing.budget
            marks[(budget.id, crossing.level)] = budget.limit.action  # not checked twice here
            try:
                mine = await self.store.claim_budget(budget.id, crossing.level, budget.limit.action)
            except StoreError as exc:  # the person hears of it even when the disk is full
                log.error("budget %s %s: not marked (%s)", budget.id, crossing.level, exc)
                mine = True
            if mine:
                news.append(await self._crossed(fleet, crossing))
        return news

    async def _crossed(self, fleet: FleetState, crossing: Crossing) -> BudgetNews:
        budget = crossing.budget
        paused: tuple[str, ...] = ()
        if crossing.level == "exceeded" and budget.limit.action == "pause":
            paused = await self._pause(fleet, budget)
        detail: dict[str, Any] = {
            "budget": budget.id,
            "scope": budget.scope,
            "limit": budget.limit.shown,
            "unit": budget.limit.unit,
            "spent": round(crossing.spent, 6),
            "action": budget.limit.action,
            "paused": list(paused),
        }
        kind = f"budget-{crossing.level}"
        self.require_store().audit(budget.host, budget.session or None, kind, detail)
        self._emit(kind, budget.host, budget.session or None, detail)
        if budget.scope == "session":
            who = self.label(budget.host, budget.session)
        else:
            who = f"host {budget.host}" if budget.scope == "host" else "the fleet"
        return BudgetNews(crossing, who, paused)

    async def _pause(self, fleet: FleetState, budget: Budget) -> tuple[str, ...]:
        """The interrupt key of every working agent the budget covers: it stops the turn."""
        paused = []
        for key, state in list(fleet.sessions.items()):
            if not budget.covers(key) or shown_status(state, fleet.host(key[0])) != "working":
                continue
            session = state.session
            profile = self.profiles.get(session.agent)
            keys = list(profile.interrupt) if profile is not None else ["C-c"]
            try:
                async with self._recorded(session, "budget-pause", {"budget": budget.id}):
                    await self.helper(session.host).call(
                        "keys", {"session": session.id, "keys": keys}
                    )
            except FleetError as exc:
                log.error("%s: could not pause for budget %s: %s", session.ref, budget.id, exc)
                continue
            paused.append(session.ref)
        return tuple(paused)

    async def held(self, sessions: Iterable[Session]) -> dict[Key, list[Budget]]:
        """The sessions a budget paused and that may not go on past it yet, with those
        budgets (read from the store: another fleet may have paused them)."""
        if not self.config.budgets or self.store is None:
            return {}
        self._budget_marks = marks = await self.store.budget_marks()
        day = local_day(time.time())
        out = {}
        for session in sessions:
            key = (session.host, session.id)
            covering = budgets_for(self.config.budgets, key, day)
            ids = set(holding(covering, marks))
            if ids:
                out[key] = [b for b in covering if b.id in ids]
        return out

    async def over_budget_check(self, session: Session, over_budget: bool) -> None:
        """Refuse to drive a held session on (OverBudget), unless the person said so: then
        that is marked (once per budget) and audited, and it goes on."""
        held = (await self.held([session])).get((session.host, session.id))
        if not held:
            return
        if not over_budget:
            raise OverBudget(session, held)
        store = self.require_store()
        for budget in held:
            await store.claim_budget(budget.id, ALLOWED, budget.limit.action)
            self._audit(session, "budget-allowed", {"budget": budget.id})
            if self._budget_marks is not None:
                self._budget_marks[(budget.id, ALLOWED)] = budget.limit.action


__all__ = ["BudgetNews", "Budgeting", "OverBudget"]
