"""Starting a session's agent, and starting it again: the worktree, the tmux pane, the run.

The pane runs this helper's `exec` (op_exec), which waits until the pane's output log is
attached, then becomes the agent's command under the person's login shell, wrapped by a small
sh that writes down the run's exit code, and by the profile's sandbox when it has one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

from . import gitops, hookinstall, outbox, sandbox, sessionrepo, signals, tmux, tmuxhealth
from .layout import (
    SESSIONS,
    WORKTREES,
    HelperError,
    check_id,
    check_name,
    ensure_dirs,
    new_id,
    read_json,
    session_dir,
    tmux_name,
    write_json,
)
from .sessions import all_metas, describe, load_meta, string_arg
from .steer import send_settings

WIDTH, HEIGHT = 200, 50


def op_new(args: dict) -> dict:
    ensure_dirs()
    agent = string_arg(args, "agent", required=True)
    command = string_arg(args, "command", required=True)
    task = string_arg(args, "task", "") or ""
    repo = gitops.repo_root(string_arg(args, "repo", required=True))
    base = string_arg(args, "base", "HEAD") or "HEAD"
    base_sha = gitops.resolve(repo, base)
    _check_program(command, agent)
    wrapper = _sandbox_words(args)
    check_tmux()
    name = _unique_name(string_arg(args, "name"), agent, task)
    session_id = new_id()
    while os.path.exists(os.path.join(SESSIONS, session_id)):
        session_id = new_id()
    worktree = os.path.join(WORKTREES, name)
    branch = "fleet/" + name
    sdir = os.path.join(SESSIONS, session_id)
    os.makedirs(sdir, mode=0o700)
    try:
        # A sandboxed session gets a repository of its own (see sessionrepo.py).
        git = sessionrepo.create(repo, worktree, branch, base_sha, session_id, wrapper is not None)
    except BaseException:
        shutil.rmtree(sdir, ignore_errors=True)
        raise
    meta = {
        "id": session_id,
        "name": name,
        "agent": agent,
        "repo": repo,
        "base": base,
        "base_sha": base_sha,
        "branch": branch,
        "worktree": worktree,
        "task": task,
        "command": command,
        "resume_command": string_arg(args, "resume_command"),
        "rules": args.get("rules") if isinstance(args.get("rules"), dict) else {},
        "created": round(time.time(), 3),
        "send": send_settings(args),
        "stopped": False,
        "runs": 1,
        "sandbox": wrapper,
        "signals": _signals(args),
        # Where its git state is, for every git call fleet makes for it: never read again
        # from the pointer files in the agent's reach.
        "git": git,
    }
    first = string_arg(args, "first_message", "") or ""
    if first:
        # Typed by the watcher once the agent is at its input (agents that cannot take their
        # task on the command line).
        outbox.put(session_id, "task", first)
    # meta.json is written by _launch once the pane is there: until then the session is
    # nobody's to see (not listed, not journaled), and a failure takes it all back.
    try:
        _launch(meta, command)
    except BaseException as exc:
        _take_back(meta)
        if isinstance(exc, HelperError):
            raise _nothing_left(exc) from None
        raise
    return describe(meta, tmux.panes())


def _take_back(meta: dict) -> None:
    """Undo a session that never started: its tmux session, worktree, branch and directory."""
    with contextlib.suppress(Exception):
        tmux.kill(tmux_name(meta["id"]))
    with contextlib.suppress(Exception):
        sessionrepo.undo_create(meta)
    shutil.rmtree(session_dir(meta["id"]), ignore_errors=True)


def _nothing_left(exc: HelperError) -> HelperError:
    """The error of a `new` that failed at its tmux step, saying what is left (nothing) and,
    when tmux itself is the trouble, what to do about it."""
    message = "the session could not start: %s. Nothing was left behind (no session, " % (
        exc.message.rstrip(".")
    )
    message += "worktree or branch)"
    health = tmuxhealth.probe()
    if health["state"] in (tmuxhealth.WEDGED, tmuxhealth.ERROR):
        message += "; " + tmuxhealth.trouble(health)
    return HelperError(exc.kind, message)


def check_tmux() -> None:
    """Refuse, before anything is made, on a host whose tmux cannot start a session; end
    fleet's own clients that keep an exiting server from going (safe: it has no sessions)."""
    health = tmuxhealth.probe()
    if health["state"] == tmuxhealth.WEDGED and health["how"] == tmuxhealth.CLOSES:
        health = tmuxhealth.repair()["after"]
    if health["state"] == tmuxhealth.WEDGED:
        raise HelperError("tmux-wedged", tmuxhealth.trouble(health) + "; nothing was made")
    if health["state"] == tmuxhealth.ERROR:
        raise HelperError("tmux", tmuxhealth.trouble(health) + "; nothing was made")


