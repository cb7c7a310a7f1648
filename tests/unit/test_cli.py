"""The `fleet` command line, in process: help, agents, agents check on every recorded screen,
usage and config errors with their exit codes. No host is contacted here."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from fleet.cli import COMMANDS, EPILOG, main
from fleet.core.agents import BUILTIN_PROFILES

SCREENS = Path(__file__).resolve().parent.parent / "fixtures" / "screens"
SCREEN_FILES = sorted(SCREENS.glob("*.txt"))
BUILTINS = ["claude", "codex", "aider", "gemini", "opencode", "shell"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """fleet.cli.main(argv) -> (exit code, stdout, stderr); argparse's SystemExit included."""
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An existing, empty fleet.toml named by $FLEET_CONFIG (write into it to configure)."""
    path = tmp_path / "fleet.toml"
    path.write_text("")
    monkeypatch.setenv("FLEET_CONFIG", str(path))
    monkeypatch.setenv("FLEET_HOME", str(tmp_path / "state"))
    return path


# -- help -------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [["--help"], ["-h"], []], ids=["--help", "-h", "no-command"])
def test_help_exits_0_and_lists_the_commands(
    capsys: pytest.CaptureFixture[str], config: Path, argv: list[str]
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 0
    assert out.startswith("usage: fleet")
    for command in ("hosts", "new", "ls", "screen", "tail", "send", "stop", "resume", "agents"):
        assert command in out
    assert "examples:" in out
    assert err == ""


def test_help_needs_no_config_at_all(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLEET_CONFIG", str(tmp_path / "missing.toml"))
    assert run(capsys, "--help")[0] == 0
    assert run(capsys)[0] == 0


def test_subcommand_help(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, out, _ = run(capsys, "new", "--help")
    assert code == 0 and "--repo" in out and "--agent" in out


# -- agents -----------------------------------------------------------------------------------


def test_agents_lists_the_six_builtins(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, out, err = run(capsys, "agents")
    assert code == 0, err
    rows = out.splitlines()
    assert rows[0].split() == ["AGENT", "SOURCE", "COMMAND", "RESUME"]
    names = [row.split()[0] for row in rows[1:]]
    assert names == BUILTINS
    for row in rows[1:]:
        assert row.split()[1] == "built-in"
    assert sorted(BUILTIN_PROFILES) == sorted(BUILTINS)


def test_agents_json_and_a_config_agent(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    config.write_text('[agents.mine]\ncommand = "mine {task}"\n\n[agents.shell]\nidle_after = 2\n')
    code, out, err = run(capsys, "agents", "--json")
    assert code == 0, err
    profiles = {p["name"]: p for p in json.loads(out)}
    assert list(profiles) == [*BUILTINS, "mine"]
    assert profiles["mine"]["source"] == "config"
    assert profiles["shell"]["source"] == "config+built-in"
    assert profiles["shell"]["idle_after"] == 2
    assert profiles["claude"]["source"] == "built-in"


def _truth(path: Path) -> tuple[str, str]:
    agent, status, _what = path.stem.split("__")
    return agent, status


def test_there_are_recorded_screens_for_every_builtin_and_status() -> None:
    seen = {_truth(p) for p in SCREEN_FILES}
    assert {a for a, _ in seen} == set(BUILTINS)
    for agent in ("claude", "codex", "aider", "gemini", "opencode"):
        for status in ("needs-input", "working", "idle"):
            assert (agent, status) in seen, (agent, status)
    assert len(SCREEN_FILES) >= 26


@pytest.mark.parametrize("path", SCREEN_FILES, ids=lambda p: p.stem)
def test_agents_check_prints_the_true_status_of_every_screen(
    capsys: pytest.CaptureFixture[str], config: Path, path: Path
) -> None:
    agent, status = _truth(path)
    code, out, err = run(capsys, "agents", "check", agent, str(path))
    assert code == 0, err
    assert out == f"{status}\n", f"{path.name}: fleet agents check says {out.strip()!r}"


@pytest.mark.parametrize("path", SCREEN_FILES, ids=lambda p: p.stem)
def test_agents_check_reads_stdin(
    capsys: pytest.CaptureFixture[str],
    config: Path,
    monkeypatch: pytest.MonkeyPatch,
    path: Path,
) -> None:
    agent, status = _truth(path)
    monkeypatch.setattr("sys.stdin", io.StringIO(path.read_text(encoding="utf-8")))
    code, out, _ = run(capsys, "agents", "check", agent, "-")
    assert (code, out) == (0, f"{status}\n"), path.name


def test_agents_check_quiet_for_lets_the_timing_rule_decide(
    capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path
) -> None:
    screen = tmp_path / "screen.txt"
    screen.write_text("some output no pattern knows\n")
    assert run(capsys, "agents", "check", "codex", str(screen))[1] == "idle\n"
    assert run(capsys, "agents", "check", "codex", str(screen), "--quiet-for", "0.5")[1] == (
        "working\n"
    )


def test_agents_check_uses_the_config_patterns(
    capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path
) -> None:
    config.write_text("[agents.shell]\nwaiting = ['^Proceed\\?$']\n")
    screen = tmp_path / "screen.txt"
    screen.write_text("$ deploy\nProceed?\n")
    assert run(capsys, "agents", "check", "shell", str(screen))[1] == "needs-input\n"


def test_agents_check_unknown_agent_exits_2(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    code, out, err = run(capsys, "agents", "check", "nosuchagent", str(SCREEN_FILES[0]))
    assert code == 2
    assert out == ""
    assert "unknown agent 'nosuchagent'" in err
    for name in BUILTINS:
        assert name in err  # it says which agents exist


def test_agents_check_unreadable_file_exits_2(
    capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path
) -> None:
    code, _, err = run(capsys, "agents", "check", "claude", str(tmp_path / "nope.txt"))
    assert code == 2 and "cannot read" in err and "nope.txt" in err


# -- config and usage errors ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('[hosts.alpha]\nssh = "alpha"\n\n[hosts.beta]\nsssh = "beta"\n', 5, 'unknown key "sssh"'),
        ('[ssh]\nkeepalive = "often"\n', 2, "keepalive"),
        ('\n\n[hosts.a]\nssh = "x; rm -rf /"\n', 4, "shell characters"),
        ("[hosts.a]\nssh = \n", 2, "invalid TOML"),
        ("[agents.x]\nwaiting = ['(']\n", 2, "invalid regex"),
    ],
    ids=["unknown-key", "wrong-type", "bad-target", "syntax", "bad-regex"],
)
@pytest.mark.parametrize("command", [["hosts"], ["agents"], ["ls"]])
def test_a_wrong_config_line_exits_2_with_path_and_line(
    capsys: pytest.CaptureFixture[str],
    config: Path,
    text: str,
    line: int,
    message: str,
    command: list[str],
) -> None:
    config.write_text(text)
    code, out, err = run(capsys, *command)
    assert code == 2
    assert out == ""
    assert err.startswith(f"fleet: {config}:{line}: "), err
    assert message in err
    assert err.count("\n") == 1  # one readable line


def test_a_missing_config_named_by_env_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nope.toml"
    monkeypatch.setenv("FLEET_CONFIG", str(missing))
    code, _, err = run(capsys, "hosts")
    assert code == 2 and str(missing) in err and "not found" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["--bogus"],
        ["hosts", "--bogus"],
        ["ls", "--all"],
        ["new", "alpha", "--repo", "r", "--bogus", "task"],
        ["agents", "check", "claude"],
        ["nosuchcommand"],
        ["new"],
        ["send", "s"],
        ["tail", "s", "-n", "many"],
    ],
    ids=lambda a: " ".join(a) or "empty",
)
def test_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str], config: Path, argv: list[str]
) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert "usage: fleet" in err
    assert "error:" in err


def test_hosts_without_hosts_says_how_to_add_one(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    code, out, err = run(capsys, "hosts")
    assert code == 2
    assert out == ""
    assert f"no hosts configured in {config}" in err
    assert "[hosts.NAME]" in err


def test_hosts_without_any_config_file_says_how_to_add_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLEET_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    code, _, err = run(capsys, "hosts")
    assert code == 2
    assert f"no hosts configured in {tmp_path / 'xdg' / 'fleet' / 'fleet.toml'}" in err
    assert "[hosts.NAME]" in err


def test_new_on_an_unknown_host_exits_2_without_connecting(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    config.write_text('[hosts.alpha]\nssh = "alpha"\n')
    code, _, err = run(capsys, "new", "nohost", "--repo", "~/r", "--agent", "shell", "x")
    assert code == 2 and "unknown host 'nohost'" in err and "alpha" in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("fleet ")


def test_help_lists_every_declared_command_once(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    listed = [
        line.split()[0]
        for line in out.split("COMMAND\n", 1)[1].split("\noptions:", 1)[0].splitlines()
        if line.startswith("    ") and not line.startswith("     ")
    ]
    assert listed == list(COMMANDS)
    assert out.rstrip().endswith(EPILOG.rstrip())
    for name in ("hosts", "doctor", "trust", "diff", "checkpoints", "watch", "log", "demo"):
        assert name in COMMANDS


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_has_help(capsys: pytest.CaptureFixture[str], name: str) -> None:
    code, out, err = run(capsys, name, "--help")
    assert code == 0, err
    assert out.startswith(f"usage: fleet {name}")


def test_a_command_prints_no_library_warnings(tmp_path: Path) -> None:
    """Every command's first lines are fleet's own: the libraries' deprecation warnings (asyncssh
    touching DSA under a new cryptography) never reach the person, even with warnings shown."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-W", "default", "-m", "fleet", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert done.returncode == 0
    assert "Warning" not in done.stderr, done.stderr
