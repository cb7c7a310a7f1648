"""Network faults on loopback: a TCP proxy between fleet and a host's sshd that can cut,
blackhole or slow down connections, and counts the bytes it moves, running on its own thread
so it serves subprocesses and async tests alike; and the faults the tests make with it."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import Awaitable
from concurrent.futures import Future
from typing import Any, Literal, TypeVar

from tests.integration.fleetrun import received_lines, wait_for
from tests.integration.hosts import LoopbackHost

T = TypeVar("T")

Direction = Literal["up", "down", "both"]  # up: client -> host; down: host -> client


def _directions(direction: Direction) -> tuple[str, ...]:
    return ("up", "down") if direction == "both" else (direction,)


class FaultyProxy:
    """127.0.0.1:<port> -> 127.0.0.1:<target>, with cut(), blackhole(), slow() and heal()."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self._pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        # Plain attributes set from the test's thread and read on the proxy's: each is one
        # atomic store, and a reader seeing the old value for one more chunk is harmless.
        self._held = {"up": False, "down": False}
        self._delay = {"up": 0.0, "down": 0.0}
        self._refusing = False
        self.connections = 0
        self.cuts = 0
        self.bytes = 0  # moved in both directions (the benchmark's network figures)

    def __enter__(self) -> FaultyProxy:
        self._thread.start()
        self._call(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _call(self, coro: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(10)

    # -- faults ---------------------------------------------------------------------------
    def cut(self, rst: bool = False) -> None:
        """Close every connection now (FIN, or RST with rst=True); new ones are accepted."""
        self._call(self._cut(rst))
        self.cuts += 1

    def blackhole(self, direction: Direction = "both") -> None:
        """Stop moving bytes (one way or both) while keeping the sockets open: a silent drop."""
        for d in _directions(direction):
            self._held[d] = True

    def slow(self, seconds: float, direction: Direction = "both") -> None:
        """Deliver every chunk `seconds` late (latency, not a bandwidth cap: chunks stay in
        order and in flight together). A helper call takes a few round trips, so 0.5 s each way
        makes a host that answers in seconds."""
        for d in _directions(direction):
            self._delay[d] = max(0.0, float(seconds))

    def refuse(self, refusing: bool = True) -> None:
        """Close new connections at once (the host is down)."""
        self._refusing = refusing

    def heal(self) -> None:
        self._refusing = False
        self._held = {"up": False, "down": False}
        self._delay = {"up": 0.0, "down": 0.0}

    # -- internals ------------------------------------------------------------------------
    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._cut(rst=False)
        # Pumps of cut connections may still be winding down: end them before the loop stops.
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _cut(self, rst: bool) -> None:
        for a, b in list(self._pairs):
            for w in (a, b):
                if rst:
                    sock = w.get_extra_info("socket")
                    if sock is not None:
                        sock.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
                w.close()
        self._pairs.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._refusing:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self.connections += 1
        pair = (writer, up_writer)
        self._pairs.add(pair)
        try:
            await asyncio.gather(
                self._pump(reader, up_writer, "up"),
                self._pump(up_reader, writer, "down"),
                return_exceptions=True,
            )
        except asyncio.CancelledError:
            # The proxy is being closed. Python 3.11's stream server asks a cancelled
            # handler for its exception and prints the CancelledError as a traceback.
            pass
        finally:
            self._pairs.discard(pair)
            for w in pair:
                w.close()

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, direction: str
    ) -> None:
        """Read as fast as the peer sends; a sender task delivers each chunk when it is due."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        sender = loop.create_task(self._deliver(queue, writer, direction))
        try:
            while True:
                data = await reader.read(65536)
                self.bytes += len(data)
                queue.put_nowait((loop.time() + self._delay[direction], data))
                if not data:
                    break
            await sender
        finally:
            sender.cancel()

    async def _deliver(
        self,
        queue: asyncio.Queue[tuple[float, bytes]],
        writer: asyncio.StreamWriter,
        direction: str,
    ) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due, data = await queue.get()
            if due > loop.time():
                await asyncio.sleep(due - loop.time())
            while self._held[direction]:  # blackholed: hold the bytes, send nothing
                if writer.is_closing():
                    return
                await asyncio.sleep(0.05)
            if not data or writer.is_closing():
                break
            writer.write(data)
            await writer.drain()
        writer.close()


async def cut_once_it_arrived(
    proxy: FaultyProxy, host: LoopbackHost, sid: str, text: str, send: Awaitable[T]
) -> asyncio.Task[T]:
    """Run `send` (of `text` to the recorder session `sid`) over a slowed link and cut the link
    (RST) after the agent got the text, before the answer came back: the send's task, whose
    outcome the caller checks."""
    proxy.slow(0.6, "down")
    task = asyncio.ensure_future(send)
    await asyncio.to_thread(
        wait_for,
        lambda: text in received_lines(host, sid),
        20,
        0.02,
        "the agent to receive the message",
    )
    assert not task.done(), "the answer came back before the cut: slow the link more"
    proxy.cut(rst=True)
    return task
