"""The steps of making a workspace that are not the engine's: the container fleet asks for,
waiting for its sshd, and bringing the local repository in as a git bundle over the SSH
connection (nothing inside the workspace needs a network)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import tempfile
import time
from pathlib import Path

from ..config.pools import PoolConfig
from ..errors import FleetError, HostError, HostSetupError, UsageError
from ..ssh import HostLink
from ..textsafe import said
from .argv import Runner
from .command import CommandEngine
from .engine import ContainerSpec, Engine, EngineError
from .kubernetes import KubernetesEngine
from .podman import PodmanEngine
from .records import HOME, KEYS_IN, Workspace

SSH_WAIT = 30.0  # seconds for sshd in a fresh container to answer
BUNDLE = ".fleet-repo.bundle"  # in the workspace's home, removed once cloned
_DIR_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


def engine_for(pool: PoolConfig, runner: Runner | None = None) -> Engine:
    """The engine a pool names, run from this machine, or (a pool with `host`) through
    `runner`, the helper of that host (the Supervisor's engine_of_pool makes it)."""
    if pool.kubernetes is not None:
        return KubernetesEngine(pool.kubernetes)
    if pool.command is not None:
        return CommandEngine(pool.command, pool)
    if pool.host is not None and runner is None:
        raise UsageError(f"pool {pool.name}: its {pool.engine} runs on host {pool.host}: "
                         "fleet reaches it through that host's connection")  # fmt: skip
    return PodmanEngine(pool.engine, runner)


def spec_for(pool: PoolConfig, ws: Workspace) -> ContainerSpec:
    return ContainerSpec(
        name=ws.container,
        image=pool.image,
        volume=ws.volume,
        mount=HOME,
        command=("/usr/sbin/sshd", "-D", "-e", "-f", f"{KEYS_IN}/sshd_config"),
        cpus=pool.cpus,
        memory=pool.memory,
        labels={"fleet.workspace": ws.name, "fleet.pool": pool.name},
        tmpfs=("/run/sshd:rw,mode=0755",),
        keys_in=KEYS_IN,
        pool=pool.name,
    )


async def git(*args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        "git", *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    if proc.returncode != 0:
        lines = err.decode("utf-8", "replace").strip().splitlines()
        raise FleetError(said(lines[-1] if lines else f"git exited {proc.returncode}", 300))
    return out.decode("utf-8", "replace")


async def local_repo(path: str) -> Path:
    """The local repository a workspace is made from: checked before anything is made."""
    where = Path(path).expanduser()
    try:
        top = (await git("-C", str(where), "rev-parse", "--show-toplevel")).strip()
        await git("-C", top, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    except FileNotFoundError:
        raise FleetError("git is not installed on this machine") from None
    except FleetError as exc:
        raise UsageError(
            f"{path} is not a git repository with a commit on this machine ({exc}); "
            "--repo with --pool names a local repository, sent into the workspace"
        ) from None
    return Path(top)


def clone_dir(repo: Path) -> str:
    """Where the clone goes in the workspace's home: the repository's own name if it is a
    plain one, else "repo"."""
    return repo.name if _DIR_RE.fullmatch(repo.name) else "repo"


async def wait_ssh(link: HostLink, timeout: float = SSH_WAIT) -> None:
    """Connect, retrying until sshd answers or the deadline; the last reason if it never does."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await link.connection()
            return
        except HostSetupError:
            raise  # the way to it is refused (a host that forwards nothing): waiting won't help
        except HostError as exc:
            if time.monotonic() > deadline:
                raise FleetError(
                    f"sshd in the workspace did not answer within {timeout:g} s: {exc.reason}"
                ) from None
        await asyncio.sleep(0.25)


async def bring_repo(link: HostLink, repo: Path, into: str) -> None:
    """Bundle every ref of the local repository, send it over SFTP, clone it in the workspace."""
    fd, name = tempfile.mkstemp(prefix="fleet-", suffix=".bundle")
    os.close(fd)
    bundle = Path(name)
    try:
        await git("-C", str(repo), "bundle", "create", "--quiet", str(bundle), "--all")
        async with link.channel() as conn, conn.start_sftp_client() as sftp:
            await sftp.put(str(bundle), BUNDLE)
        # A fixed command line: the directory name is checked (_DIR_RE), nothing else varies.
        command = shlex.join(["git", "clone", "--quiet", "--", BUNDLE, into])
        command += " && " + shlex.join(["rm", "-f", "--", BUNDLE])
        async with link.channel() as conn:
            result = await conn.run(command, check=False)
        if result.exit_status != 0:
            raise FleetError(f"git clone in the workspace failed: {said(result.stderr, 300)}")
    finally:
        with contextlib.suppress(OSError):
            bundle.unlink()


__all__ = [
    "EngineError",
    "bring_repo",
    "clone_dir",
    "engine_for",
    "git",
    "local_repo",
    "spec_for",
    "wait_ssh",
]
