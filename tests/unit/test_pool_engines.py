"""The kubernetes and command engines: the manifests and argv fleet generates, the relay that
carries ssh through `kubectl exec` (run for real against a local TCP server), the ssh config a
command engine prints, and a fake kubectl on PATH that records its argv and stdin (faked at
its wire: no cluster reaches this machine)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from fleet.core.config.poolengines import KubernetesPool, substitute
from fleet.core.workspaces.command import host_key, parse_ssh_config
from fleet.core.workspaces.engine import ContainerSpec, EngineError
from fleet.core.workspaces.kubernetes import RELAY_CODE, KubernetesEngine, quantity


def spec(**kw: object) -> ContainerSpec:
    base: dict[str, object] = dict(
        name="fleet-k8s-abc123", image="registry.example.com/ws:1", volume="fleet-k8s-abc123",
        mount="/root", command=("/usr/sbin/sshd", "-D", "-e", "-f", "/etc/fleet-ws/sshd_config"),
        cpus=2.0, memory="4g", labels={"fleet.workspace": "k8s-abc123", "fleet.pool": "k8s"},
        pool="k8s",
    )  # fmt: skip
    base.update(kw)
    return ContainerSpec(**base)  # type: ignore[arg-type]


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    into = tmp_path / "into"
    into.mkdir()
    (into / "host_key").write_text("PRIVATE HOST KEY\n")
    (into / "authorized_keys").write_text("ssh-ed25519 AAAA fleet\n")
    (into / "sshd_config").write_text("Port 22\n")
    return into


def test_the_default_manifests_a_secret_a_claim_and_a_pod(keys: Path) -> None:
    engine = KubernetesEngine(KubernetesPool(namespace="fleet", storage="20Gi",
                                             storage_class="fast"))  # fmt: skip
    listing = engine.manifests(spec(), keys)
    secret, claim, pod = listing["items"]
    assert [i["kind"] for i in listing["items"]] == ["Secret", "PersistentVolumeClaim", "Pod"]
    assert {i["metadata"]["namespace"] for i in listing["items"]} == {"fleet"}
    assert secret["metadata"]["name"] == "fleet-k8s-abc123-keys"
    assert base64.b64decode(secret["data"]["host_key"]) == b"PRIVATE HOST KEY\n"
    assert sorted(secret["data"]) == ["authorized_keys", "host_key", "sshd_config"]
    assert claim["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "20Gi"}},
        "storageClassName": "fast",
    }
    assert pod["metadata"]["name"] == "fleet-k8s-abc123"
    assert pod["metadata"]["labels"] == {"fleet.dev/workspace": "k8s-abc123",
                                         "fleet.dev/pool": "k8s"}  # fmt: skip
    box = pod["spec"]["containers"][0]
    assert box["image"] == "registry.example.com/ws:1"
    assert box["command"][:2] == ["/usr/sbin/sshd", "-D"]
    assert box["resources"]["limits"] == {"cpu": "2", "memory": "4Gi"}
    assert {m["mountPath"]: m["name"] for m in box["volumeMounts"]} == {
        "/root": "fleet-home", "/etc/fleet-workspace": "fleet-keys", "/run/sshd": "fleet-run-sshd",
    }  # fmt: skip
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["fleet-home"]["persistentVolumeClaim"] == {"claimName": "fleet-k8s-abc123"}
    assert volumes["fleet-keys"]["secret"]["defaultMode"] == 0o400


def test_a_template_of_the_persons_keeps_its_parts_and_gets_fleets(
    keys: Path, tmp_path: Path
) -> None:
    template = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "ignored", "labels": {"team": "infra"},
                     "annotations": {"owner": "{pool}/{name}"}},
        "spec": {
            "nodeSelector": {"gpu": "yes"},
            "containers": [{"name": "dev", "image": "", "args": ["--entry"],
                            "env": [{"name": "WS", "value": "{name} on {image}"}],
                            "volumeMounts": [{"name": "cache", "mountPath": "/cache"},
                                             {"name": "fleet-home", "mountPath": "/x"}]}],
            "volumes": [{"name": "cache", "emptyDir": {}}],
        },
    }  # fmt: skip
    path = tmp_path / "pod.json"
    path.write_text(json.dumps(template))
    engine = KubernetesEngine(KubernetesPool(manifest=path))
    pod = engine.manifests(spec(cpus=None, memory=None), keys)["items"][2]
    assert pod["metadata"]["name"] == "fleet-k8s-abc123"
    assert pod["metadata"]["labels"]["team"] == "infra"
    assert pod["metadata"]["annotations"]["owner"] == "k8s/fleet-k8s-abc123"
    assert pod["spec"]["nodeSelector"] == {"gpu": "yes"}
    box = pod["spec"]["containers"][0]
    assert box["env"] == [{"name": "WS", "value": "fleet-k8s-abc123 on registry.example.com/ws:1"}]
    assert box["image"] == "registry.example.com/ws:1" and "args" not in box
    assert "resources" not in box
    mounts = [(m["name"], m["mountPath"]) for m in box["volumeMounts"]]
    assert ("cache", "/cache") in mounts and ("fleet-home", "/root") in mounts
    assert ("fleet-home", "/x") not in mounts
    assert pod["spec"]["volumes"][0]["name"] == "cache"
    reach = asyncio.run(engine.reach("fleet-k8s-abc123"))
    assert reach.proxy[:6] == ("kubectl", "--namespace", "default", "exec", "-i",
                               "fleet-k8s-abc123")  # fmt: skip
    assert reach.proxy[6:10] == ("-c", "dev", "--", "python3")


def test_quantities() -> None:
    assert [quantity(m) for m in ("4g", "512m", "64k", "100b", "100")] == [
        "4Gi", "512Mi", "64Ki", "100", "100",
    ]  # fmt: skip


def test_the_relay_carries_a_stream_both_ways() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]

    def echo() -> None:
        conn, _ = server.accept()
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data.upper())

    threading.Thread(target=echo, daemon=True).start()
    payload = b"ssh-2.0-hello\n" * 10_000
    proc = subprocess.run(
        [sys.executable, "-c", RELAY_CODE, str(port)], input=payload, capture_output=True,
        timeout=30,
    )  # fmt: skip
    server.close()
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == payload.upper()
    assert "\n" not in RELAY_CODE and "'" not in RELAY_CODE.split("(", 2)[2][1:-3]


def test_placeholders_stay_inside_their_argument() -> None:
    argv = ("devpod", "up", "{name}", "--source=git:{image}", "{memory}")
    got = substitute(argv, {"name": "a b; rm -rf ~", "image": "x y", "memory": ""})
    assert got == ["devpod", "up", "a b; rm -rf ~", "--source=git:x y", ""]
    assert substitute(("{unknown}",), {}) == ["{unknown}"]


CODER_LIKE = """\
# ------------START-CODER-----------
Host coder.ws-1
  ConnectTimeout=0
  StrictHostKeyChecking=yes
  UserKnownHostsFile=~/.fleet-known
  User coder
  ProxyCommand /usr/bin/coder --global-config /home/me/.config/coderv2 ssh --stdio ws-1
