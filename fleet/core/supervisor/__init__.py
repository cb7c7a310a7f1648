"""The orchestrator: host links, helper calls, session lookup. CLI and UI only call this.

Data flows one way (host -> watch stream -> supervisor -> callers); actions flow back
(caller -> supervisor -> helper on the host). Nothing here prints or knows about a screen.

The parts, one concern each, all on one foundation:
    base       construction, hosts and their helpers, audit and domain events, finding sessions
    sessions   starting, steering, interrupting, stopping, resuming; screen, tail, attach
    reviews    diff, approve, reject, undo, push, land; checkpoints and rewind
    watching   a host's watch stream, and mirroring it into the store
    workspaces a fresh host per task from a pool
    removal    `fleet rm`: a session (and its workspace) removed when nothing would be lost
    reaping    a pool's after-land and idle_ttl: workspaces removed after the work
    budgets    acting once on a budget crossed; holding a session a budget paused
This module puts them together as the Supervisor.
"""

from __future__ import annotations

from .base import Listing, session_from_json
from .budgets import BudgetNews, OverBudget
from .reaping import Reaped, Reaping
from .removal import Loss, Removed
from .reviews import Reviews
from .sessions import DEFAULT_AGENT, Sessions
from .watching import Watching

__all__ = [
    "DEFAULT_AGENT",
    "BudgetNews",
    "Listing",
    "Loss",
    "OverBudget",
    "Reaped",
    "Removed",
    "Supervisor",
    "session_from_json",
]


class Supervisor(Reaping, Sessions, Reviews, Watching):
    """Everything fleet does, for the CLI and the UI alike.

    With a store, it remembers: every action lands in the audit log before it is acted on,
    listings are reconciled into the cache, and `mirror` follows hosts from stored cursors.
    With hooks, domain events (status changes, steering, host lost/back) run them.
    """
