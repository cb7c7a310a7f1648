"""Which sessions the person sees, per host, told to each host's watch stream.

A host streams the screens of the sessions shown at full rate and keeps the others' until they
are shown again (hostside/watch.py): at 10,000 sessions the supervisor then spends on the few
dozen cards on screen, not on every agent printing somewhere. Until a caller says what it
shows (the CLI never does), every session counts as shown.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..remote.client import StreamInput
from ..remote.hostside import protocol


class Shown:
    def __init__(self) -> None:
        self.told = False  # a caller said what it shows: from then on streams are told too
        self._ids: dict[str, frozenset[str]] = {}
        self._inputs: dict[str, StreamInput] = {}

    def of(self, host: str) -> frozenset[str] | None:
        """The sessions of `host` shown (None: all)."""
        return self._ids.get(host, frozenset()) if self.told else None

    def input(self, host: str) -> StreamInput:
        """Where updates for the host's running watch stream go."""
        return self._inputs.setdefault(host, StreamInput())

    def set(self, keys: Iterable[tuple[str, str]]) -> None:
        """These (host, session id) are shown now, no other: each host whose part changed
        hears it on its running stream (a stream that starts later carries it in its request)."""
        new: dict[str, set[str]] = {}
        for host, sid in keys:
            new.setdefault(host, set()).add(sid)
        first, self.told = not self.told, True
        for host in set(new) | set(self._ids) | (set(self._inputs) if first else set()):
            ids = frozenset(new.get(host, ()))
            if not first and self._ids.get(host, frozenset()) == ids:
                continue
            self._ids[host] = ids
            self.input(host).send(protocol.visible(ids))
