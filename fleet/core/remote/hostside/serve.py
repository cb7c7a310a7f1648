"""`serve`: one long-lived helper per client connection, many plain requests over its channel.

Each stdin line is {"id": N, "op": ..., "args": {...}}; each answer is one stdout line
{"id": N, ...} (the one-shot answer, with the request's id first so a client can name the
request even of an answer too long to parse). Requests run on their own threads, so a slow
diff never holds up a steer; answers go out whole, one at a time, in the order they finish.
A malformed line gets an error answer (id null when the id itself is unreadable) and the
server goes on; stdin reaching EOF (the client closed the channel or the link died) ends it
once the requests under way have answered.
"""

from __future__ import annotations

import json
import threading
from typing import BinaryIO, Callable, Optional, Set

from . import protocol

MAX_WORKERS = 16  # requests running at once; more wait (the client waits on their answers)
MAX_ID = 2**53
_SKIP_CHUNK = 1 << 20

Handler = Callable[[str, dict], dict]
"""(op, args) -> the one-shot answer object {"ok": ..., "result"/"error": ...}; never raises."""
Parser = Callable[[dict], tuple]
"""The request object -> (op, args); raises ValueError/KeyError/TypeError when malformed."""


def bad_request(why: str) -> dict:
    return protocol.answer_error("bad-request", why)


class Server:
    def __init__(
        self,
        inp: BinaryIO,
        out: BinaryIO,
        parse: Parser,
        handle: Handler,
        max_line: int,
        workers: int = MAX_WORKERS,
    ) -> None:
        self.inp = inp
        self.out = out
        self.parse = parse
        self.handle = handle
        self.max_line = max_line
        self._slots = threading.BoundedSemaphore(workers)
        self._write = threading.Lock()
        self._running: Set[threading.Thread] = set()
        self._running_lock = threading.Lock()
        self._broken = False

    def run(self) -> int:
        while True:
            try:
                line = self.inp.readline(self.max_line + 1)
            except (OSError, ValueError):
                break
            if not line:
                break
            if len(line) > self.max_line and not line.endswith(b"\n"):
                self._skip_rest()
                self.answer(None, bad_request("longer than %d bytes" % self.max_line))
                continue
            if not line.strip():
                continue
            self._start(line)
        with self._running_lock:
            running = list(self._running)
        for thread in running:
            thread.join()
        return 0

    def _skip_rest(self) -> None:
        """Read past the rest of an over-long line without keeping it."""
        while True:
            try:
                chunk = self.inp.readline(_SKIP_CHUNK)
            except (OSError, ValueError):
                return
            if not chunk or chunk.endswith(b"\n"):
                return

    def _start(self, line: bytes) -> None:
        self._slots.acquire()
        thread = threading.Thread(target=self._work, args=(line,), daemon=True)
        with self._running_lock:
            self._running.add(thread)
        thread.start()

    def _work(self, line: bytes) -> None:
        rid: Optional[int] = None
        try:
            try:
                request = json.loads(line.decode("utf-8"))
                if not isinstance(request, dict):
                    raise TypeError("not an object")
                rid = request_id(request.get("id"))
                op, args = self.parse(request)
            except (ValueError, KeyError, TypeError, RecursionError) as e:
                # RecursionError: JSON nested thousands deep. Never a traceback: a clear answer.
                why = "missing %s" % e if isinstance(e, KeyError) else str(e)
                self.answer(
                    rid,
                    bad_request(
                        "expected one JSON object {id, op, args} per line (%s)"
                        % (why or type(e).__name__)[:200]
                    ),
                )
                return
            self.answer(rid, self.handle(op, args))
        except BaseException as e:  # the client must get an answer, whatever happened
            self.answer(rid, protocol.answer_error("internal", "%s: %s" % (type(e).__name__, e)))
        finally:
            with self._running_lock:
                self._running.discard(threading.current_thread())
            self._slots.release()

    def answer(self, rid: Optional[int], answer: dict) -> None:
        body = json.dumps(answer, sort_keys=True)
        head = '{"id": %s' % ("null" if rid is None else rid)
        data = (head + (", " + body[1:] if body != "{}" else "}") + "\n").encode("utf-8")
        with self._write:
            if self._broken:
                return
            try:
                self.out.write(data)
                self.out.flush()
            except (OSError, ValueError):
                self._broken = True  # the client is gone: finish the work, answer no one


def request_id(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < MAX_ID:
        raise ValueError("id must be a whole number from 0 to 2**53")
    return value
