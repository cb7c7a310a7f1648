"""An agent profile's `sandbox`: config checks with file:line, argv expansion that no shell
reads, and the examples in examples/sandbox/ (every one loads; the bubblewrap one makes only
the worktree and its branch's git parts writable)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from fleet.core.agents import resolve_profiles
from fleet.core.config import ConfigError, load_config
from fleet.core.remote.hostside import sandbox

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "sandbox"
SANDBOX_FILES = sorted(EXAMPLES.glob("*.toml"))


def load(tmp_path: Path, text: str) -> dict[str, object]:
    path = tmp_path / "fleet.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path, env={"HOME": str(tmp_path)}).agents


# -- config ----------------------------------------------------------------------------------


def test_sandbox_string_and_list_forms_give_the_same_words(tmp_path: Path) -> None:
    agents = load(
        tmp_path,
        '[agents.a]\ncommand = "a"\nsandbox = "bwrap --bind {worktree} \'{worktree}\' --"\n'
        '[agents.b]\ncommand = "b"\nsandbox = ["bwrap", "--bind", "{worktree}", "{worktree}", '
        '"--"]\n',
    )
    words = ["bwrap", "--bind", "{worktree}", "{worktree}", "--"]
    assert shlex.split(str(agents["a"]["sandbox"])) == words
    assert shlex.split(str(agents["b"]["sandbox"])) == words
    profiles = resolve_profiles(agents)
    assert profiles["a"].sandbox is not None and shlex.split(profiles["a"].sandbox) == words
    assert profiles["claude"].sandbox is None


def test_an_empty_sandbox_means_none(tmp_path: Path) -> None:
    agents = load(tmp_path, '[agents.claude]\nsandbox = ""\n')
    assert resolve_profiles(agents)["claude"].sandbox is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"bwrap --bind {wrktree} {worktree}"', "unknown placeholder {wrktree}"),
        ('"bwrap \'unclosed"', "cannot split into words"),
        ('"{worktree}/bin/wrap"', "the first word must name the wrapper program"),
        ("42", "expected a wrapper command"),
        ('["bwrap", 1]', "expected a list of strings"),
        ('"   "', "expected a non-empty list of words"),
    ],
)
def test_a_bad_sandbox_is_a_config_error_with_its_line(
    tmp_path: Path, value: str, message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load(tmp_path, f'[agents.x]\ncommand = "x"\n\nsandbox = {value}\n')
    assert err.value.line == 4, str(err.value)
    assert "agents.x.sandbox" in str(err.value) and message in str(err.value), str(err.value)


# -- expansion on the host -------------------------------------------------------------------

HOSTILE = "/home/u/.fleet/worktrees/my tree; $(touch /tmp/x) 'q' {branch}"


def test_expansion_keeps_each_value_inside_its_word() -> None:
    words = ["bwrap", "--bind", "{worktree}", "{worktree}", "--setenv", "B", "b={branch}", "--"]
    values = dict.fromkeys(sandbox.PLACEHOLDERS, "?")
    values |= {"worktree": HOSTILE, "branch": "fleet/x"}
    out = sandbox.expand(words, values)
    # One argument each, exactly the value: a placeholder inside a value is not expanded again.
    assert out == ["bwrap", "--bind", HOSTILE, HOSTILE, "--setenv", "B", "b=fleet/x", "--"]


def test_values_come_from_the_sessions_record_not_its_pointer_files(tmp_path: Path) -> None:
    own = tmp_path / "sessions" / "abcdefgh" / "repo"
    gitdir = own / "worktrees" / "w"
    worktree = tmp_path / "wt"
    record = {
        "layout": "private",
        "gitdir": str(gitdir),
        "commondir": str(own),
        "shared": str(tmp_path / "repo" / ".git"),
        "pointers": {},
    }
    meta = {
        "id": "abcdefgh",
        "worktree": str(worktree),
        "branch": "fleet/w",
        "repo": str(tmp_path / "repo"),
        "git": record,
    }
    worktree.mkdir()
    # Whatever the worktree's .git file says, the values are the record's.
    (worktree / ".git").write_text(f"gitdir: {tmp_path / 'elsewhere'}\n")
    values = sandbox.values_for(meta)
    assert values["gitdir"] == str(gitdir) and values["commondir"] == str(own)
    assert values["repogit"] == str(tmp_path / "repo" / ".git")
    assert values["refdir"] == str(own / "refs" / "heads" / "fleet")
    assert values["logdir"] == str(own / "logs" / "refs" / "heads" / "fleet")
    sandbox.prepare(values)
    assert Path(values["refdir"]).is_dir() and Path(values["logdir"]).is_dir()
    # A session still in the person's repository has nothing of its own to bind writable.
    with pytest.raises(ValueError, match="no repository of its own"):
        sandbox.values_for({**meta, "git": {**record, "layout": "shared"}})
    with pytest.raises(ValueError, match="no repository of its own"):
        sandbox.values_for({k: v for k, v in meta.items() if k != "git"})


# -- the examples ----------------------------------------------------------------------------


def test_the_sandbox_examples_are_all_there() -> None:
    assert {p.stem for p in SANDBOX_FILES} == {"bubblewrap", "podman", "docker"}
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    for path in SANDBOX_FILES:
        assert f"({path.name})" in readme, f"examples/sandbox/README.md does not link {path.name}"


@pytest.mark.parametrize("path", SANDBOX_FILES, ids=lambda p: p.name)
def test_each_example_sets_a_sandbox_that_expands(path: Path, tmp_path: Path) -> None:
    cfg = load_config(path, env={"HOME": str(tmp_path)})
    profiles = resolve_profiles(cfg.agents)
    boxed = [p for p in profiles.values() if p.sandbox]
    assert boxed, f"{path.name} sets no sandbox"
    for profile in boxed:
        assert profile.sandbox is not None
        words = shlex.split(profile.sandbox)
        assert sandbox.check_words(words) == ""
        out = sandbox.expand(words, {name: f"/v/{name}" for name in sandbox.PLACEHOLDERS})
        assert not any("{" in word for word in out), out
        assert profile.waiting, "the sandboxed profile still reads needs-input"


def writable(words: list[str]) -> set[str]:
    """The targets bwrap binds read-write (--bind / --bind-try), less those re-bound read-only."""
    rw: set[str] = set()
    for i, word in enumerate(words):
        if word in ("--bind", "--bind-try"):
            rw.add(words[i + 2])
        elif word in ("--ro-bind", "--ro-bind-try"):
            rw.discard(words[i + 2])
    return rw


def test_bubblewrap_example_writes_only_the_worktree_and_its_branch() -> None:
    cfg = load_config(EXAMPLES / "bubblewrap.toml", env={"HOME": "/nonexistent"})
    words = shlex.split(str(cfg.agents["claude"]["sandbox"]))
    assert words[0] == "bwrap" and words[-1] == "--"
    assert words[1:4] == ["--ro-bind", "/", "/"], "everything starts read-only"
    assert writable(words) == {
        "{worktree}",
        "{gitdir}",
        "{commondir}/objects",
        "{refdir}",
        "{logdir}",
        "{home}/.claude",
        "{home}/.claude.json",
    }
    # The git pointers are re-bound read-only on top of the writable worktree and git dir.
    for pointer, within in (
        ("{worktree}/.git", "{worktree}"),
        ("{gitdir}/commondir", "{gitdir}"),
        ("{gitdir}/gitdir", "{gitdir}"),
    ):
        i = words.index(pointer)
        assert words[i - 1] == "--ro-bind" and i > words.index(within), pointer
    for private in ("/tmp", "/run"):
        assert words[words.index(private) - 1] == "--tmpfs"
    assert "--unshare-pid" in words and "TMUX" in words
    assert "--new-session" not in words  # it would take the agent's controlling terminal
