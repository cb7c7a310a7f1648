"""One wiring of fleet's local parts for a front end: the store, the hooks, the supervisor.

    async with wired(config) as sup:      # sup.store and sup.hooks are open
        await sup.list_sessions()

The CLI runs each command inside it; the TUI enters it when it mounts and leaves it when it
unmounts. Both close the parts in the same order: the supervisor first (its connections,
then the hooks it started are given their time), then the hooks, then the store, which
commits what is still queued.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from .config import Config
from .hooks import HookRunner
from .paths import ensure_state_dir
from .store import Store, StoreError
from .supervisor import Supervisor


@contextlib.asynccontextmanager
async def wired(config: Config) -> AsyncIterator[Supervisor]:
    """A supervisor with fleet's store (`fleet.db` in the state directory) and the config's
    hooks, closed in order on the way out, whatever happened inside."""
    store = await Store.open(ensure_state_dir() / "fleet.db")
    hooks = HookRunner(config.hooks)
    try:
        sup = Supervisor(config, store=store, hooks=hooks)
        try:
            yield sup
        finally:
            await sup.close()
    except BaseException:
        await hooks.close()
        # The error that got us here says what happened (and what was not done); a store
        # that also fails to close (a full disk) must not replace it. The log keeps both.
        with contextlib.suppress(StoreError):
            await store.close()
        raise
    await hooks.close()
    await store.close()
