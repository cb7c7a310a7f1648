"""fleet.core.paths and fleet.core.config: lookup order, state dir, defaults, and errors that
name the file and the line."""

from __future__ import annotations

import logging
import os
import re
import stat
import textwrap
from pathlib import Path

import pytest

from fleet.core.config import (
    AGENT_KEYS,
    Config,
    ConfigError,
    Hook,
    HookSettings,
    HostConfig,
    SshSettings,
    _Loader,
    _Locator,
    load_config,
    parse_target,
)
from fleet.core.models import EVENT_KINDS, SendMode
from fleet.core.paths import config_path, ensure_state_dir, expand_user, state_dir

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fleet.toml"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def env(home: Path) -> dict[str, str]:
    return {"HOME": str(home)}


def write(tmp_path: Path, text: str, name: str = "fleet.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).removeprefix("\n"), encoding="utf-8")
    return path


def error_for(tmp_path: Path, env: dict[str, str], text: str) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env)
    assert info.value.path == path
    return info.value


# --------------------------------------------------------------------------- paths


class TestConfigPath:
    def test_explicit_wins(self, home: Path) -> None:
        env = {"HOME": str(home), "FLEET_CONFIG": "/env.toml", "XDG_CONFIG_HOME": "/xdg"}
        assert config_path("/given.toml", env) == Path("/given.toml")
        assert config_path(Path("/given.toml"), env) == Path("/given.toml")

    def test_fleet_config_env_next(self, home: Path) -> None:
        env = {"HOME": str(home), "FLEET_CONFIG": "/env.toml", "XDG_CONFIG_HOME": "/xdg"}
        assert config_path(None, env) == Path("/env.toml")

    def test_xdg_config_home_next(self, home: Path) -> None:
        env = {"HOME": str(home), "XDG_CONFIG_HOME": "/xdg"}
        assert config_path(None, env) == Path("/xdg/fleet/fleet.toml")

    def test_default_is_dot_config(self, home: Path) -> None:
        assert config_path(None, {"HOME": str(home)}) == home / ".config/fleet/fleet.toml"

    def test_empty_values_are_ignored(self, home: Path) -> None:
        env = {"HOME": str(home), "FLEET_CONFIG": "", "XDG_CONFIG_HOME": ""}
        assert config_path("", env) == home / ".config/fleet/fleet.toml"

    def test_relative_xdg_is_ignored(self, home: Path) -> None:
        env = {"HOME": str(home), "XDG_CONFIG_HOME": "relative/dir"}
        assert config_path(None, env) == home / ".config/fleet/fleet.toml"

    def test_tilde_is_expanded(self, home: Path) -> None:
        env = {"HOME": str(home), "FLEET_CONFIG": "~/env.toml", "XDG_CONFIG_HOME": "~/xdg"}
        assert config_path("~/given.toml", env) == home / "given.toml"
        assert config_path(None, env) == home / "env.toml"
        del env["FLEET_CONFIG"]
        assert config_path(None, env) == home / "xdg/fleet/fleet.toml"

    def test_expand_user(self, home: Path) -> None:
        env = {"HOME": str(home)}
        assert expand_user("~", env) == home
        assert expand_user("~/a/b", env) == home / "a/b"
        assert expand_user("a/~b", env) == Path("a/~b")


class TestStateDir:
    def test_fleet_home_wins(self, home: Path) -> None:
        env = {"HOME": str(home), "FLEET_HOME": "~/fh", "XDG_DATA_HOME": "/xdg"}
        assert state_dir(env) == home / "fh"

    def test_xdg_data_home(self, home: Path) -> None:
        assert state_dir({"HOME": str(home), "XDG_DATA_HOME": "/xdg"}) == Path("/xdg/fleet")

    def test_default(self, home: Path) -> None:
        assert state_dir({"HOME": str(home)}) == home / ".local/share/fleet"

    def test_ensure_creates_0700(self, home: Path) -> None:
        old = os.umask(0o022)
        try:
            path = ensure_state_dir({"HOME": str(home)})
        finally:
            os.umask(old)
        assert path == home / ".local/share/fleet"
        assert path.is_dir()
        assert stat.S_IMODE(path.stat().st_mode) == 0o700

    def test_ensure_fixes_a_looser_mode(self, tmp_path: Path) -> None:
        path = tmp_path / "state"
        path.mkdir()
        path.chmod(0o755)
        (path / "keep").write_text("x")
        assert ensure_state_dir({"FLEET_HOME": str(path)}) == path
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
        assert (path / "keep").read_text() == "x"

    def test_ensure_is_idempotent(self, tmp_path: Path) -> None:
        env = {"FLEET_HOME": str(tmp_path / "a" / "b")}
        assert ensure_state_dir(env) == ensure_state_dir(env)
        assert stat.S_IMODE((tmp_path / "a" / "b").stat().st_mode) == 0o700


# --------------------------------------------------------------------------- loading


