"""The collector at fleet's scale: the long-lived heap kept out of full collections.

With 10,000 cards the heap holds a few hundred thousand long-lived objects (cards, sessions,
cached strips), and every event allocates more: CPython's full collections then came every
half second and took 100-600 ms each, on the loop the person's keys share (most of the
keystroke and status tails of the 10,000-session benchmark). After the cached fleet is painted,
and again once every host has answered, what is garbage is collected and what is alive is
frozen (gc.freeze): later full collections scan only what was made since. When the app ends
the heap is given back to the collector (a process may run more than one app: the tests do).
"""

from __future__ import annotations

import gc


class Heap:
    def __init__(self, hosts: int) -> None:
        self._waiting = hosts > 0  # for every host's first answer
        self._answered: set[str] = set()
        self._hosts = hosts

    def settle(self) -> None:
        """Collect now, then keep every object still alive out of later collections."""
        gc.collect()
        gc.freeze()

    def release(self) -> None:
        """The app ended: what was frozen may be collected again."""
        self._waiting = False
        gc.unfreeze()

    def answered(self, host: str) -> None:
        """A host answered; when that makes all of them, settle once (the fleet is built)."""
        if not self._waiting:
            return
        self._answered.add(host)
        if len(self._answered) >= self._hosts:
            self._waiting = False
            self.settle()
