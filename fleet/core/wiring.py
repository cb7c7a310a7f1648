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
from .store import Store, StoreError
from .supervisor import Supervisor


@contextlib.asynccontextmanager
async def wired(config: Config, store: Store | None = None) -> AsyncIterator[Supervisor]:
    """A supervisor with fleet's store and the config's hooks, closed in order on the way
    out, whatever happened inside. A store given (the TUI opens it first, to paint the
    cached fleet before SSH is even loaded) is the caller's to close."""
    mine = store is None
    if store is None:
        store = await Store.open_fleets()
    try:
        async with _parts(config, store) as sup:
            yield sup
    except BaseException:
        # The error that got us here says what happened (and what was not done); a store
        # that also fails to close (a full disk) must not replace it. The log keeps both.
        if mine:
            with contextlib.suppress(StoreError):
                await store.close()
        raise
    if mine:
        await store.close()


@contextlib.asynccontextmanager
async def _parts(config: Config, store: Store) -> AsyncIterator[Supervisor]:
    hooks = HookRunner(config.hooks)
    try:
        sup = Supervisor(config, store=store, hooks=hooks)
        try:
            yield sup
        finally:
            await sup.close()
    finally:
        await hooks.close()
