"""podman (and docker, which takes the same command line), on this machine or on a fleet host
(argv.Runner): every call an argv list, never a shell string."""

from __future__ import annotations

import re
from pathlib import Path

from ..textsafe import said
from .argv import CALL_TIMEOUT, FILES, LocalRunner, Runner
from .engine import ContainerSpec, Engine, EngineError, Reach

_PORT_RE = re.compile(r"(?:127\.0\.0\.1|0\.0\.0\.0|\[::1?\]|::1?):([0-9]{1,5})")
_GONE = ("no such container", "no such volume", "no such object", "no container with name")


class PodmanEngine(Engine):
    def __init__(self, program: str = "podman", runner: Runner | None = None) -> None:
        self.name = program
        self.program = program
        self.runner: Runner = runner or LocalRunner()

    async def _run(
        self, step: str, *args: str, timeout: float = CALL_TIMEOUT, files: Path | None = None
    ) -> str:
        argv = [self.program, *args]
        return await self.runner.run(step, argv, timeout=timeout, files=files)

    async def version(self) -> str:
        out = await self._run("engine version", "version", "--format", "{{.Client.Version}}")
        return said(out.strip(), 40)

    async def make(self, spec: ContainerSpec, keys: Path) -> Reach:
        await self.create(spec)
        await self.copy_in(spec.name, keys, spec.keys_in)
        await self.start(spec.name)
        return await self.reach(spec.name)

    async def reach(self, name: str) -> Reach:
        return Reach(port=await self.published_port(name, 22), via=self.runner.via)

    async def create(self, spec: ContainerSpec) -> None:
        labels = [f"--label={k}={v}" for k, v in sorted(spec.labels.items())]
        await self._run("create the volume", "volume", "create", *labels, "--", spec.volume)
        args = ["create", f"--name={spec.name}", *labels, "--pull=never"]
        args += [f"--volume={spec.volume}:{spec.mount}", f"--publish=127.0.0.1::{spec.ssh_port}"]
        args += [f"--tmpfs={t}" for t in spec.tmpfs]
        if spec.cpus is not None:
            args.append(f"--cpus={spec.cpus:g}")
        if spec.memory is not None:
            args.append(f"--memory={spec.memory}")
        # No entrypoint is assumed of the image: fleet says what runs.
        args += ["--entrypoint=", "--", spec.image, *spec.command]
        await self._run("create the container", *args)

    async def copy_in(self, container: str, source: Path, dest: str) -> None:
        step = "copy the workspace's keys in"
        await self._run(step, "cp", "--", FILES, f"{container}:{dest}", files=source)

    async def start(self, container: str) -> None:
        await self._run("start the container", "start", "--", container)

    async def published_port(self, container: str, port: int) -> int:
        out = await self._run("read the ssh port", "port", "--", container, f"{port}/tcp")
        for line in out.splitlines():
            m = _PORT_RE.fullmatch(line.strip())
            if m and 0 < int(m[1]) < 65536:
                return int(m[1])
        raise EngineError("read the ssh port", f"{self.program} port said {said(out, 120)}")

    async def state(self, container: str) -> str | None:
        try:
            out = await self._run(
                "inspect the container", "inspect", "--type=container",
                "--format={{.State.Status}}", "--", container,
            )  # fmt: skip
        except EngineError as exc:
            if any(g in exc.reason.lower() for g in _GONE):
                return None
            raise
        return said(out.strip(), 40) or None

    async def volume_exists(self, volume: str) -> bool:
        try:
            await self._run("inspect the volume", "volume", "inspect", "--", volume)
        except EngineError as exc:
            if any(g in exc.reason.lower() for g in _GONE):
                return False
            raise
        return True

    async def remove(self, container: str, volume: str) -> None:
        await self._run(
            "remove the container", "rm", "--force", "--time=2", "--ignore", "--", container
        )
        if await self.volume_exists(volume):
            await self._run("remove the volume", "volume", "rm", "--force", "--", volume)
