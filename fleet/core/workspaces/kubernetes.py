"""Kubernetes: a pod per workspace, from fleet's template or the person's (a JSON pod manifest
whose string values may hold {name}, {pool}, {image}, {cpus}, {memory}), with a
PersistentVolumeClaim for its home (the worktree outlives the pod's restarts) and a Secret of
the sshd keys fleet made for it. fleet reaches the pod's sshd through `kubectl exec` as the
ProxyCommand: no Service, no open port; the stream is carried by the image's own python3 (the
images need it anyway), so neither nc nor socat is required.

Everything goes through kubectl's command line (argv lists; manifests on stdin as JSON).
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

from ..config.poolengines import KubernetesPool
from ..textsafe import said
from .argv import run
from .engine import ContainerSpec, Engine, EngineError, Reach

READY_TIMEOUT = 300  # seconds kubectl waits for the pod (pulling an image takes a while)
CONTAINER = "workspace"  # the container's name in fleet's own template
_RELAY = """\
import os, socket, sys, threading
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
def up():
    while True:
        b = os.read(0, 65536)
        if not b:
            break
        s.sendall(b)
    s.shutdown(socket.SHUT_WR)
threading.Thread(target=up, daemon=True).start()
while True:
    b = s.recv(65536)
    if not b:
        break
    while b:
        b = b[os.write(1, b):]
"""
# One line (an ssh config line), nothing to quote: the relay's code as base64.
_RELAY_B64 = base64.b64encode(_RELAY.encode()).decode("ascii")
RELAY_CODE = f"import base64;exec(base64.b64decode('{_RELAY_B64}'))"

_PHASES = {"Running": "running", "Pending": "starting", "Succeeded": "exited", "Failed": "exited"}


def default_template() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "{name}"},
        "spec": {
            "restartPolicy": "Always",
            "containers": [{"name": CONTAINER, "image": "{image}"}],
        },
    }


def _fill(value: Any, values: dict[str, str]) -> Any:
    """Placeholders replaced inside each string value (never in keys, never re-parsed)."""
    if isinstance(value, str):
        for key, sub in values.items():
            value = value.replace("{" + key + "}", sub)
        return value
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    return value


def quantity(memory: str) -> str:
    """A pool's memory ("4g", "512m", "100b") as Kubernetes writes it ("4Gi", "512Mi", "100")."""
    unit = memory[-1].lower()
    if unit in "kmg":
        return memory[:-1] + unit.upper() + "i"
    return memory.rstrip("bB")