def _unique_name(wanted, agent: str, task: str) -> str:
    taken = {m.get("name") for m in all_metas()}
    if wanted:
        name = check_name(wanted)
        if name in taken:
            raise HelperError("exists", "a session named %s already exists on this host" % name)
        return name
    words = re.findall(r"[a-z0-9]+", task.lower())[:4]
    stem = "-".join(words)[:32].strip("-") or agent or "session"
    stem = stem if re.match(r"^[a-z0-9]", stem) else "s-" + stem
    name, n = stem, 2
    while name in taken or os.path.exists(os.path.join(WORKTREES, name)):
        name = "%s-%d" % (stem, n)
        n += 1
    return check_name(name)


def op_resume(args: dict) -> dict:
    session_id = check_id(args.get("session"))
    command = string_arg(args, "command", required=True)
    meta = load_meta(session_id)
    name = tmux_name(session_id)
    pane = tmux.panes().get(name)
    if pane is not None and not pane.dead:
        raise HelperError("running", "session %s is already running" % meta["name"])
    if not os.path.isdir(meta["worktree"]):
        raise HelperError("not-found", "the worktree %s is gone" % meta["worktree"])
    tmux.kill(name)
    if isinstance(args.get("rules"), dict):
        meta["rules"] = args["rules"]
    if "sandbox" in args:  # the profile as configured now: a sandbox added or removed applies
        meta["sandbox"] = _sandbox_words(args)
    if "signals" in args:
        meta["signals"] = _signals(args)
    if meta.get("sandbox"):
        meta["git"] = sessionrepo.make_private(meta)  # once: a sandbox needs its own repository
    meta["stopped"] = False
    meta["runs"] = int(meta.get("runs", 1)) + 1
    write_json(os.path.join(session_dir(session_id), "meta.json"), meta)
    _launch(meta, command)
    return describe(meta, tmux.panes())


def login_shell() -> str:
    return os.environ.get("SHELL") or "/bin/sh"


def _check_program(command: str, agent: str) -> None:
    """Refuse early, and say why, when the agent's program is not installed on this host."""
    try:
        words = shlex.split(command)
    except ValueError:
        return
    while words and (words[0] in ("exec", "env", "nohup") or re.match(r"^\w+=", words[0])):
        words.pop(0)
    if not words or not re.match(r"^[\w.+-]+$", words[0]):
        return  # a path, a variable, a subshell: leave it to the shell
    program = words[0]
    # The agent runs under a login shell (see op_exec), so look it up the same way. The name
    # travels as a positional parameter, never inside the script text.
    found = subprocess.run(
        [login_shell(), "-lc", 'command -v -- "$1"', "fleet", program],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=30,
    )
    if found.returncode != 0:
        raise HelperError(
            "missing-agent",
            "%s is not installed on this host (not found on a login shell's PATH): install "
            "it, or choose another agent" % program,
        )


def _signals(args: dict):
    """Which agent's hooks fleet installs for the run (None: none; the screen alone)."""
    kind = args.get("signals")
    return kind if kind in signals.AGENTS else None


