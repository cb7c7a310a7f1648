"""The orchestrator: host links, helper calls, session lookup. CLI and UI only call this.

Data flows one way (host -> watch stream -> supervisor -> callers); actions flow back
(caller -> supervisor -> helper on the host). Nothing here prints or knows about a screen.

The parts, one concern each, all on one foundation:
    base       construction, hosts and their helpers, audit and domain events, finding sessions
    sessions   starting, steering, interrupting, stopping, resuming; screen, tail, attach
    reviews    diff, approve, reject, undo, push, land; checkpoints and rewind
    watching   a host's watch stream, and mirroring it into the store
    workspaces a fresh host per task from a pool; removing it when nothing would be lost
    budgets    acting once on a budget crossed; holding a session a budget paused
This module puts them together as the Supervisor.
"""

from __future__ import annotations

from .base import Listing, session_from_json
from .budgets import BudgetNews, OverBudget
from .reviews import Reviews
from .sessions import DEFAULT_AGENT, Sessions
from .watching import Watching
from .workspaces import Loss, Removed, Workspaces

__all__ = [
    "DEFAULT_AGENT",
    "BudgetNews",
    "Listing",
    "Loss",
    "OverBudget",
    "Removed",
    "Supervisor",
    "session_from_json",
]


class Supervisor(Workspaces, Sessions, Reviews, Watching):
    """Everything fleet does, for the CLI and the UI alike.

    With a store, it remembers: every action lands in the audit log before it is acted on,
    listings are reconciled into the cache, and `mirror` follows hosts from stored cursors.
    With hooks, domain events (status changes, steering, host lost/back) run them.
    """
