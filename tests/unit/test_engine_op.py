"""The helper's `engine` op (a pool's podman/docker on a fleet host): argv only, bounded, the
workspace's files in a private directory that is gone once the command ended; and the
laptop's side of it: the answer checked once, the ssh alias through the host."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from fleet.core.errors import RemoteError
from fleet.core.remote import untrusted
from fleet.core.remote.hostside import engine
from fleet.core.remote.hostside.layout import HelperError
from fleet.core.workspaces import records

FAKE = f"""#!{sys.executable}
import json, os, stat, sys
args = sys.argv[1:]
seen = {{}}
for a in args:
    if os.path.isdir(a):
        seen[a] = {{"mode": stat.S_IMODE(os.stat(a).st_mode), "files": {{
            n: [stat.S_IMODE(os.stat(os.path.join(a, n)).st_mode),
                open(os.path.join(a, n)).read()] for n in sorted(os.listdir(a))}}}}
print(json.dumps({{"args": args, "dirs": seen}}))
print("said on stderr", file=sys.stderr)
sys.exit(int(os.environ.get("FAKE_EXIT", "0")))
"""


@pytest.fixture
def fake_podman(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    program = bin_dir / "podman"
    program.write_text(FAKE)
    program.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    base = tmp_path / "fleet-base"
    base.mkdir(mode=0o700)
    monkeypatch.setattr(engine, "BASE", str(base))
    monkeypatch.setattr(engine, "ensure_dirs", lambda: None)
    return base


def test_the_engine_gets_its_arguments_as_given_never_through_a_shell(
    fake_podman: Path, tmp_path: Path
) -> None:
    hostile = ["ps", "$(touch pwned)", "`touch pwned`; rm -rf ~", "a b", "--"]
    said = engine.op_engine({"program": "podman", "args": hostile, "timeout": 10})
    assert said["code"] == 0
    assert json.loads(said["out"])["args"] == hostile
    assert "said on stderr" in said["err"]
    assert not list(tmp_path.rglob("pwned")) and not (Path.home() / "pwned").exists()


def test_files_are_private_while_the_engine_reads_them_and_gone_after(fake_podman: Path) -> None:
    files = {"host_key": "PRIVATE", "authorized_keys": "ssh-ed25519 AAAA"}
    args = ["cp", "--", engine.FILES, "ctr:/etc/fleet-workspace"]
    said = engine.op_engine({"program": "podman", "args": args, "files": files})
    seen = json.loads(said["out"])
    where = seen["args"][2]
    assert where.startswith(str(fake_podman)) and seen["args"][3] == "ctr:/etc/fleet-workspace"
    assert seen["dirs"][where] == {
        "mode": 0o700,
        "files": {"authorized_keys": [0o600, "ssh-ed25519 AAAA"], "host_key": [0o600, "PRIVATE"]},
    }
    assert not os.path.exists(where) and os.listdir(fake_podman) == []


def test_a_failing_engine_still_removes_the_files(
    fake_podman: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_EXIT", "125")
    said = engine.op_engine({"program": "podman", "args": [engine.FILES], "files": {"k": "x"}})
    assert said["code"] == 125
    assert os.listdir(fake_podman) == []


@pytest.mark.parametrize(
    ("args", "why"),
    [
        ({"program": "sh", "args": ["-c", "id"]}, "program must be one of podman, docker"),
        ({"program": "/usr/bin/podman", "args": []}, "program must be one of"),
        ({"program": "podman", "args": "ps -a"}, "args must be a list"),
        ({"program": "podman", "args": ["ps", 3]}, "each argument must be a string"),
        ({"program": "podman", "args": ["p\0s"]}, "each argument must be a string"),
        ({"program": "podman", "args": ["x"] * 201}, "at most 200"),
        ({"program": "podman", "args": [], "timeout": "1"}, "timeout must be a number"),
        ({"program": "podman", "args": [], "files": {"../x": "y"}}, "plain name"),
        ({"program": "podman", "args": [], "files": {"x": "y" * 70000}}, "short text"),
    ],
)
def test_what_the_op_refuses(fake_podman: Path, args: dict[str, object], why: str) -> None:
    with pytest.raises(HelperError, match=why.replace("(", r"\(")) as refused:
        engine.op_engine(args)
    assert refused.value.kind == "bad-request"


def test_a_missing_engine_is_said_plainly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(HelperError, match="docker is not installed on this host") as missing:
        engine.op_engine({"program": "docker", "args": ["version"]})
    assert missing.value.kind == "missing"


def test_the_laptop_checks_the_answer_once() -> None:
    ok = untrusted.engine_answer("h", {"code": 1, "out": "x", "err": "boom \x1b[31mred\x07"})
    assert (ok.code, ok.out) == (1, "x")
    assert "\x1b" not in ok.err and "\x07" not in ok.err
    for bad in ([], {"out": "x"}, {"code": "0", "out": ""}, {"code": 0, "out": 5}):
        with pytest.raises(RemoteError, match="engine answer is malformed"):
            untrusted.engine_answer("h", bad)


def test_a_workspace_on_a_host_is_reached_through_it_by_openssh_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLEET_HOME", str(tmp_path / "state"))
    jump = records.jump_command("me@box.example:2222", tmp_path / "ssh_config")
    assert jump == [
        "ssh", "-F", str(tmp_path / "ssh_config"), "-o", "BatchMode=yes", "-o",
        "ForwardAgent=no", "-o", "ClearAllForwardings=yes", "-p", "2222", "-l", "me",
        "-W", "%h:%p", "--", "box.example",
    ]  # fmt: skip
    assert records.jump_command("alias", None)[-3:] == ["%h:%p", "--", "alias"]
    ws = records.Workspace(
        name="p-abc123", pool="p", engine="podman", container="c", volume="v", image="i",
        port=40000, via="box",
    )  # fmt: skip
    records.prepare(ws)
    config = records.write_ssh_config(ws, jump=jump).read_text()
    assert "    HostName 127.0.0.1\n    Port 40000\n" in config
    assert "ProxyCommand ssh -F " in config and "-W %h:%p -- box.example" in config
    assert stat.S_IMODE(os.stat(records.directory(ws.name) / "ssh_config").st_mode) == 0o600
    host = records.host_of(ws)
    assert host is not None and host.via == "box"
    ws.via = ""
    assert "ProxyCommand" not in records.write_ssh_config(ws).read_text()
