"""A child process for test_store's kill -9 test: writes to a Store as fast as it can, forever.

Usage: python store_writer_child.py DB_PATH. Prints "ready" once the first writes committed.
Each round enqueues, in this order: one output line (fixed width, so its content follows from
its offset), one status event (seq = round number), one "send" audit entry. Whatever a kill
leaves committed must be a prefix of that sequence.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from fleet.core import events
from fleet.core.models import Session, Status
from fleet.core.store import Store

HOST = "h"
SID = "s1"


def line(n: int) -> bytes:
    return b"line %010d\n" % n  # 16 bytes


async def main(path: Path) -> None:
    store = await Store.open(path)
    store.record_host(HOST, "dev@h", "connected")
    store.upsert_session(
        Session(SID, "busy", HOST, "shell", Status.WORKING, "fleet/busy", "/w", "/r")
    )
    await store.flush()
    print("ready", flush=True)
    n = 0
    while True:
        for _ in range(200):
            n += 1
            store.append_output(HOST, SID, (n - 1) * 16, line(n - 1))
            status = "working" if n % 2 else "idle"
            store.apply(
                events.StatusChanged(
                    host=HOST, seq=n, at=time.time(), session=SID, status=Status(status)
                )
            )
            store.audit(HOST, SID, "send", {"n": n})
        await asyncio.sleep(0)  # let the writer take the batch; keep enqueuing meanwhile
        if n % 2000 == 0:
            await store.flush()  # bound the queue


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
