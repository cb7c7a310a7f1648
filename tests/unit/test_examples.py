"""Every file in examples/ is checked here, so none can rot.

- every ``*.toml`` loads with fleet's own loader (the real one, in a throwaway home), and every
  agent profile in it resolves; the profiles in ``examples/agents/`` also keep the built-in
  screen patterns of their CLI and the flags of their command when resuming;
- every ssh snippet in ``examples/ssh/`` parses as fleet reads it (asyncssh) and, where the
  OpenSSH client is installed, as ``ssh`` / ``fleet attach`` read it (``ssh -G``), names at
  least one host, and says how to reach it;
- every hook script in ``examples/hooks/`` is executable and passes ``sh -n`` or
  ``python3 -m py_compile``.

Each check is a function that raises AssertionError; the ``*_can_fail`` tests feed it broken
copies in a temporary directory to show that it would.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import stat
import subprocess
import tomllib
from pathlib import Path

import asyncssh
import pytest
from asyncssh.config import SSHClientConfig
from asyncssh.misc import split_args

from fleet.core.agents import BUILTIN_PROFILES, TASK, render_command, resolve_profiles
from fleet.core.config import AGENT_KEYS, Config, ConfigError, load_config

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TOML_FILES = sorted(EXAMPLES.rglob("*.toml"))
AGENT_FILES = sorted((EXAMPLES / "agents").glob("*.toml"))
SSH_FILES = sorted((EXAMPLES / "ssh").glob("*.conf"))
HOOK_FILES = sorted(
    path for path in (EXAMPLES / "hooks").iterdir() if path.is_file() and path.suffix != ".md"
)

AGENTS = {"claude", "codex", "aider", "gemini", "opencode"}
SSH_SNIPPETS = {"plain", "bastion", "kubernetes", "coder", "devpod"}

# What decides how a profile reads a screen and steers the agent: an example profile for a CLI
# must keep the built-in values (fleet/core/agents.py), or it silently reads that CLI wrongly.
SCREEN_KEYS = (
    "waiting",
    "working",
    "idle",
    "idle_after",
    "scope",
    "send_mode",
    "enter_delay",
    "interrupt",
    "prose",
    "session_id",
)

# ssh config keywords: the ones asyncssh reads, plus OpenSSH-only ones an example may use
# (asyncssh skips what it does not know, so a misspelt keyword would pass it silently).
SSH_KEYWORDS = frozenset(SSHClientConfig._handlers) | {
    "stricthostkeychecking",
    "loglevel",
    "controlmaster",
    "controlpath",
    "controlpersist",
    "forwardx11",
}
# fleet's SSH library runs a ProxyCommand as argv, without a shell: these would not work.
SHELL_ONLY = re.compile(r"[|;&<>`$~]")
_HOST_LINE = re.compile(r"(?im)^\s*Host\s*[=\s]\s*(.+?)\s*$")


def _rel(path: Path) -> str:
    return str(path.relative_to(EXAMPLES)) if path.is_relative_to(EXAMPLES) else str(path)


def _where(path: Path) -> str:
    return f"examples/{_rel(path)}" if path.is_relative_to(EXAMPLES) else str(path)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throwaway home, also for asyncssh (which reads HOME itself)."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("HOME", str(path))
    return path


@pytest.fixture
def env(home: Path) -> dict[str, str]:
    return {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
    }


# --------------------------------------------------------------------------- what is there


def test_every_example_file_is_checked_by_this_module() -> None:
    """A new kind of file in examples/ needs a check here, or it could rot unnoticed."""
    for path in sorted(EXAMPLES.rglob("*")):
        if not path.is_file() or path.name == ".gitkeep":
            continue
        where = path.relative_to(EXAMPLES).parts
        checked = (
            path.suffix in (".toml", ".md")
            or (where[0] == "ssh" and path.suffix == ".conf")
            or (where[0] == "hooks" and path in HOOK_FILES)
            or path in (WORKSPACE_IMAGE, POD_TEMPLATE)
        )
        assert checked, f"examples/{_rel(path)} is not checked by tests/unit/test_examples.py"


def test_the_examples_are_all_there() -> None:
    assert EXAMPLES / "fleet.toml" in TOML_FILES
    assert {path.stem for path in AGENT_FILES} == AGENTS
    assert {path.stem for path in SSH_FILES} == SSH_SNIPPETS
    assert {path.name for path in HOOK_FILES} >= {"slack.sh", "desktop-notify.sh", "webhook.py"}


WORKSPACE_IMAGE = EXAMPLES / "workspace" / "Containerfile"


def test_the_workspace_image_has_what_fleet_needs_and_no_entrypoint() -> None:
    text = WORKSPACE_IMAGE.read_text(encoding="utf-8")
    live = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    installed = " ".join(live)
    for package in ("openssh-server", "tmux", "git", "python3"):
        assert f" {package} " in installed, package
    assert not any(line.split()[0] in ("ENTRYPOINT", "CMD") for line in live)
    assert "workspace/Containerfile" in (EXAMPLES / "README.md").read_text(encoding="utf-8")


POD_TEMPLATE = EXAMPLES / "workspace" / "pod.json"


def test_the_pod_template_makes_a_pod_with_fleets_home_and_image(tmp_path: Path) -> None:
    """examples/workspace/pod.json as a pool's `manifest`: the kubernetes engine fills it in."""
    from fleet.core.config.poolengines import KubernetesPool
    from fleet.core.workspaces.engine import ContainerSpec
    from fleet.core.workspaces.kubernetes import KubernetesEngine

    for name in ("host_key", "authorized_keys", "sshd_config"):
        (tmp_path / name).write_text("x\n")
    spec = ContainerSpec(
        name="fleet-k8s-abc123", image="registry.example.com/ws:1", volume="fleet-k8s-abc123",
        mount="/root", command=("/usr/sbin/sshd", "-D"), cpus=2.0, memory="4g",
        labels={"fleet.pool": "k8s"}, pool="k8s",
    )  # fmt: skip
    engine = KubernetesEngine(KubernetesPool(manifest=POD_TEMPLATE))
    pod = next(i for i in engine.manifests(spec, tmp_path)["items"] if i["kind"] == "Pod")
    box = pod["spec"]["containers"][0]
    assert box["image"] == "registry.example.com/ws:1"
    assert ("fleet-home", "/root") in [(m["name"], m["mountPath"]) for m in box["volumeMounts"]]
    assert "workspace/pod.json" in (EXAMPLES / "README.md").read_text(encoding="utf-8") + (
        EXAMPLES / "fleet.toml"
    ).read_text(encoding="utf-8")