Host coder.other
  HostName elsewhere
"""


def test_an_ssh_config_block_gives_what_reaching_it_needs() -> None:
    reach = parse_ssh_config(CODER_LIKE)
    assert reach.user == "coder" and reach.port == 22
    assert reach.proxy == ("/usr/bin/coder", "--global-config", "/home/me/.config/coderv2",
                           "ssh", "--stdio", "ws-1")  # fmt: skip
    assert reach.known_hosts == str(Path("~/.fleet-known").expanduser())
    plain = parse_ssh_config("HostName 10.0.0.5\nPort 2222\nUser dev\nIdentityFile ~/k\n")
    assert (plain.hostname, plain.port, plain.user, plain.proxy) == ("10.0.0.5", 2222, "dev", ())
    for bad, said in [("User x\n", "neither a HostName nor a ProxyCommand"),
                      ("HostName h\nPort 99999\n", "out of range"),
                      ("HostName h\nPort abc\n", "cannot read it")]:  # fmt: skip
        with pytest.raises(EngineError, match=said):
            parse_ssh_config(bad)
    assert host_key("noise\nssh-ed25519 " + "A" * 68 + " root@ws\n") == "ssh-ed25519 " + "A" * 68
    with pytest.raises(EngineError, match="no public host key"):
        host_key("ssh-ed25519 short\n")


FAKE_KUBECTL = """\
#!{python}
import json, os, sys
log = os.environ["FAKE_KUBECTL_LOG"]
stdin = sys.stdin.read() if "-f" in sys.argv else ""
with open(log, "a") as f:
    f.write(json.dumps({{"argv": sys.argv[1:], "stdin": stdin}}) + "\\n")