class TestDefaults:
    def test_missing_default_file_is_an_empty_fleet(self, env: dict[str, str]) -> None:
        cfg = load_config(None, env=env)
        assert cfg.exists is False
        assert cfg.path == Path(env["HOME"]) / ".config/fleet/fleet.toml"
        assert cfg.hosts == {} and cfg.agents == {} and cfg.keys == {}
        assert cfg.ssh == SshSettings(None, 5.0, 3, 15.0, 8)

    def test_default_ssh_config_is_users_own_if_present(
        self, home: Path, env: dict[str, str]
    ) -> None:
        (home / ".ssh").mkdir()
        (home / ".ssh" / "config").write_text("Host alpha\n")
        assert load_config(None, env=env).ssh.config_file == home / ".ssh" / "config"

    def test_missing_explicit_file_is_an_error(self, tmp_path: Path, env: dict[str, str]) -> None:
        path = tmp_path / "nope.toml"
        with pytest.raises(ConfigError) as info:
            load_config(path, env=env)
        assert info.value.path == path and info.value.line is None
        assert str(info.value) == f"{path}: config file not found (named by --config)"

    def test_missing_fleet_config_file_is_an_error(
        self, tmp_path: Path, env: dict[str, str]
    ) -> None:
        env["FLEET_CONFIG"] = str(tmp_path / "nope.toml")
        with pytest.raises(ConfigError, match=r"not found \(named by \$FLEET_CONFIG\)"):
            load_config(None, env=env)

    def test_empty_file(self, tmp_path: Path, env: dict[str, str]) -> None:
        cfg = load_config(write(tmp_path, ""), env=env)
        assert cfg.exists is True
        assert cfg.hosts == {} and cfg.ssh.keepalive == 5.0

    def test_found_through_xdg(self, tmp_path: Path, env: dict[str, str]) -> None:
        (tmp_path / "xdg" / "fleet").mkdir(parents=True)
        write(tmp_path / "xdg" / "fleet", '[hosts.a]\nssh = "a"\n')
        env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
        cfg = load_config(None, env=env)
        assert cfg.exists and list(cfg.hosts) == ["a"]


FULL = """
# a full config
[ssh]
config = "ssh_config"
keepalive = 10
keepalive_count = 5
connect_timeout = 2.5
max_connects = 3

[hosts.alpha]
ssh = "alpha"

[hosts."beta-1"]
ssh = "dev@beta.example.com:2222"

[hosts]
gamma = { ssh = "[::1]:2200" }

[agents.myagent]
command = "myagent --yes {task}"
resume = "myagent --continue"
waiting = ['^Continue\\? \\[y/N\\]']
working = ['esc to interrupt']
idle = ['^> $']
idle_after = 7
scope = 40
send_mode = "paste"
enter_delay = 0.1
interrupt = ["Escape", "C-c"]
prose = true
description = "mine"
session_id = 'myagent --resume (\\w+)'
resume_session = "myagent --resume {agent_session}"
sandbox = "bwrap --bind {worktree} {worktree} --"
version_command = "myagent --version"
verified = "1.4.0"
signals = "claude"

[agents.claude]
waiting = ['Do you want']

[keys]
quit = "q"
"approve hunk" = "a"
"""