def test_readmes_name_every_example() -> None:
    top = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    for path in AGENT_FILES:
        assert f"agents/{path.name}" in top, f"examples/README.md does not mention {path.name}"
    ssh = (EXAMPLES / "ssh" / "README.md").read_text(encoding="utf-8")
    for path in SSH_FILES:
        assert f"({path.name})" in ssh, f"examples/ssh/README.md does not link {path.name}"


# --------------------------------------------------------------------------- fleet configs


def check_config(path: Path, env: dict[str, str]) -> Config:
    """Load ``path`` as a fleet config and resolve its agent profiles."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError:
        doc = {}  # load_config reports it, with the line
    ssh = doc.get("ssh")
    ssh_config = ssh.get("config") if isinstance(ssh, dict) else None
    if isinstance(ssh_config, str) and ssh_config.startswith("~/"):
        # The example names an ssh config in the user's home: give the throwaway home one. The
        # loader still checks that the file exists; a relative path must exist next to the
        # example itself.
        target = Path(env["HOME"], ssh_config[2:])
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("", encoding="utf-8")
    try:
        cfg = load_config(path, env=env)
    except ConfigError as err:
        raise AssertionError(f"{_where(path)} does not load: {err}") from err
    assert cfg.exists
    try:
        profiles = resolve_profiles(cfg.agents)
    except ValueError as err:
        raise AssertionError(f"{_where(path)}: {err}") from err
    for name in cfg.agents:
        profile = profiles[name]
        assert profile.waiting, (
            f"{_where(path)}: [agents.{name}] has no waiting pattern, so it could "
            "never show needs-input"
        )
        assert render_command(profile.command, "fix it").strip()
    return cfg


@pytest.mark.parametrize("path", TOML_FILES, ids=_rel)
def test_example_config_loads(path: Path, env: dict[str, str]) -> None:
    check_config(path, env)


@pytest.mark.parametrize(
    "broken",
    [
        '[agents.x]\ncomand = "x {task}"\nwaiting = ["y"]\n',  # a misspelt key
        '[agents.x]\ncommand = "x {task}"\nwaiting = ["(unclosed"]\n',  # an invalid regex
        '[agents.x]\ncommand = "x {task}"\n',  # no waiting pattern: never needs-input
        '[ssh]\nconfig = "ssh/none.conf"\n',  # an ssh config file that is not there
        '[hosts.a]\nssh = "a b"\n',  # not an ssh target
        "[agents.x\n",  # not TOML
    ],
)
def test_config_check_can_fail(tmp_path: Path, env: dict[str, str], broken: str) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(AssertionError):
        check_config(path, env)


# --------------------------------------------------------------------------- agent profiles


def check_agent_example(path: Path, env: dict[str, str]) -> None:
    """A file of profiles for the CLI it is named after, consistent with fleet's built-in one."""
    where = _where(path)
    cfg = check_config(path, env)
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    assert set(doc) == {"agents"}, f"{where}: only [agents.NAME] tables belong here"
    assert cfg.agents, f"{where}: no [agents.NAME] table"
    base = BUILTIN_PROFILES[path.stem]
    profiles = resolve_profiles(cfg.agents)
    for name, fields in cfg.agents.items():
        table = f"{where}: [agents.{name}]"
        assert name == base.name or name.startswith(base.name + "-"), (
            f"{table}: name it {base.name!r} or {base.name}-SOMETHING"
        )
        # A complete table: everything the built-in profile sets is given.
        optional = ("session_id", "resume_session", "sandbox")  # sandbox: examples/sandbox/
        wanted = {key for key in AGENT_KEYS if key not in optional}
        if base.session_id:
            wanted |= {"session_id", "resume_session"}
        missing = sorted(wanted - set(fields))
        assert not missing, f"{table}: missing {', '.join(missing)}"
        profile = profiles[name]
        for key in SCREEN_KEYS:
            assert getattr(profile, key) == getattr(base, key), (
                f"{table}: {key} differs from the built-in {base.name!r} profile "
                f"(fleet/core/agents.py): copy it from there"
            )
        words = shlex.split(render_command(profile.command, ""))
        base_words = shlex.split(render_command(base.command, ""))
        assert words[0] == base_words[0], f"{table}: runs {words[0]!r}, not {base_words[0]!r}"
        assert (TASK in profile.command) == (TASK in base.command), (
            f"{table}: {base.name} takes its task "
            + ("on the command line ({task})" if TASK in base.command else "typed at its prompt")
        )
        # Resuming must not drop the flags the profile exists for (permission modes, sandbox).
        flags = words[1:]
        assert profile.resume, f"{table}: no resume command"
        resumes = {"resume": profile.resume}
        if profile.resume_session:
            assert "{agent_session}" in profile.resume_session, f"{table}: resume_session"
            resumes["resume_session"] = profile.resume_session.replace("{agent_session}", "ID")
        for kind, command in resumes.items():
            resume_words = shlex.split(command)
            assert resume_words[0] == words[0], f"{table}: {kind} runs another program"
            for flag in flags:
                assert flag in resume_words[1:], f"{table}: {kind} drops {flag!r}"


