"""The long-lived heap is frozen out of full collections once the fleet is built."""

from __future__ import annotations

import gc

from fleet.ui.heap import Heap


def test_the_heap_settles_once_every_host_answered() -> None:
    gc.unfreeze()
    try:
        heap = Heap(hosts=2)
        kept = [[i] for i in range(1000)]
        heap.answered("alpha")
        heap.answered("alpha")  # the same host again (a reconnect) is not another host
        assert gc.get_freeze_count() == 0
        heap.answered("beta")
        frozen = gc.get_freeze_count()
        assert frozen >= len(kept)
        heap.answered("alpha")  # once built, later answers change nothing
        assert gc.get_freeze_count() == frozen
        heap.release()  # the app ended: its heap is the collector's again
        assert gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()