def _sandbox_words(args: dict):
    """The profile's sandbox argv template (None: no sandbox), refused early when unusable."""
    words = args.get("sandbox")
    if words is None:
        return None
    problem = sandbox.check_words(words)
    if problem:
        raise HelperError("bad-request", "sandbox: " + problem)
    missing = sandbox.missing_program(words)
    if missing:
        raise HelperError(
            "missing-sandbox",
            "the agent's sandbox program %s is not installed on this host: install it "
            "(e.g. apt-get install bubblewrap), or remove `sandbox` from the profile" % missing,
        )
    return list(words)


def _launch(meta: dict, command: str) -> None:
    """Start the agent in tmux so that pipe-pane and remain-on-exit are in place first."""
    sdir = session_dir(meta["id"])
    write_json(os.path.join(sdir, "run.json"), {"command": command, "at": time.time()})
    go = os.path.join(sdir, "go")
    for stale in (go, os.path.join(sdir, "exit")):
        with contextlib.suppress(OSError):
            os.unlink(stale)
    os.mkfifo(go, 0o600)
    # The pane runs this helper's `exec`, which waits on the fifo until the log is attached,
    # then becomes the agent. Only helper-owned paths go into this string, each quoted.
    pane_cmd = " ".join(
        shlex.quote(p) for p in (sys.executable, os.path.abspath(sys.argv[0]), "exec", meta["id"])
    )
    name = tmux_name(meta["id"])
    log_path = os.path.join(sdir, "output.log")
    os.close(os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    tmux.start(name, meta["worktree"], pane_cmd, log_path, WIDTH, HEIGHT)
    deadline = time.time() + 15
    while True:
        try:
            fd = os.open(go, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError as e:
            if e.errno != errno.ENXIO or time.time() > deadline:
                tmux.kill(name)
                raise HelperError("start", "the agent's pane did not start") from None
            time.sleep(0.01)
    try:
        write_json(os.path.join(sdir, "meta.json"), meta)  # the pane waits: it reads it next
    except BaseException:
        os.close(fd)
        tmux.kill(name)
        raise
    os.write(fd, b"go\n")
    os.close(fd)


def op_exec(session_id: str):
    """Runs inside the tmux pane: wait for the go signal, then become the agent's command."""
    sdir = session_dir(check_id(session_id))
    with open(os.path.join(sdir, "go"), "rb") as f:
        f.read(3)
    os.unlink(os.path.join(sdir, "go"))
    meta = load_meta(session_id)
    run = read_json(os.path.join(sdir, "run.json"), {}) or {}
    command = run.get("command") or meta["command"]
    os.chdir(meta["worktree"])
    os.environ.update(
        hookinstall.environment(
            meta.get("signals"), session_id, int(meta.get("runs", 1)), sdir, dict(os.environ)
        )
    )
    # The agent runs under a login shell, so it finds what the person's profile puts on PATH
    # (nvm, ~/.local). A small sh stays as its parent to write down the exit code; every value
    # travels as a positional parameter, never inside the script. `trap : INT` (a handler,
    # not an ignore) keeps C-c for the agent: the wrapper waits instead of dying first.
    # A profile's sandbox wraps the login shell: argv words with placeholders filled in,
    # never a shell line. The wrapper sh stays outside it, so the exit file is written even
    # though the sandbox may not reach the session directory.
    agent_argv = [login_shell(), "-lc", command]
    if meta.get("sandbox"):
        try:
            values = sandbox.values_for(meta)
            sandbox.prepare(values)
        except (OSError, ValueError) as exc:
            # Shown on the session's screen; the session reads failed.
            sys.stderr.write("fleet: cannot set up the agent's sandbox: %s\n" % exc)
            sys.exit(126)
        agent_argv = sandbox.expand(meta["sandbox"], values) + agent_argv
    os.execv(
        "/bin/sh",
        [
            "sh",
            "-c",
            _WRAPPER,
            "sh",
            str(meta.get("runs", 1)),
            os.path.join(sdir, "exit"),
            *agent_argv,
        ],
    )


_WRAPPER = (
    "trap : INT QUIT; "
    'run=$1 exitfile=$2; shift 2; "$@"; code=$?; '
    'printf "%s %s\\n" "$run" "$code" > "$exitfile.tmp" && mv -f "$exitfile.tmp" "$exitfile"; '
    'exit "$code"'
)