@pytest.mark.parametrize("path", AGENT_FILES, ids=_rel)
def test_agent_example(path: Path, env: dict[str, str]) -> None:
    check_agent_example(path, env)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # A pattern that differs from the built-in one.
        ("'\\bEsc to cancel\\b',", "'Esc to cancel',"),
        # Resuming without the permission flags.
        (
            "--continue --permission-mode acceptEdits'",
            "--continue'",
        ),
        # An incomplete table.
        ("idle_after = 5.0\n", ""),
        # Another program, or the task slot lost.
        ("\ncommand = 'claude --", "\ncommand = 'clod --"),
        ("acceptEdits {task}", "acceptEdits"),
        # Something else than [agents.*] tables.
        ("", '\n[hosts.a]\nssh = "a"\n'),
    ],
)
def test_agent_check_can_fail(tmp_path: Path, env: dict[str, str], old: str, new: str) -> None:
    text = (EXAMPLES / "agents" / "claude.toml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "claude.toml"
    path.write_text(text.replace(old, new, 1) if old else text + new, encoding="utf-8")
    with pytest.raises(AssertionError):
        check_agent_example(path, env)


# --------------------------------------------------------------------------- ssh snippets


def host_names(text: str) -> list[str]:
    """The concrete aliases a snippet defines (patterns like ``coder.*`` left out)."""
    names: list[str] = []
    for line in _HOST_LINE.findall(text):
        names += [name for name in line.split() if not re.search(r"[*?!]", name)]
    return names


def _give_keys(path: Path, home: Path) -> None:
    """asyncssh reads the IdentityFile keys while it builds options: make them exist."""
    for line in re.findall(r"(?im)^\s*IdentityFile\s+(\S+)\s*$", path.read_text("utf-8")):
        key_path = Path(line.replace("~", str(home), 1) if line.startswith("~/") else line)
        if key_path.is_relative_to(home) and not key_path.exists():
            key_path.parent.mkdir(parents=True, exist_ok=True)
            key = asyncssh.generate_private_key("ssh-ed25519")
            key.write_private_key(str(key_path))
            key.write_public_key(str(key_path) + ".pub")


def check_ssh_snippet(path: Path, home: Path) -> None:
    where = _where(path)
    text = path.read_text(encoding="utf-8")
    names = host_names(text)
    assert names, f"{where}: no Host alias"
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword = re.split(r"[\s=]", line, maxsplit=1)[0].lower()
        assert keyword in SSH_KEYWORDS, f"{where}:{number}: unknown ssh keyword {keyword!r}"
    _give_keys(path, home)
    for name in names:
        try:
            config = SSHClientConfig.load(None, [path], False, False, False, "me", (), name, ())
            options = asyncssh.SSHClientConnectionOptions(config=[str(path)], host=name)
        except (asyncssh.Error, ValueError, OSError) as err:
            raise AssertionError(f"{where}: {name}: asyncssh cannot read it: {err}") from err
        assert config.get("Hostname") or options.proxy_command or options.tunnel, (
            f"{where}: {name}: no HostName, ProxyCommand or ProxyJump"
        )
        proxy = config.get("ProxyCommand")
        if isinstance(proxy, str):
            argv = split_args(proxy)
            assert argv, f"{where}: {name}: empty ProxyCommand"
            assert not SHELL_ONLY.search(proxy), (
                f"{where}: {name}: the ProxyCommand needs a shell ({proxy!r}); fleet runs it "
                "as a program with arguments: wrap it in sh -c '...'"
            )
            assert "%" not in " ".join(argv), f"{where}: {name}: unexpanded % token"
        jumps = config.get("ProxyJump")
        if isinstance(jumps, str):
            for jump in jumps.split(","):
                alias = jump.rpartition("@")[2].partition(":")[0]
                assert alias in names or "." in alias, (
                    f"{where}: {name}: ProxyJump {alias!r} is not defined in this file"
                )
        if shutil.which("ssh"):
            # OpenSSH, as `ssh -F FILE ALIAS` and `fleet attach` read it (-G: print the
            # resulting config, connect nowhere).
            ran = subprocess.run(
                ["ssh", "-G", "-F", str(path), name],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                env={**os.environ, "HOME": str(home)},
                timeout=30,
            )
            assert ran.returncode == 0, f"{where}: {name}: ssh -G says {ran.stderr.strip()}"
            assert "bad configuration" not in ran.stderr.lower(), ran.stderr


@pytest.mark.parametrize("path", SSH_FILES, ids=_rel)
def test_ssh_snippet(path: Path, home: Path) -> None:
    check_ssh_snippet(path, home)


@pytest.mark.parametrize(
    "broken",
    [
        "# no Host at all\n",
        "Host x\n    HostName x.example.com\n    Port twenty-two\n",
        "Host x\n    HostNme x.example.com\n",
        "Host x\n    ProxyCommand sh -c 'nc localhost 22\n",
        "Host x\n    ProxyCommand kubectl exec -i pod -- nc localhost 22 | cat\n",
        "Host x\n    ProxyJump nowhere\n",
        "Host x\n    User me\n",
    ],
)
def test_ssh_check_can_fail(tmp_path: Path, home: Path, broken: str) -> None:
    path = tmp_path / "broken.conf"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(AssertionError):
        check_ssh_snippet(path, home)


# --------------------------------------------------------------------------- hook scripts


def check_hook(path: Path, tmp_path: Path) -> None:
    where = _where(path)
    assert path.stat().st_mode & stat.S_IXUSR, f"{where}: not executable (chmod +x)"
    first = path.read_text(encoding="utf-8").split("\n", 1)[0]
    assert first.startswith("#!"), f"{where}: no #! line"
    words = first[2:].split()
    interpreter = Path(words[1] if Path(words[0]).name == "env" else words[0]).name
    if interpreter in ("sh", "bash", "dash"):
        command = [interpreter, "-n", str(path)]
    elif interpreter.startswith("python3"):
        command = ["python3", "-m", "py_compile", str(path)]
    else:
        raise AssertionError(f"{where}: no syntax check for {interpreter!r} scripts")
    if not shutil.which(command[0]) and os.environ.get("CI") != "true":
        pytest.skip(f"{command[0]} is not installed")  # in CI: run it and fail
    ran = subprocess.run(
        command,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        # Bytecode goes to the temporary directory, not next to the example.
        env={**os.environ, "PYTHONPYCACHEPREFIX": str(tmp_path / "pycache")},
        timeout=30,
    )
    assert ran.returncode == 0, f"{where}: {' '.join(command[:-1])} says {ran.stderr.strip()}"


@pytest.mark.parametrize("path", HOOK_FILES, ids=_rel)
def test_hook_script(path: Path, tmp_path: Path) -> None:
    check_hook(path, tmp_path)
    assert not (path.parent / "__pycache__").exists()


@pytest.mark.parametrize(
    ("name", "append", "executable"),
    [
        ("slack.sh", "\nif then fi\n", True),
        ("webhook.py", "\ndef broken(:\n", True),
        ("desktop-notify.sh", "", False),
    ],
)
def test_hook_check_can_fail(tmp_path: Path, name: str, append: str, executable: bool) -> None:
    path = tmp_path / name
    path.write_text((EXAMPLES / "hooks" / name).read_text(encoding="utf-8") + append)
    path.chmod(0o755 if executable else 0o644)
    with pytest.raises(AssertionError):
        check_hook(path, tmp_path)
