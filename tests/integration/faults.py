"""Network faults on loopback: a TCP proxy between fleet and a host's sshd that can cut or
blackhole connections, running on its own thread so it serves subprocesses and async tests
alike."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from concurrent.futures import Future
from typing import Any


class FaultyProxy:
    """127.0.0.1:<port> -> 127.0.0.1:<target>, with cut(), blackhole() and heal()."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self._pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._flowing = threading.Event()
        self._flowing.set()
        self._refusing = False
        self.connections = 0

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

    def blackhole(self) -> None:
        """Stop moving bytes both ways while keeping the sockets open (a silent drop)."""
        self._flowing.clear()

    def refuse(self, refusing: bool = True) -> None:
        """Close new connections at once (the host is down)."""
        self._refusing = refusing

    def heal(self) -> None:
        self._refusing = False
        self._flowing.set()

    # -- internals ------------------------------------------------------------------------
    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._cut(rst=False)

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
        await asyncio.gather(
            self._pump(reader, up_writer), self._pump(up_reader, writer), return_exceptions=True
        )
        self._pairs.discard(pair)
        for w in pair:
            w.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            while not self._flowing.is_set():  # blackholed: hold the bytes, send nothing
                if writer.is_closing():
                    return
                await asyncio.sleep(0.05)
            writer.write(data)
            await writer.drain()
        writer.close()