class TestFullConfig:
    def test_round_trip(self, tmp_path: Path, env: dict[str, str]) -> None:
        (tmp_path / "ssh_config").write_text("Host alpha\n")
        path = write(tmp_path, FULL)
        cfg = load_config(path, env=env)
        assert cfg.path == path and cfg.exists
        assert cfg.ssh == SshSettings(
            config_file=tmp_path / "ssh_config",
            keepalive=10.0,
            keepalive_count=5,
            connect_timeout=2.5,
            max_connects=3,
        )
        assert cfg.hosts == {
            "alpha": HostConfig("alpha", "alpha", 9),
            "beta-1": HostConfig("beta-1", "dev@beta.example.com:2222", 12),
            "gamma": HostConfig("gamma", "[::1]:2200", 16),
        }
        assert cfg.agents["myagent"] == {
            "command": "myagent --yes {task}",
            "resume": "myagent --continue",
            "waiting": (r"^Continue\? \[y/N\]",),
            "working": ("esc to interrupt",),
            "idle": ("^> $",),
            "idle_after": 7.0,
            "scope": 40,
            "send_mode": SendMode.PASTE,
            "enter_delay": 0.1,
            "interrupt": ("Escape", "C-c"),
            "prose": True,
            "description": "mine",
            "session_id": r"myagent --resume (\w+)",
            "resume_session": "myagent --resume {agent_session}",
            "sandbox": "bwrap --bind '{worktree}' '{worktree}' --",
            "version_command": "myagent --version",
            "verified": "1.4.0",
            "signals": "claude",
        }
        assert set(cfg.agents["myagent"]) == set(AGENT_KEYS)
        assert isinstance(cfg.agents["myagent"]["idle_after"], float)
        assert cfg.agents["claude"] == {"waiting": ("Do you want",)}
        assert cfg.keys == {"quit": "q", "approve hunk": "a"}

    def test_line_of_and_error(self, tmp_path: Path, env: dict[str, str]) -> None:
        (tmp_path / "ssh_config").write_text("")
        cfg = load_config(write(tmp_path, FULL), env=env)
        assert cfg.line_of("agents", "myagent") == 18
        assert cfg.line_of("agents", "myagent", "scope") == 25
        assert cfg.line_of("agents", "claude", "command") == 38  # the table, no such key
        assert cfg.line_of("nothing") is None
        err = cfg.error(("agents", "claude"), "no command")
        assert str(err) == f"{cfg.path}:38: agents.claude: no command"

    def test_ssh_config_tilde_and_none(
        self, tmp_path: Path, home: Path, env: dict[str, str]
    ) -> None:
        (home / ".ssh").mkdir()
        (home / ".ssh" / "other").write_text("")
        cfg = load_config(write(tmp_path, '[ssh]\nconfig = "~/.ssh/other"\n'), env=env)
        assert cfg.ssh.config_file == home / ".ssh" / "other"
        (home / ".ssh" / "config").write_text("")
        cfg = load_config(write(tmp_path, '[ssh]\nconfig = ""\n'), env=env)
        assert cfg.ssh.config_file is None

    def test_keepalive_zero_is_allowed(self, tmp_path: Path, env: dict[str, str]) -> None:
        cfg = load_config(write(tmp_path, "[ssh]\nkeepalive = 0\n"), env=env)
        assert cfg.ssh.keepalive == 0.0

    def test_host_without_ssh_uses_its_name(self, tmp_path: Path, env: dict[str, str]) -> None:
        cfg = load_config(write(tmp_path, "# hosts\n[hosts.alpha]\n"), env=env)
        assert cfg.hosts == {"alpha": HostConfig("alpha", "alpha", 2)}

    def test_bom_and_crlf(self, tmp_path: Path, env: dict[str, str]) -> None:
        path = tmp_path / "fleet.toml"
        path.write_bytes(b'\xef\xbb\xbf[hosts.a]\r\nssh = "a"\r\n\r\n[hosts.b]\r\nssh = 1\r\n')
        with pytest.raises(ConfigError) as info:
            load_config(path, env=env)
        assert info.value.line == 5

    def test_example_file_loads(self, env: dict[str, str]) -> None:
        cfg = load_config(EXAMPLE, env=env)
        assert cfg.exists
        assert {name: host.ssh for name, host in cfg.hosts.items()} == {
            "alpha": "alpha",
            "beta": "dev@beta.example.com:2222",
            "gpu": "gpu-via-bastion",
        }
        assert parse_target(cfg.hosts["beta"].ssh) == ("dev", "beta.example.com", 2222)
        assert set(cfg.agents["myagent"]) == set(AGENT_KEYS)
        assert set(cfg.agents["claude"]) == {"waiting"}
        assert cfg.ssh == SshSettings(None, 5.0, 3, 15.0, 8)

    def test_example_hooks_load_when_uncommented(self, home: Path, env: dict[str, str]) -> None:
        text = EXAMPLE.read_text(encoding="utf-8")
        head, _, hooks = text.partition("\n[hooks]\n")
        assert hooks, "examples/fleet.toml has a [hooks] section"
        uncommented = re.sub(r"(?m)^# (\S+ = )", r"\1", hooks)
        path = EXAMPLE.parent / "fleet.toml"
        cfg = _Loader(path, env).load((head + "\n[hooks]\n" + uncommented).encode())
        assert cfg.hooks.timeout == 10.0
        assert set(cfg.hooks.commands) == {"needs-input", "failed", "*", "idle"}
        (failed,) = cfg.hooks.commands["failed"]
        assert failed.argv == (str(home / "bin" / "page-me"), "--urgent")
        assert cfg.hooks.commands["*"][0].argv == ("/bin/sh", "-c", "cat >> ~/fleet-events.jsonl")

    def test_contents_are_never_logged(
        self, tmp_path: Path, env: dict[str, str], caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        text = '[agents.x]\ncommand = "x --token s3cr3t-t0ken {task}"\n[keys]\nq = 1\n'
        with pytest.raises(ConfigError) as info:
            load_config(write(tmp_path, text), env=env)
        assert "s3cr3t" not in caplog.text
        assert "s3cr3t" not in str(info.value)


# --------------------------------------------------------------------------- hooks


class TestHooks:
    def test_no_hooks_section_gives_defaults(self, tmp_path: Path, env: dict[str, str]) -> None:
        cfg = load_config(write(tmp_path, '[hosts.a]\nssh = "a"\n'), env=env)
        assert cfg.hooks == HookSettings(cwd=tmp_path)
        assert cfg.hooks.timeout == 10.0 and cfg.hooks.commands == {}
        assert cfg.hooks.matching("failed") == ()
        assert Config(path=tmp_path, exists=False).hooks == HookSettings()

    def test_strings_run_by_sh_and_lists_as_argv(
        self, tmp_path: Path, home: Path, env: dict[str, str]
    ) -> None:
        text = """
        # hooks
        [hooks]
        timeout = 2.5
        needs-input = "notify-send 'fleet' \\"$(jq -r .ref)\\" needs you"
        failed = ["~/bin/page-me", "--urgent", "$(not run)"]
        "*" = "cat >> ~/fleet-events.jsonl"
        idle = ["hooks/notify.sh"]
        exited = ["/usr/bin/logger", "-t", "fleet"]
        back = ["true"]
        """
        cfg = load_config(write(tmp_path, text), env=env)
        hooks = cfg.hooks
        assert hooks.timeout == 2.5 and hooks.cwd == tmp_path
        assert list(hooks.commands) == ["needs-input", "failed", "*", "idle", "exited", "back"]
        (needs,) = hooks.commands["needs-input"]
        assert needs == Hook(
            "needs-input",
            ("/bin/sh", "-c", "notify-send 'fleet' \"$(jq -r .ref)\" needs you"),
            shell=True,
            line=4,
        )
        (failed,) = hooks.commands["failed"]
        assert failed.argv == (str(home / "bin/page-me"), "--urgent", "$(not run)")
        assert not failed.shell and failed.line == 5 and failed.label == "hooks.failed"
        assert hooks.commands["*"][0].label == 'hooks."*"'
        assert hooks.commands["idle"][0].argv == (str(tmp_path / "hooks/notify.sh"),)
        assert hooks.commands["exited"][0].argv == ("/usr/bin/logger", "-t", "fleet")
        assert hooks.commands["back"][0].argv == ("true",)
        assert hooks.matching("failed") == (failed, hooks.commands["*"][0])
        assert hooks.matching("approved") == hooks.commands["*"]

    def test_commands_stay_out_of_repr_and_errors(
        self, tmp_path: Path, env: dict[str, str], caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        url = "https://hooks.slack.com/services/T0/B0/xoxb-SECRET"
        cfg = load_config(write(tmp_path, f'[hooks]\nfailed = "curl -d @- {url}"\n'), env=env)
        assert "xoxb-SECRET" not in repr(cfg)
        text = f'[hooks]\nfailed = ["curl", "{url}", 4]\n'
        with pytest.raises(ConfigError) as info:
            load_config(write(tmp_path, text), env=env)
        assert info.value.line == 2
        assert "xoxb-SECRET" not in str(info.value) and "xoxb-SECRET" not in caplog.text

    def test_every_event_kind_is_a_valid_key(self, tmp_path: Path, env: dict[str, str]) -> None:
        text = "[hooks]\n" + "".join(f'"{kind}" = "true"\n' for kind in EVENT_KINDS)
        cfg = load_config(write(tmp_path, text), env=env)
        assert tuple(cfg.hooks.commands) == EVENT_KINDS
        assert [h[0].line for h in cfg.hooks.commands.values()] == list(
            range(2, 2 + len(EVENT_KINDS))
        )


# --------------------------------------------------------------------------- errors

ERRORS = [
    pytest.param(
        """
        [hosts.alpha]
        ssh = 42
        """,
        2,
        'hosts.alpha.ssh: expected a string like "alias" or "user@host:port", got 42',
        id="host-ssh-not-a-string",
    ),
    pytest.param(
        """
        # comment
        [ssh]
        keepalive = "five"
        """,
        3,
        'ssh.keepalive: expected a number of seconds >= 0, got "five"',
        id="keepalive-string",
    ),
    pytest.param(
        """
        [ssh]
        keepalive = -1
        """,
        2,
        "ssh.keepalive: expected a number of seconds >= 0, got -1",
        id="keepalive-negative",
    ),
    pytest.param(
        """
        [ssh]
        connect_timeout = 0
        """,
        2,
        "ssh.connect_timeout: expected a number of seconds > 0, got 0",
        id="connect-timeout-zero",
    ),
    pytest.param(
        """
        [ssh]
        connect_timeout = inf
        """,
        2,
        "ssh.connect_timeout: expected a number of seconds > 0, got inf",
        id="connect-timeout-inf",
    ),
    pytest.param(
        """
        [ssh]

        keepalive_count = 0
        """,
        3,
        "ssh.keepalive_count: expected a whole number >= 1, got 0",
        id="keepalive-count-zero",
    ),
    pytest.param(
        """
        [ssh]
        max_connects = 2.5
        """,
        2,
        "ssh.max_connects: expected a whole number >= 1, got 2.5",
        id="max-connects-float",
    ),
    pytest.param(
        """
        [ssh]
        max_connects = true
        """,
        2,
        "ssh.max_connects: expected a whole number >= 1, got true",
        id="max-connects-bool",
    ),
    pytest.param(
        """
        [ssh]
        config = "does-not-exist"
        """,
        2,
        "ssh.config: ssh config file ",
        id="ssh-config-missing",
    ),
    pytest.param(
        """
        [ssh]
        config = 3
        """,
        2,
        'ssh.config: expected a path to an ssh config file (or "" for none), got 3',
        id="ssh-config-type",
    ),
    pytest.param(
        """
        [ssh]
        keepalives = 3
        """,
        2,
        'unknown key "keepalives" in [ssh] (expected one of: config, keepalive, '
        'keepalive_count, connect_timeout, max_connects; did you mean "keepalive"?)',
        id="ssh-unknown-key",
    ),
    pytest.param(
        """
        ssh = 5
        """,
        1,
        "ssh: expected a table [ssh], got 5",
        id="ssh-not-a-table",
    ),
    pytest.param(
        """
        ssh.keepalive = "x"
        """,
        1,
        'ssh.keepalive: expected a number of seconds >= 0, got "x"',
        id="top-level-dotted-key",
    ),
    pytest.param(
        """
        [agents.x]
        command = "x"
        comand = "x"
        """,
        3,
        'unknown key "comand" in [agents.x] (expected one of: command, resume, waiting, '
        "working, idle, idle_after, scope, send_mode, enter_delay, interrupt, prose, description, "
        "session_id, resume_session, sandbox, signals, version_command, verified; "
        'did you mean "command"?)',
        id="agent-unknown-key",
    ),
    pytest.param(
        """
        [agents.x]
        zzz = 1
        """,
        2,
        'unknown key "zzz" in [agents.x] (expected one of: command, resume, waiting, '
        "working, idle, idle_after, scope, send_mode, enter_delay, interrupt, prose, description, "
        "session_id, resume_session, sandbox, signals, version_command, verified)",
        id="agent-unknown-key-no-suggestion",
    ),
    pytest.param(
        """
        [agents.x]
        command = "x"
        waiting = ['ok', '(']
        """,
        3,
        "agents.x.waiting[1]: invalid regex '(': missing ), unterminated subpattern",
        id="regex-one-line",
    ),
    pytest.param(
        """
        [agents.x]
        command = "x"
        waiting = [
            'ok',  # fine
            "[also, fine]",
            '(',
        ]
        """,
        6,
        "agents.x.waiting[2]: invalid regex '(': missing ), unterminated subpattern",
        id="regex-multi-line",
    ),
    pytest.param(
        """
        [agents.x]
        idle = ['fine', 'ab(c']
        """,
        2,
        "agents.x.idle[1]: invalid regex 'ab(c': missing ), unterminated subpattern at position 2",
        id="regex-position",
    ),
    pytest.param(
        """
        [agents.x]
        working = "esc to interrupt"
        """,
        2,
        'agents.x.working: expected a list of regex strings, got "esc to interrupt"',
        id="regex-not-a-list",
    ),
    pytest.param(
        """
        [agents.x]
        working = [
          3,
        ]
        """,
        3,
        "agents.x.working[0]: expected a regex string, got 3",
        id="regex-not-a-string",
    ),
    pytest.param(
        """
        [agents.x]
        command = ""
        """,
        2,
        'agents.x.command: expected a non-empty command string, got ""',
        id="command-empty",
    ),
    pytest.param(
        """
        [agents.x]
        send_mode = "typed"
        """,
        2,
        'agents.x.send_mode: expected "type" or "paste", got "typed"',
        id="send-mode",
    ),
    pytest.param(
        """
        [agents.x]
        scope = 0
        """,
        2,
        "agents.x.scope: expected a whole number of lines >= 1, got 0",
        id="scope-zero",
    ),
    pytest.param(
        """
        [agents.x]
        enter_delay = "1s"
        """,
        2,
        'agents.x.enter_delay: expected a number of seconds >= 0, got "1s"',
        id="enter-delay",
    ),
    pytest.param(
        """
        [agents.x]
        interrupt = "Escape"
        """,
        2,
        'agents.x.interrupt: expected a list of tmux key names like ["Escape"] or ["C-c"],'
        ' got "Escape"',
        id="interrupt-not-a-list",
    ),
    pytest.param(
        """
        [agents.x]
        interrupt = ["Escape", "C c"]
        """,
        2,
        'agents.x.interrupt[1]: expected a tmux key name like "Escape" or "C-c", got "C c"',
        id="interrupt-bad-key",
    ),
    pytest.param(
        """
        [agents."my agent"]
        command = "x"
        """,
        1,
        'agents."my agent": invalid agent name "my agent": expected letters, digits',
        id="agent-name",
    ),
    pytest.param(
        """
        [agents]
        x = 3
        """,
        2,
        "agents.x: expected a table [agents.x] of profile settings, got 3",
        id="agent-not-a-table",
    ),
    pytest.param(
        """
        [hosts.ok]
        ssh = "ok"

        [hosts."a/b"]
        ssh = "ab"
        """,
        4,
        'hosts."a/b": invalid host name "a/b": expected letters, digits, ".", "_" and "-", '
        "starting with a letter or digit, at most 63 characters (host names appear in "
        "session refs HOST/NAME)",
        id="host-name-slash",
    ),
    pytest.param(
        """
        [hosts.-x]
        """,
        1,
        'hosts.-x: invalid host name "-x"',
        id="host-name-dash",
    ),
    pytest.param(
        f"""
        [hosts.{"a" * 64}]
        """,
        1,
        "invalid host name",
        id="host-name-too-long",
    ),
    pytest.param(
        """
        [hosts.alpha]
        ssh = "alpha; rm -rf ~"
        """,
        2,
        'hosts.alpha.ssh: expected a string like "alias" or "user@host:port" without spaces '
        'or shell characters, got "alpha; rm -rf ~" (unexpected ";")',
        id="target-shell-chars",
    ),
    pytest.param(
        """
        [hosts.alpha]
        ssh = "user@al pha"
        """,
        2,
        '(unexpected " ")',
        id="target-space",
    ),
    pytest.param(
        """
        [hosts.alpha]
        ssh = "-oProxyCommand=evil"
        """,
        2,
        'hosts.alpha.ssh: must not start with "-" (ssh would read it as an option), '
        'got "-oProxyCommand=evil"',
        id="target-option",
    ),
    pytest.param(
        """
        [hosts.alpha]
        ssh = "me@-oProxyCommand"
        """,
        2,
        "(bad host name)",
        id="target-option-after-user",
    ),
    pytest.param(
        """
        [hosts.alpha]
        ssh = "alpha:70000"
        """,
        2,
        'hosts.alpha.ssh: expected a port in 1..65535, got "alpha:70000"',
        id="port-too-big",
    ),
    pytest.param(
        """
        [hosts.alpha]
        ssh = "alpha:0"
        """,
        2,
        "expected a port in 1..65535",
        id="port-zero",
    ),
    pytest.param(
        """
        [hosts.alpha]
        ssh = ""
        """,
        2,
        'hosts.alpha.ssh: expected a string like "alias" or "user@host:port", got ""',
        id="target-empty",
    ),
    pytest.param(
        """
        [hosts.alpha]
        sshh = "alpha"
        """,
        2,
        'unknown key "sshh" in [hosts.alpha] (expected one of: ssh, max_sessions; '
        'did you mean "ssh"?)',
        id="host-unknown-key",
    ),
    pytest.param(
        """
        [hosts]
        alpha = "alpha"
        """,
        2,
        'hosts.alpha: expected a table [hosts.alpha] with ssh = "alias", got "alpha"',
        id="host-not-a-table",
    ),
    pytest.param(
        """
        hosts = ["alpha"]
        """,
        1,
        "hosts: expected a table of hosts like [hosts.alpha], got a list",
        id="hosts-not-a-table",
    ),
    pytest.param(
        """
        [hosts]
        alpha = { ssh = "ok" }
        beta = { ssh = 5 }
        """,
        3,
        "hosts.beta.ssh: expected",
        id="inline-table",
    ),
    pytest.param(
        """
        [[hosts]]
        ssh = "x"
        """,
        1,
        "hosts: expected a table of hosts like [hosts.alpha], got a list",
        id="array-of-tables",
    ),
    pytest.param(
        """
        [ssh]
        keepalive = 5

        [hots.alpha]
        ssh = "alpha"
        """,
        4,
        "unknown section [hots] (expected one of: ssh, hosts, pools, agents, keys, hooks, ui, "
        "prices, budgets; did you mean [hosts]?)",
        id="unknown-section",
    ),
    pytest.param(
        """
        # top
        keepalive = 5
        """,
        2,
        'unknown top-level key "keepalive" '
        "(expected one of: ssh, hosts, pools, agents, keys, hooks, ui, prices, budgets)",
        id="unknown-top-level-key",
    ),
    pytest.param(
        """
        [keys]
        quit = "q"
        help = 1
        """,
        3,
        'keys.help: expected a key name like "ctrl+r", got 1',
        id="keys-value",
    ),
    pytest.param(
        """
        [hosts.alpha]
        ssh = "alpha"
        ssh = "beta"
        """,
        3,
        "invalid TOML: Cannot overwrite a value (at column",
        id="toml-duplicate",
    ),
    pytest.param(
        """
        [ssh]
        keepalive =
        """,
        2,
        "invalid TOML: Invalid value (at column 12)",
        id="toml-syntax",
    ),
    pytest.param(
        """
        [agents.x]
        waiting = ['a',
        """,
        2,
        "invalid TOML: Invalid value (at the end of the file)",
        id="toml-end-of-document",
    ),
    pytest.param(
        """
        [hooks]
        timeout = 5
        need-input = "x"
        """,
        3,
        'unknown event "need-input" in [hooks] (expected one of: timeout, needs-input, idle, '
        "working, exited, failed, stopped, lost, back, approved, rejected, steered, started, "
        'resumed, checkpoint, budget-warning, budget-exceeded, *; did you mean "needs-input"?)',
        id="hooks-unknown-event",
    ),
    pytest.param(
        """
        [hooks]

        timeout = 0
        """,
        3,
        "hooks.timeout: expected a number of seconds > 0, got 0",
        id="hooks-timeout-zero",
    ),
    pytest.param(
        """
        [hooks]
        timeout = "10s"
        """,
        2,
        'hooks.timeout: expected a number of seconds > 0, got "10s"',
        id="hooks-timeout-string",
    ),
    pytest.param(
        """
        [hooks]
        idle = "x"
        failed = 3
        """,
        3,
        "hooks.failed: expected a shell command string or a list of arguments like "
        '["~/bin/page-me", "--urgent"], got 3',
        id="hooks-value-int",
    ),
    pytest.param(
        """
        [hooks]
        "*" = "  "
        """,
        2,
        'hooks."*": expected a non-empty command: ',
        id="hooks-empty-string",
    ),
    pytest.param(
        """
        [hooks]
        failed = []
        """,
        2,
        "hooks.failed: expected a non-empty list of arguments, got []",
        id="hooks-empty-list",
    ),
    pytest.param(
        """
        [hooks]
        failed = [
            "page-me",
            "--urgent",
            3,
        ]
        """,
        5,
        "hooks.failed[2]: expected a string argument, got 3",
        id="hooks-argv-not-a-string",
    ),
    pytest.param(
        """
        [hooks]
        failed = ["", "x"]
        """,
        2,
        'hooks.failed[0]: expected a program name or path, got ""',
        id="hooks-argv-empty-program",
    ),
    pytest.param(
        """
        [hooks]
        failed = "a\\u0000b"
        """,
        2,
        "hooks.failed: the command contains a NUL character",
        id="hooks-nul",
    ),
    pytest.param(
        """
        [hooks.failed]
        command = "x"
        """,
        1,
        "hooks.failed: expected a shell command string or a list of arguments",
        id="hooks-table-instead-of-command",
    ),
    pytest.param(
        """
        hooks = "x"
        """,
        1,
        'hooks: expected a table [hooks] of event = "command", got "x"',
        id="hooks-not-a-table",
    ),
]


@pytest.mark.parametrize(("text", "line", "message"), ERRORS)
def test_error_names_file_line_and_expectation(
    tmp_path: Path, env: dict[str, str], text: str, line: int, message: str
) -> None:
    err = error_for(tmp_path, env, text)
    assert err.line == line, str(err)
    assert message in err.message
    assert str(err) == f"{tmp_path / 'fleet.toml'}:{line}: {err.message}"
    assert str(err).startswith(f"{tmp_path / 'fleet.toml'}:{line}: ")


def test_error_messages_start_with_the_key(tmp_path: Path, env: dict[str, str]) -> None:
    err = error_for(tmp_path, env, '[hosts.alpha]\nssh = "x:0"\n')
    assert err.message.startswith("hosts.alpha.ssh: ")


def test_not_utf8(tmp_path: Path, env: dict[str, str]) -> None:
    path = tmp_path / "fleet.toml"
    path.write_bytes(b'[hosts.a]\nssh = "a"\ndescription = "caf\xe9"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env)
    assert info.value.line == 3
    assert info.value.message == (
        "not valid UTF-8 (byte 0xe9 at column 19); save the config file as UTF-8"
    )


def test_unreadable_file(
    tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "")

    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env)
    assert info.value.line is None
    assert str(info.value) == f"{path}: cannot read the config file: permission denied"


def test_directory_instead_of_file(tmp_path: Path, env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, env=env)
    assert str(info.value) == f"{tmp_path}: is a directory, expected a TOML config file"


def test_config_error_str_without_line() -> None:
    err = ConfigError(Path("f.toml"), None, "broken")
    assert (str(err), err.path, err.line, err.message) == (
        "f.toml: broken",
        Path("f.toml"),
        None,
        "broken",
    )
    assert str(ConfigError(Path("f.toml"), 4, "broken")) == "f.toml:4: broken"


def test_config_is_frozen(tmp_path: Path) -> None:
    cfg = Config(path=tmp_path, exists=False)
    with pytest.raises(AttributeError):
        cfg.exists = True  # type: ignore[misc]


# --------------------------------------------------------------------------- ssh targets


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("alpha", (None, "alpha", None)),
        ("gpu-via-bastion", (None, "gpu-via-bastion", None)),
        ("host.example.com", (None, "host.example.com", None)),
        ("dev@beta", ("dev", "beta", None)),
        ("beta:2222", (None, "beta", 2222)),
        ("dev@beta.example.com:2222", ("dev", "beta.example.com", 2222)),
        ("10.0.0.7:22", (None, "10.0.0.7", 22)),
        ("[::1]:2222", (None, "::1", 2222)),
        ("[::1]", (None, "::1", None)),
        ("root@[fe80::1%eth0]:22", ("root", "fe80::1%eth0", 22)),
        ("::1", (None, "::1", None)),
        ("first.last@corp@jump", ("first.last@corp", "jump", None)),
        ("h:65535", (None, "h", 65535)),
    ],
)
def test_parse_target(target: str, expected: tuple[str | None, str, int | None]) -> None:
    assert parse_target(target) == expected


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("", "expected a string like"),
        ("-oProxyCommand=x", 'must not start with "-"'),
        ("a b", 'unexpected " "'),
        ("a;b", 'unexpected ";"'),
        ("$(id)", 'unexpected "$"'),
        ("`id`", 'unexpected "`"'),
        ("a|b", 'unexpected "|"'),
        ("a\nb", 'unexpected "\\n"'),
        ("x/y", 'unexpected "/"'),
        ("@host", "bad user name"),
        ("-u@host", 'must not start with "-"'),
        ("u@", "bad host name"),
        ("u@-x", "bad host name"),
        (".x", "bad host name"),
        ("host:", "expected a port in 1..65535"),
        ("host:ab", "expected a port in 1..65535"),
        ("host:0", "expected a port in 1..65535"),
        ("host:65536", "expected a port in 1..65535"),
        ("host:9999999", "expected a port in 1..65535"),
        ("[::1]:0", "expected a port in 1..65535"),
        ("[::1", "expected an IPv6 address"),
        ("[zz]:22", "expected an IPv6 address"),
        ("ho:st:22", "expected an IPv6 address"),
    ],
)
def test_parse_target_rejects(target: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_target(target)
    assert message in str(info.value)


# --------------------------------------------------------------------------- the line locator


def test_locator_headers_keys_and_quoting() -> None:
    text = textwrap.dedent(
        """\
        # [not.a.header]
        top = 1
        [ssh]   # comment
          keepalive = 5
        [ hosts . "al.pha" ]
        ssh = "x"
        [hosts.'lit']
        "quoted key" = 1
        a.b . c = 2
        [[arr]]
        k = 1
        [[arr]]
        k = 2
        """
    )
    index = _Locator(text).index
    assert index[("top",)] == 2
    assert index[("ssh",)] == 3
    assert index[("ssh", "keepalive")] == 4
    assert index[("hosts",)] == 5
    assert index[("hosts", "al.pha")] == 5
    assert index[("hosts", "al.pha", "ssh")] == 6
    assert index[("hosts", "lit")] == 7
    assert index[("hosts", "lit", "quoted key")] == 8
    assert index[("hosts", "lit", "a", "b", "c")] == 9
    assert index[("hosts", "lit", "a")] == 9
    assert index[("arr",)] == 10 and index[("arr", "k")] == 11  # the first one wins
    assert ("not", "a", "header") not in index


def test_locator_skips_the_inside_of_multiline_values() -> None:
    text = textwrap.dedent(
        '''\
        [agents.x]
        description = """
        [hosts.fake]
        ssh = "no"
        \\""" still inside
        """
        waiting = [
            ["nested", "array"],
            '[inner]',
            """multi
        fake = 1
        line""", { a = "}" },
            'last',  # ] in a comment
        ]
        resume = 'after'
        literal = \'\'\'
        [also.fake]
        \'\'\'
        [next]
        '''
    )
    index = _Locator(text).index
    assert ("hosts", "fake") not in index and ("hosts",) not in index
    assert ("also", "fake") not in index
    assert ("agents", "x", "fake") not in index
    assert index[("agents", "x", "description")] == 2
    assert index[("agents", "x", "waiting")] == 7
    assert [index[("agents", "x", "waiting", i)] for i in range(5)] == [8, 9, 10, 12, 13]
    assert ("agents", "x", "waiting", 5) not in index
    assert index[("agents", "x", "resume")] == 15
    assert index[("agents", "x", "literal")] == 16
    assert index[("next",)] == 19


def test_locator_fallbacks() -> None:
    locator = _Locator('[hosts.alpha]\nssh = "a"\n')
    assert locator.line_of(("hosts", "alpha", "ssh")) == 2
    assert locator.line_of(("hosts", "alpha", "missing")) == 1
    assert locator.line_of(("hosts", "beta", "ssh")) == 1  # [hosts] is mentioned on line 1
    assert locator.line_of(("agents", "x")) is None


def test_ui_notify_setting(tmp_path: Path, env: dict[str, str]) -> None:
    assert load_config(write(tmp_path, ""), env=env).notify == "bell"
    assert load_config(write(tmp_path, '[ui]\nnotify = "osc777"\n'), env=env).notify == "osc777"
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, '# the TUI\n[ui]\nnotify = "loud"\n'), env=env)
    assert err.value.line == 3 and 'expected one of "bell", "osc9"' in err.value.message
