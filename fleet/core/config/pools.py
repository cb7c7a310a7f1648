"""``[pools.NAME]``: where fleet makes a workspace per task, and from what.

    [pools.ws]
    engine = "podman"           # or "docker" (the same command line), "kubernetes", "command"
    image = "localhost/ws:1"    # any image with sshd, tmux, git and python3
    cpus = 2
    memory = "4g"
    remove = "after-land"       # or "manual" (the default): `fleet rm SESSION`
    idle_ttl = "8h"             # reaped after idle (or stopped) that long, after a notice

The kubernetes and command engines' own keys: poolengines.py.
Values end up as arguments of the engine's command line: nothing here may start with "-" or
hold a space, so no value can pass for an option of the engine.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from fleet.core.config.locate import KeyPath, format_key
from fleet.core.config.model import MAX_SECONDS, NAME_RULE, HostConfig, describe
from fleet.core.config.poolengines import (
    COMMAND_KEYS,
    KUBERNETES_KEYS,
    CommandPool,
    KubernetesPool,
    command_pool,
    kubernetes_pool,
)

if TYPE_CHECKING:
    from fleet.core.config.loader import _Loader

COMMON_KEYS: Final = ("engine", "image", "cpus", "memory", "remove", "idle_ttl")
CONTAINER_ENGINES: Final = ("podman", "docker")
ENGINES: Final = (*CONTAINER_ENGINES, "kubernetes", "command")
ENGINE_KEYS: Final = {
    "podman": (*COMMON_KEYS, "host"),
    "docker": (*COMMON_KEYS, "host"),
    "kubernetes": (*COMMON_KEYS, *KUBERNETES_KEYS),
    "command": (*COMMON_KEYS, *COMMAND_KEYS),
}
POOL_KEYS: Final = tuple(dict.fromkeys(k for keys in ENGINE_KEYS.values() for k in keys))
REMOVE_MODES: Final = ("manual", "after-land")
MAX_CPUS: Final = 1024
# Pool names become part of workspace host names (POOL-xxxxxx) and container names.
POOL_NAME_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
_IMAGE_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@+-]{0,254}")
_MEMORY_RE: Final = re.compile(r"([0-9]+)([bkmg]?)", re.IGNORECASE)
_DURATION_RE: Final = re.compile(r"([0-9]+)([smhd])")
_UNIT_SECONDS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class PoolConfig:
    name: str
    engine: str  # one of ENGINES
    image: str  # "" for a command engine that names none
    cpus: float | None = None  # None: the engine's default (no limit)
    memory: str | None = None  # like "4g"; None: no limit
    host: str | None = None  # a [hosts.NAME] to run the engine on; None: this machine
    remove: str = "manual"  # one of REMOVE_MODES
    idle_ttl: float | None = None  # seconds; None: never reaped
    line: int = 0  # where [pools.NAME] is defined
    kubernetes: KubernetesPool | None = None  # engine = "kubernetes"
    command: CommandPool | None = None  # engine = "command"


def parse_pools(
    loader: _Loader, value: object, hosts: dict[str, HostConfig]
) -> dict[str, PoolConfig]:
    key: KeyPath = ("pools",)
    table = loader.table(key, value, 'a table of pools like [pools.ws] with engine = "podman"')
    pools: dict[str, PoolConfig] = {}
    for name, entry in table.items():
        pool_key: KeyPath = (*key, name)
        if not POOL_NAME_RE.fullmatch(name):
            raise loader.fail(
                pool_key,
                f"invalid pool name {describe(name)}: expected {NAME_RULE} but at most 40 "
                "characters (a workspace is named POOL-xxxxxx)",
            )
        shown = format_key(pool_key)
        pool = loader.table(pool_key, entry, f'a table [{shown}] with engine = "podman"')
        engine = pool.get("engine")
        loader.check_keys(pool_key, pool, ENGINE_KEYS.get(str(engine), POOL_KEYS))
        pools[name] = _pool(loader, pool_key, pool, hosts)
    return pools


def _pool(
    loader: _Loader, key: KeyPath, pool: dict[str, object], hosts: dict[str, HostConfig]
) -> PoolConfig:
    engine = pool.get("engine")
    if engine is None:
        raise loader.fail(key, 'engine is missing: say engine = "podman" (or "docker")')
    if engine not in ENGINES:
        allowed = ", ".join(f'"{e}"' for e in ENGINES)
        raise loader.expected((*key, "engine"), f"one of {allowed}", engine)
    image = pool.get("image", "" if engine == "command" else None)
    if image is None:
        raise loader.fail(key, 'image is missing: say image = "localhost/ws:1" (see examples/)')
    if not isinstance(image, str) or (image and not _IMAGE_RE.fullmatch(image)):
        raise loader.expected((*key, "image"), 'an image name like "localhost/ws:1"', image)
    host = pool.get("host")
    if host is not None and (not isinstance(host, str) or host not in hosts):
        known = ", ".join(sorted(hosts)) or "none configured"
        raise loader.expected((*key, "host"), f"the name of a [hosts.NAME] ({known})", host)
    remove = pool.get("remove", "manual")
    if remove not in REMOVE_MODES:
        raise loader.expected((*key, "remove"), " or ".join(f'"{m}"' for m in REMOVE_MODES), remove)
    return PoolConfig(
        name=key[-1] if isinstance(key[-1], str) else "",
        engine=str(engine),
        image=image,
        cpus=_cpus(loader, (*key, "cpus"), pool["cpus"]) if "cpus" in pool else None,
        memory=_memory(loader, (*key, "memory"), pool["memory"]) if "memory" in pool else None,
        host=host,
        remove=str(remove),
        idle_ttl=_ttl(loader, (*key, "idle_ttl"), pool["idle_ttl"]) if "idle_ttl" in pool else None,
        line=loader.locator.line_of(key) or 0,
        kubernetes=kubernetes_pool(loader, key, pool) if engine == "kubernetes" else None,
        command=command_pool(loader, key, pool) if engine == "command" else None,
    )


def _cpus(loader: _Loader, key: KeyPath, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 < value <= MAX_CPUS
    ):
        raise loader.expected(
            key, f"a number of CPUs > 0 and at most {MAX_CPUS}, like 2 or 0.5", value
        )
    return float(value)


def _memory(loader: _Loader, key: KeyPath, value: object) -> str:
    if not isinstance(value, str) or not (m := _MEMORY_RE.fullmatch(value)) or int(m[1]) == 0:
        raise loader.expected(key, 'a size like "4g", "512m" (b, k, m or g)', value)
    return value.lower()


def _ttl(loader: _Loader, key: KeyPath, value: object) -> float:
    """A duration: seconds as a number, or "30m", "8h", "2d"."""
    if isinstance(value, str):
        m = _DURATION_RE.fullmatch(value)
        if not m:
            raise loader.expected(key, 'a duration like "30m", "8h" or "2d" (or seconds)', value)
        seconds: float = int(m[1]) * _UNIT_SECONDS[m[2]]
    elif isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        seconds = value
    else:
        raise loader.expected(key, 'a duration like "30m", "8h" or "2d" (or seconds)', value)
    if not 0 < seconds <= 365 * MAX_SECONDS:
        raise loader.expected(key, "a duration > 0 and at most a year", value)
    return float(seconds)