class KubernetesEngine(Engine):
    noun = "pod"

    def __init__(self, settings: KubernetesPool, program: str = "kubectl") -> None:
        self.name = "kubernetes"
        self.program = program
        self.settings = settings

    def _argv(self, *args: str) -> list[str]:
        argv = [self.program]
        if self.settings.context:
            argv += ["--context", self.settings.context]
        return [*argv, "--namespace", self.settings.namespace, *args]

    async def version(self) -> str:
        out = await run("engine version", [self.program, "version", "--client", "-o", "json"])
        try:
            found = json.loads(out)["clientVersion"]["gitVersion"]
        except (ValueError, KeyError, TypeError):
            raise EngineError("engine version", f"kubectl said {said(out, 120)}") from None
        return said(str(found), 40)

    def template(self) -> dict[str, Any]:
        path = self.settings.manifest
        if path is None:
            return default_template()
        try:
            loaded = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise EngineError("read the pod template", f"{path}: {exc}") from None
        if not isinstance(loaded, dict) or loaded.get("kind") != "Pod":
            raise EngineError("read the pod template", f"{path} is not a JSON Pod manifest")
        containers = loaded.get("spec", {}).get("containers")
        if (
            not isinstance(containers, list)
            or not containers
            or not isinstance(containers[0], dict)
        ):
            raise EngineError("read the pod template", f"{path} has no spec.containers")
        return loaded

    def manifests(self, spec: ContainerSpec, keys: Path) -> dict[str, Any]:
        """The Secret, the claim and the pod fleet applies for one workspace, as one List."""
        values = {
            "name": spec.name,
            "pool": spec.pool,
            "image": spec.image,
            "cpus": "" if spec.cpus is None else f"{spec.cpus:g}",
            "memory": spec.memory or "",
        }
        labels = {k.replace("fleet.", "fleet.dev/"): v for k, v in spec.labels.items()}
        meta = {"name": spec.name, "namespace": self.settings.namespace, "labels": labels}
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {**meta, "name": f"{spec.name}-keys"},
            "type": "Opaque",
            "data": {
                f.name: base64.b64encode(f.read_bytes()).decode("ascii")
                for f in sorted(keys.iterdir())
                if f.is_file()
            },
        }
        claim: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {**meta, "name": spec.volume},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": self.settings.storage}},
            },
        }
        if self.settings.storage_class:
            claim["spec"]["storageClassName"] = self.settings.storage_class
        return {"apiVersion": "v1", "kind": "List",
                "items": [secret, claim, self._pod(spec, values, meta)]}  # fmt: skip

    def _pod(self, spec: ContainerSpec, values: dict[str, str], meta: dict[str, Any]) -> Any:
        pod = _fill(copy.deepcopy(self.template()), values)
        pod["metadata"] = {**pod.get("metadata", {}), **meta,
                           "labels": {**pod.get("metadata", {}).get("labels", {}),
                                      **meta["labels"]}}  # fmt: skip
        body = pod["spec"]
        first = body["containers"][0]
        first["image"] = first.get("image") or spec.image
        first["command"] = list(spec.command)  # no entrypoint assumed: fleet says what runs
        first.pop("args", None)
        limits = {}
        if spec.cpus is not None:
            limits["cpu"] = f"{spec.cpus:g}"
        if spec.memory:
            limits["memory"] = quantity(spec.memory)
        if limits:
            first.setdefault("resources", {})["limits"] = limits
        mounts = [m for m in first.get("volumeMounts", []) if not m["name"].startswith("fleet-")]
        first["volumeMounts"] = [
            *mounts,
            {"name": "fleet-home", "mountPath": spec.mount},
            {"name": "fleet-keys", "mountPath": spec.keys_in, "readOnly": True},
            {"name": "fleet-run-sshd", "mountPath": "/run/sshd"},
        ]
        volumes = [v for v in body.get("volumes", []) if not v["name"].startswith("fleet-")]
        body["volumes"] = [
            *volumes,
            {"name": "fleet-home", "persistentVolumeClaim": {"claimName": spec.volume}},
            {"name": "fleet-keys", "secret": {"secretName": f"{spec.name}-keys",
                                              "defaultMode": 0o400}},
            {"name": "fleet-run-sshd", "emptyDir": {"medium": "Memory"}},
        ]  # fmt: skip
        return pod

    async def make(self, spec: ContainerSpec, keys: Path) -> Reach:
        listing = json.dumps(self.manifests(spec, keys)).encode()
        await run("apply the pod", self._argv("apply", "-f", "-"), stdin=listing)
        await self.start(spec.name)
        return await self.reach(spec.name)

    async def start(self, name: str) -> None:
        # A pod's containers restart by themselves (restartPolicy Always): wait for it.
        await run(
            "wait for the pod",
            self._argv("wait", "--for=condition=Ready", f"pod/{name}",
                       f"--timeout={READY_TIMEOUT}s"),
            timeout=READY_TIMEOUT + 30,
        )  # fmt: skip

    async def reach(self, name: str) -> Reach:
        container = str(self.template()["spec"]["containers"][0].get("name") or CONTAINER)
        proxy = self._argv("exec", "-i", name, "-c", container, "--",
                           "python3", "-c", RELAY_CODE, "22")  # fmt: skip
        return Reach(hostname=name, port=22, proxy=tuple(proxy))

    async def state(self, name: str) -> str | None:
        try:
            out = await run(
                "read the pod's phase",
                self._argv("get", f"pod/{name}", "-o", "jsonpath={.status.phase}"),
            )
        except EngineError as exc:
            if "notfound" in exc.reason.lower().replace(" ", ""):
                return None
            raise
        return _PHASES.get(out.strip(), said(out.strip().lower(), 40) or "unknown")

    async def remove(self, name: str, volume: str) -> None:
        await run(
            "remove the pod, its claim and its keys",
            self._argv("delete", f"pod/{name}", f"persistentvolumeclaim/{volume}",
                       f"secret/{name}-keys", "--ignore-not-found", "--wait=false"),
        )  # fmt: skip
