"""[pools.NAME] in fleet.toml: what loads, and every error naming the file, the line and what
was expected. Also the workspace records that turn a made workspace into a fleet host."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleet.core.config import ConfigError, load_config
from fleet.core.workspaces import records
from tests.unit.test_config import error_for, write


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    return {"HOME": str(home), "FLEET_HOME": str(tmp_path / "state")}


def test_a_pool_loads_with_every_key(tmp_path: Path, env: dict[str, str]) -> None:
    path = write(
        tmp_path,
        """
        [hosts.alpha]
        ssh = "alpha"

        [pools.ws]
        engine = "podman"
        image = "localhost/ws:1"
        cpus = 1.5
        memory = "4G"
        host = "alpha"
        remove = "after-land"
        idle_ttl = "8h"

        [pools.dk]
        engine = "docker"
        image = "registry.example.com/team/ws@sha256:abc"
        idle_ttl = 90
        """,
    )
    config = load_config(path, env=env)
    ws, dk = config.pools["ws"], config.pools["dk"]
    assert (ws.engine, ws.image, ws.cpus, ws.memory) == ("podman", "localhost/ws:1", 1.5, "4g")
    assert (ws.host, ws.remove, ws.idle_ttl, ws.line) == ("alpha", "after-land", 8 * 3600.0, 4)
    assert (dk.engine, dk.cpus, dk.memory, dk.host, dk.remove) == (
        "docker",
        None,
        None,
        None,
        "manual",
    )
    assert dk.idle_ttl == 90.0


OK = 'engine = "podman"\nimage = "x"\n'  # lines 3 and 4; a key after them is on line 5
POOL_ERRORS = [
    ('engine = "podman"', 2, 'pools.p: image is missing: say image = "localhost/ws:1"'),
    ('image = "x"', 2, 'pools.p: engine is missing: say engine = "podman" (or "docker")'),
    ('engine = "kubernetes"', 2, "pools.p: image is missing"),
    ('engine = "command"', 2, "pools.p: create is missing: a command engine needs create"),
    (OK + 'namespace = "x"', 5, 'unknown key "namespace" in [pools.p]'),
    ('engine = "kubernetes"\nimage = "x"\nnamespace = "Bad_NS"', 5, "pools.p.namespace: expected"),
    ('engine = "kubernetes"\nimage = "x"\nstorage = "lots"', 5, 'expected a size like "10Gi"'),
    ('engine = "kubernetes"\nimage = "x"\nhost = "a"', 5, 'unknown key "host" in [pools.p]'),
    ('engine = "command"\ncreate = "make it"', 4, "pools.p.create: expected an argv list"),
    ('engine = "command"\ncreate = []', 4, "pools.p.create: expected an argv list"),
    ('engine = "command"\ncreate = ["up", "{nmae}"]', 4, "unknown placeholder {nmae} (known:"),
    ('engine = "lxc"', 3, 'expected one of "podman", "docker", "kubernetes", "command"'),
    ('engine = "podman"\nimage = "--privileged"', 4, "pools.p.image: expected an image name"),
    ('engine = "podman"\nimage = "a b"', 4, "pools.p.image: expected an image name"),
    (OK + "cpus = 0", 5, "pools.p.cpus: expected a number of CPUs > 0"),
    (OK + "cpus = true", 5, "pools.p.cpus: expected a number of CPUs > 0"),
    (OK + "memory = 4", 5, 'pools.p.memory: expected a size like "4g"'),
    (OK + 'memory = "4 gb"', 5, 'pools.p.memory: expected a size like "4g"'),
    (OK + 'memory = "0m"', 5, 'pools.p.memory: expected a size like "4g"'),
    (OK + 'host = "nope"', 5, "pools.p.host: expected the name of a [hosts.NAME] (none"),
    (OK + 'remove = "never"', 5, 'pools.p.remove: expected "manual" or "after-land"'),
    (OK + 'idle_ttl = "8 hours"', 5, 'pools.p.idle_ttl: expected a duration like "30m"'),
    (OK + "idle_ttl = 0", 5, "pools.p.idle_ttl: expected a duration > 0"),
    (OK + 'idle_ttl = "400d"', 5, "pools.p.idle_ttl: expected a duration > 0 and at most a"),
    (OK + "cpu = 2", 5, 'unknown key "cpu" in [pools.p] (expected one of: engine, image'),
]


@pytest.mark.parametrize(("body", "line", "message"), POOL_ERRORS)
def test_pool_errors_name_the_line(
    tmp_path: Path, env: dict[str, str], body: str, line: int, message: str
) -> None:
    err = error_for(tmp_path, env, "# pools\n[pools.p]\n" + body + "\n")
    assert err.line == line, str(err)
    assert message in err.message, err.message


def test_kubernetes_and_command_pools_load(tmp_path: Path, env: dict[str, str]) -> None:
    path = write(
        tmp_path,
        """
        [pools.k8s]
        engine = "kubernetes"
        image = "registry.example.com/ws:1"
        namespace = "fleet"
        context = "prod"
        storage = "20Gi"
        storage_class = "fast-ssd"
        manifest = "~/pod.json"
        cpus = 2

        [pools.devpod]
        engine = "command"
        create = ["devpod", "up", "{name}", "--ide", "none", "--source", "git:{image}"]
        destroy = ["devpod", "delete", "{name}", "--force"]
        ssh_config = ["devpod", "ssh", "{name}", "--print-config"]
        """,
    )
    config = load_config(path, env=env)
    k8s, cmd = config.pools["k8s"].kubernetes, config.pools["devpod"].command
    assert k8s is not None and cmd is not None
    assert (k8s.namespace, k8s.context, k8s.storage, k8s.storage_class) == (
        "fleet", "prod", "20Gi", "fast-ssd",
    )  # fmt: skip
    assert k8s.manifest == Path(env["HOME"]) / "pod.json" or str(k8s.manifest).endswith("pod.json")
    assert cmd.create[:3] == ("devpod", "up", "{name}") and cmd.state == ()
    assert config.pools["devpod"].image == ""
    err = error_for(tmp_path, env, '[pools.Big_K8s]\nengine = "kubernetes"\nimage = "x"\n')
    assert "names pods and claims" in err.message


def test_a_bad_pool_name_or_table(tmp_path: Path, env: dict[str, str]) -> None:
    err = error_for(tmp_path, env, '[pools."a/b"]\nengine = "podman"\n')
    assert err.line == 1 and 'invalid pool name "a/b"' in err.message
    err = error_for(tmp_path, env, 'pools = "x"\n')
    assert err.line == 1 and "pools: expected a table of pools" in err.message


def _workspace(env: dict[str, str], port: int = 2222) -> records.Workspace:
    ws = records.Workspace(
        name="ws-abc123", pool="ws", engine="podman", container="fleet-ws-abc123",
        volume="fleet-ws-abc123", image="localhost/ws:1", repo="/src/app", created=1.0,
    )  # fmt: skip
    records.prepare(ws, env)
    ws.port = port
    records.save(ws, env)
    records.write_ssh_config(ws, env)
    return ws


def test_a_workspace_becomes_a_host_with_its_own_keys(tmp_path: Path, env: dict[str, str]) -> None:
    config = load_config(write(tmp_path, '[hosts.alpha]\nssh = "alpha"\n'), env=env)
    assert records.with_workspaces(config, env) is config  # none made: the same config
    ws = _workspace(env)
    merged = records.with_workspaces(config, env)
    host = merged.hosts["ws-abc123"]
    assert (host.ssh, host.pool) == ("ws-abc123", "ws") and "alpha" in merged.hosts
    where = records.directory(ws.name, env)
    for name in ("id_ed25519", "host_key", "known_hosts", "ssh_config", "workspace.json"):
        assert (where / name).stat().st_mode & 0o777 == 0o600, name
    ssh_config = (where / "ssh_config").read_text()
    assert "Port 2222" in ssh_config and "HostKeyAlias ws-abc123" in ssh_config
    assert "StrictHostKeyChecking yes" in ssh_config
    # The known key is the host key fleet made, under the alias: nothing else is trusted.
    host_pub = (where / "host_key.pub").read_text().split()[:2]
    assert (where / "known_hosts").read_text().split()[:3] == ["ws-abc123", *host_pub]
    copied = where / "into"
    assert (copied / "authorized_keys").read_text() == (where / "id_ed25519.pub").read_text()
    assert json.loads((where / "workspace.json").read_text())["port"] == 2222


def test_a_damaged_workspace_record_is_left_out(tmp_path: Path, env: dict[str, str]) -> None:
    ws = _workspace(env)
    (records.directory(ws.name, env) / "workspace.json").write_text("{not json")
    assert records.load_all(env) == []


def test_a_configured_host_wins_over_a_workspace_of_its_name(
    tmp_path: Path, env: dict[str, str]
) -> None:
    _workspace(env)
    config = load_config(write(tmp_path, '[hosts.ws-abc123]\nssh = "mine"\n'), env=env)
    assert records.with_workspaces(config, env).hosts["ws-abc123"].ssh == "mine"


def test_load_config_error_type(tmp_path: Path, env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        load_config(write(tmp_path, '[pools.p]\nengine = "podman"\n'), env=env)
