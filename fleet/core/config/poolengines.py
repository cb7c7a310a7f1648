"""The keys of a pool that only one kind of engine takes:

    [pools.k8s]                       [pools.coder]
    engine = "kubernetes"             engine = "command"
    image = "registry/ws:1"           create = ["coder", "create", "{name}", "--yes", ...]
    namespace = "fleet"               destroy = ["coder", "delete", "{name}", "--yes"]
    context = "prod"                  ssh_config = ["coder", "config-ssh", "--dry-run", ...]
    storage = "10Gi"                  host_key = ["coder", "ssh", ...]      (optional)
                                      state = ["coder", "show", "{name}"]   (optional)
    storage_class = "fast"
    manifest = "~/fleet/pod.json"

A command is an argv list, never a shell line: each placeholder ({name}, {pool}, {image},
{cpus}, {memory}) is replaced inside the one argument it is in, so no value can split into
more arguments or reach a shell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from fleet.core.config.locate import KeyPath

if TYPE_CHECKING:
    from fleet.core.config.loader import _Loader

KUBERNETES_KEYS: Final = ("namespace", "context", "storage", "storage_class", "manifest")
COMMAND_KEYS: Final = ("create", "destroy", "ssh_config", "host_key", "state")
PLACEHOLDERS: Final = ("name", "pool", "image", "cpus", "memory")
MAX_ARGS: Final = 100
_DNS_LABEL: Final = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_QUANTITY: Final = re.compile(r"[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?")
_CONTEXT: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,252}")
_PLACEHOLDER: Final = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class KubernetesPool:
    namespace: str = "default"
    context: str | None = None  # kubectl --context; None: the current one
    storage: str = "10Gi"  # the PersistentVolumeClaim's size
    storage_class: str | None = None  # None: the cluster's default class
    manifest: Path | None = None  # a JSON pod template of the person's; None: fleet's


@dataclass(frozen=True)
class CommandPool:
    create: tuple[str, ...]
    destroy: tuple[str, ...]
    ssh_config: tuple[str, ...]  # prints an OpenSSH config block for the workspace
    host_key: tuple[str, ...] = ()  # prints the workspace's public host key (optional)
    state: tuple[str, ...] = ()  # prints its state, exits non-zero once it is gone (optional)


def kubernetes_pool(loader: _Loader, key: KeyPath, pool: dict[str, object]) -> KubernetesPool:
    name = key[-1]
    if not isinstance(name, str) or not _DNS_LABEL.fullmatch(name):
        raise loader.fail(
            key,
            "a kubernetes pool's name names pods and claims: lowercase letters, digits and "
            "'-' only, starting and ending with a letter or digit",
        )
    namespace = pool.get("namespace", "default")
    if not isinstance(namespace, str) or not _DNS_LABEL.fullmatch(namespace):
        raise loader.expected((*key, "namespace"), 'a namespace name like "fleet"', namespace)
    context = pool.get("context")
    if context is not None and (not isinstance(context, str) or not _CONTEXT.fullmatch(context)):
        raise loader.expected((*key, "context"), "a kubeconfig context name", context)
    storage = pool.get("storage", "10Gi")
    if not isinstance(storage, str) or not _QUANTITY.fullmatch(storage):
        raise loader.expected((*key, "storage"), 'a size like "10Gi"', storage)
    klass = pool.get("storage_class")
    if klass is not None and (not isinstance(klass, str) or not _DNS_LABEL.fullmatch(klass)):
        raise loader.expected((*key, "storage_class"), "a storage class name", klass)
    manifest = pool.get("manifest")
    if manifest is not None and (not isinstance(manifest, str) or not manifest.strip()):
        raise loader.expected((*key, "manifest"), "the path of a JSON pod template", manifest)
    return KubernetesPool(
        namespace=namespace,
        context=context,
        storage=storage,
        storage_class=klass,
        manifest=Path(manifest).expanduser() if isinstance(manifest, str) else None,
    )


def command_pool(loader: _Loader, key: KeyPath, pool: dict[str, object]) -> CommandPool:
    argvs: dict[str, tuple[str, ...]] = {}
    for needed in ("create", "destroy", "ssh_config"):
        if needed not in pool:
            raise loader.fail(
                key,
                f"{needed} is missing: a command engine needs create, destroy and ssh_config, "
                'each an argv list like ["devpod", "up", "{name}"] (see examples/fleet.toml)',
            )
        argvs[needed] = _argv(loader, (*key, needed), pool[needed])
    for optional in ("host_key", "state"):
        if optional in pool:
            argvs[optional] = _argv(loader, (*key, optional), pool[optional])
    return CommandPool(**argvs)


def _argv(loader: _Loader, key: KeyPath, value: object) -> tuple[str, ...]:
    what = 'an argv list of strings like ["devpod", "up", "{name}"] (no shell line)'
    if (
        not isinstance(value, list)
        or not value
        or len(value) > MAX_ARGS
        or not all(isinstance(a, str) and "\0" not in a for a in value)
        or not value[0].strip()
    ):
        raise loader.expected(key, what, value)
    for arg in value:
        for found in _PLACEHOLDER.findall(arg):
            if found not in PLACEHOLDERS:
                known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
                raise loader.fail(key, f"unknown placeholder {{{found}}} (known: {known})")
    return tuple(value)


def substitute(argv: tuple[str, ...], values: dict[str, str]) -> list[str]:
    """Each placeholder replaced inside its own argument: a value never splits an argument
    nor starts a new one."""
    return [_PLACEHOLDER.sub(lambda m: values.get(m[1], m[0]), arg) for arg in argv]


__all__ = ["CommandPool", "KubernetesPool", "command_pool", "kubernetes_pool", "substitute"]