args = sys.argv[1:]
gone = os.path.exists(log + ".deleted")
if "version" in args:
    print(json.dumps({{"clientVersion": {{"gitVersion": "v1.31.0"}}}}))
elif "apply" in args:
    print("pod/x created")
elif "wait" in args:
    if os.environ.get("FAKE_KUBECTL_WAIT") == "fail":
        sys.exit("error: timed out waiting for the condition on pods/x")
    print("pod/x condition met")
elif "get" in args:
    if gone:
        sys.exit('Error from server (NotFound): pods "x" not found')
    print("Running", end="")
elif "delete" in args:
    open(log + ".deleted", "w").close()
    print("deleted")
else:
    sys.exit("fake kubectl: unexpected " + " ".join(args))
"""


@pytest.fixture
def kubectl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "kubectl"
    fake.write_text(FAKE_KUBECTL.format(python=sys.executable))
    fake.chmod(0o755)
    log = tmp_path / "kubectl.log"
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_KUBECTL_LOG", str(log))
    return log


def calls(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_kubectl_is_driven_by_argv_with_the_manifests_on_stdin(kubectl: Path, keys: Path) -> None:
    engine = KubernetesEngine(KubernetesPool(namespace="fleet", context="prod"))

    async def life() -> tuple[str, str | None, str | None]:
        version = await engine.version()
        await engine.make(spec(), keys)
        running = await engine.state("fleet-k8s-abc123")
        await engine.remove("fleet-k8s-abc123", "fleet-k8s-abc123")
        return version, running, await engine.state("fleet-k8s-abc123")

    assert asyncio.run(life()) == ("v1.31.0", "running", None)
    made = calls(kubectl)
    scope = ["--context", "prod", "--namespace", "fleet"]
    assert [c["argv"] for c in made] == [
        ["version", "--client", "-o", "json"],
        [*scope, "apply", "-f", "-"],
        [*scope, "wait", "--for=condition=Ready", "pod/fleet-k8s-abc123", "--timeout=300s"],
        [*scope, "get", "pod/fleet-k8s-abc123", "-o", "jsonpath={.status.phase}"],
        [*scope, "delete", "pod/fleet-k8s-abc123", "persistentvolumeclaim/fleet-k8s-abc123",
         "secret/fleet-k8s-abc123-keys", "--ignore-not-found", "--wait=false"],
        [*scope, "get", "pod/fleet-k8s-abc123", "-o", "jsonpath={.status.phase}"],
    ]  # fmt: skip
    applied = json.loads(str(made[1]["stdin"]))
    assert [i["kind"] for i in applied["items"]] == ["Secret", "PersistentVolumeClaim", "Pod"]


def test_fleet_new_on_kubernetes_that_never_gets_ready_leaves_nothing(
    kubectl: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "app"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@e",
                    "commit", "-q", "--allow-empty", "-m", "first"], check=True)  # fmt: skip
    config = tmp_path / "fleet.toml"
    config.write_text(textwrap.dedent("""\
        [ssh]
        config = ""
        [pools.k8s]
        engine = "kubernetes"
        image = "registry.example.com/ws:1"
        namespace = "fleet"
        """))  # fmt: skip
    env = os.environ | {"FLEET_CONFIG": str(config), "FLEET_HOME": str(tmp_path / "state"),
                        "FAKE_KUBECTL_WAIT": "fail"}  # fmt: skip
    made = subprocess.run(
        [sys.executable, "-m", "fleet", "new", "--pool", "k8s", "--repo", str(repo), "x"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert made.returncode == 1, made.stderr
    last = made.stderr.strip().splitlines()[-1]
    assert "make a kubernetes pod from registry.example.com/ws:1" in last, made.stderr
    assert "timed out waiting for the condition" in last and "Traceback" not in made.stderr
    argvs = [c["argv"] for c in calls(kubectl)]
    assert argvs[-1][2] == "delete", argvs  # what was applied is deleted again
    assert list((tmp_path / "state" / "workspaces").glob("k8s-*")) == []
