"""Sessions on this host: create, list, read, steer, interrupt, stop, resume.

A session is a directory ~/.fleet/sessions/<id>/ (meta.json: what it is; state.json: what the
watcher last saw; output.log: raw pane output; screen.txt: the last screen), a git worktree
~/.fleet/worktrees/<name> on branch fleet/<name>, and a tmux session fleet-<id> on fleet's own
tmux socket. The host is the source of truth for all of it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from typing import Optional

from . import ctlsend, gitops, procs, protocol, sandbox, tmux
from .classify import NEEDS_INPUT, classify
from .layout import (
    ID_RE,
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
from .tmuxctl import Control

WIDTH, HEIGHT = 200, 50
KEY_GAP = 0.2  # seconds between the keys of one `keys` request
LIVE = ("starting", "working", "needs-input", "idle")
# A finished run whose tmux session later went away (a reboot) still shows how it ended,
# unless the person stopped it.
FINISHED = ("exited", "failed")
# The serve helper's tmux control client (ctlsend.py); None in a one-shot helper, where
# attaching a client would cost more forks than it saves.
_control: Optional[Control] = None


def use_control_client(control: Optional[Control]) -> None:
    global _control
    _control = control


def session_ids() -> list:
    try:
        return sorted(d for d in os.listdir(SESSIONS) if ID_RE.match(d))
    except OSError:
        return []


def session_files(name: str):
    """(id, path, stat) of each session's file NAME that exists: one stat a session, what the
    watchers poll with so that an idle session costs nothing more."""
    for sid in session_ids():
        path = os.path.join(SESSIONS, sid, name)
        try:
            st = os.stat(path)
        except OSError:
            continue
        yield sid, path, st


def all_metas() -> list:
    metas = []
    for sid in session_ids():
        meta = read_json(os.path.join(SESSIONS, sid, "meta.json"))
        if isinstance(meta, dict) and meta.get("id") == sid:
            metas.append(meta)
    return metas


def load_meta(session_id: str) -> dict:
    meta = read_json(os.path.join(session_dir(session_id), "meta.json"))
    if not isinstance(meta, dict):
        raise HelperError("not-found", "no session %s on this host" % session_id)
    return meta


def pane_facts(meta: dict, pane) -> tuple:
    """(status, exit_code) from tmux and the run's exit file; status None means alive.

    The exit file comes first: tmux 3.3 was seen here leaving a dead pane's process unreaped
    (so without an exit status) until some other child of its server exited.
    """
    if pane is None or meta.get("stopped"):
        return "stopped", None
    if pane.dead:
        code = exit_code(meta)
        if code is None:
            code = pane.exit_code
        if code is not None:
            return ("exited" if code == 0 else "failed"), code
    return None, None


def exit_code(meta: dict):
    """The exit code the pane's wrapper wrote for the current run, if it has ended."""
    try:
        with open(os.path.join(session_dir(meta["id"]), "exit"), encoding="ascii") as f:
            run, code = f.read().split()
        if int(run) == int(meta.get("runs", 1)):
            return int(code)
    except (OSError, ValueError):
        pass
    return None


def describe(meta: dict, panes: dict) -> dict:
    """The session as `fleet ls` shows it."""
    state = read_json(os.path.join(session_dir(meta["id"]), "state.json"), {}) or {}
    status, code = pane_facts(meta, panes.get(tmux_name(meta["id"])))
    if status is None:
        status = state.get("status") if state.get("status") in LIVE else "starting"
    elif status == "stopped" and not meta.get("stopped") and state.get("status") in FINISHED:
        status, code = state["status"], state.get("exit_code")
    out = {
        k: meta.get(k)
        for k in ("id", "name", "agent", "branch", "worktree", "repo", "base", "task", "created")
    }
    out["status"] = status
    out["exit_code"] = code
    out["status_since"] = state.get("since", meta.get("created"))
    out["diffstat"] = state.get("diffstat") or {"added": 0, "removed": 0, "files": 0}
    out["agent_session_id"] = state.get("agent_session_id")
    return out


def op_list(args: dict) -> list:
    panes = tmux.panes()
    return [describe(meta, panes) for meta in all_metas()]


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


def _str(args: dict, key: str, default=None, required: bool = False):
    value = args.get(key, default)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise HelperError("bad-request", "%s must be a string" % key)
    if "\0" in value:
        raise HelperError("bad-request", "%s must not contain NUL" % key)
    return value


def op_new(args: dict) -> dict:
    ensure_dirs()
    agent = _str(args, "agent", required=True)
    command = _str(args, "command", required=True)
    task = _str(args, "task", "") or ""
    repo = gitops.repo_root(_str(args, "repo", required=True))
    base = _str(args, "base", "HEAD") or "HEAD"
    base_sha = gitops.resolve(repo, base)
    _check_program(command, agent)
    wrapper = _sandbox_words(args)
    name = _unique_name(_str(args, "name"), agent, task)
    session_id = new_id()
    while os.path.exists(os.path.join(SESSIONS, session_id)):
        session_id = new_id()
    worktree = os.path.join(WORKTREES, name)
    branch = "fleet/" + name
    gitops.add_worktree(repo, worktree, branch, base_sha)
    sdir = os.path.join(SESSIONS, session_id)
    os.makedirs(sdir, mode=0o700)
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
        "resume_command": _str(args, "resume_command"),
        "rules": args.get("rules") if isinstance(args.get("rules"), dict) else {},
        "created": round(time.time(), 3),
        # Typed by the watcher once the agent first shows it is ready (agents that cannot
        # take their task on the command line).
        "pending_input": _str(args, "first_message", "") or "",
        "send": _send_settings(args),
        "stopped": False,
        "runs": 1,
        "sandbox": wrapper,
    }
    write_json(os.path.join(sdir, "meta.json"), meta)
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
            "it, or choose another agent with --agent" % program,
        )


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
    os.environ["FLEET_SESSION"] = session_id
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


def _not_running(session_id: str) -> HelperError:
    return HelperError("not-running", "session %s is not running" % session_id)


def _alive_name(session_id: str) -> str:
    name = tmux_name(session_id)
    pane = tmux.panes().get(name)
    if pane is None or pane.dead:
        raise _not_running(session_id)
    return name


def op_screen(args: dict) -> dict:
    session_id = check_id(args.get("session"))
    load_meta(session_id)
    name = tmux_name(session_id)
    if name in tmux.panes():
        return {"text": tmux.capture(name), "live": True}
    try:
        with open(os.path.join(session_dir(session_id), "screen.txt"), encoding="utf-8") as f:
            return {"text": f.read(), "live": False}
    except OSError:
        return {"text": "", "live": False}


def _send_settings(args: dict) -> dict:
    delay = args.get("enter_delay", 0)
    return {
        "mode": "paste" if args.get("mode") == "paste" else "type",
        "enter_delay": float(delay) if isinstance(delay, (int, float)) and 0 <= delay <= 5 else 0,
    }


def type_text(name: str, text: str, settings: dict, enter: bool = True) -> None:
    """Steering: the text exactly as written (never read as tmux key names), then Enter."""
    if settings.get("mode") == "paste":
        tmux.paste(name, text)
    elif text:
        tmux.send_literal(name, text)
    if enter:
        if settings.get("enter_delay"):
            time.sleep(settings["enter_delay"])
        tmux.send_keys(name, ["Enter"])


# What a person types to pick an option at a prompt: "1", "y", "n", "yes", "no".
_ANSWER_RE = re.compile(r"\s*(?:[0-9]{1,2}|[A-Za-z]|yes|no)\s*", re.IGNORECASE)


def refuse_text_at_prompt(session_id: str, text: str, screen: str) -> None:
    """A message typed into a permission dialog answers it: the Enter after it picks the
    highlighted option (seen on Claude Code: "please don't" + Enter chose "Yes" and ran the
    command). So at a prompt only an answer goes through, unless the person insists."""
    if _ANSWER_RE.fullmatch(text):
        return
    rules = load_meta(session_id).get("rules") or {}
    if classify(screen, rules, float("inf")) != NEEDS_INPUT:
        return
    raise HelperError(
        "at-prompt",
        "session %s is waiting at a prompt, and a message typed now would answer it (its Enter "
        "picks the highlighted option). Answer the prompt first (for example 1, 2, y or n), "
        "or send with --force if you mean to type into it" % session_id,
    )


def op_send(args: dict) -> dict:
    session_id = check_id(args.get("session"))
    text = _str(args, "text", required=True)
    settings = _send_settings(args)
    enter = bool(args.get("enter", True))
    force = bool(args.get("force"))
    if not (
        settings["mode"] == "type" and _send_over_control(session_id, text, settings, enter, force)
    ):
        name = _alive_name(session_id)
        if not force and not _ANSWER_RE.fullmatch(text):
            refuse_text_at_prompt(session_id, text, tmux.capture(name))
        type_text(name, text, settings, enter)
    return {"sent": len(text)}


def _send_over_control(
    session_id: str, text: str, settings: dict, enter: bool, force: bool
) -> bool:
    """Typed over the control client: True when done, False when it cannot be used (nothing
    was typed then)."""
    control = _control
    if control is None:
        return False
    name = tmux_name(session_id)
    state = ctlsend.pane_state(control, name)
    if state is None:
        return False
    alive, screen = state
    if not alive:
        raise _not_running(session_id)
    if not force:
        refuse_text_at_prompt(session_id, text, screen)
    data = text.encode("utf-8")
    if settings["enter_delay"] and enter:
        ctlsend.type_bytes(control, name, data, enter=False)
        time.sleep(settings["enter_delay"])
        ctlsend.type_bytes(control, name, b"", enter=True)
    else:
        ctlsend.type_bytes(control, name, data, enter)
    return True


def op_keys(args: dict) -> dict:
    session_id = check_id(args.get("session"))
    keys = args.get("keys")
    if not isinstance(keys, list) or not keys:
        raise HelperError("bad-request", "keys must be a non-empty list of tmux key names")
    name = _alive_name(session_id)
    tmux.send_keys(name, keys[:1])
    for key in keys[1:]:
        # One key per tmux call, apart: sent together, two Escapes arrive as one sequence and
        # opencode (which wants "esc again to interrupt") saw a single press.
        time.sleep(KEY_GAP)
        tmux.send_keys(name, [key])
    return {"keys": keys}


def op_stop(args: dict) -> dict:
    session_id = check_id(args.get("session"))
    meta = load_meta(session_id)
    # Recorded first, so the watcher reads the agent's death as a stop, not a failure.
    meta["stopped"] = True
    write_json(os.path.join(session_dir(session_id), "meta.json"), meta)
    name = tmux_name(session_id)
    panes = tmux.panes()
    pane = panes.get(name)
    leader = pane.pid if pane is not None and not pane.dead and pane.pid > 0 else 0
    if leader:
        # The pane's process group first: that alone works where /proc does not.
        with contextlib.suppress(OSError):
            os.killpg(os.getpgid(leader), signal.SIGTERM)
    procs.terminate(_leftovers(session_id, leader, panes))
    tmux.kill(name)
    return describe(meta, tmux.panes())


def sweep_after_exit(session_id: str, leader: int) -> None:
    """An agent that ended by itself leaves no process behind either: what stayed in its pane's
    Unix session, and its tagged daemons once no other session of its agent runs here (as a
    stop would). On a thread: the grace before SIGKILL must not hold up the watcher."""

    def sweep() -> None:
        with contextlib.suppress(Exception):  # best effort: `fleet stop` sweeps again
            procs.terminate(_leftovers(session_id, leader, tmux.panes()))

    threading.Thread(target=sweep, name="sweep-" + session_id, daemon=True).start()


def _leftovers(session_id: str, leader: int, panes: dict) -> list:
    """What stopping this session must end: every process in its pane's Unix session, and the
    ones that left it (setsid daemons) but carry its FLEET_SESSION tag.

    A daemon may serve every agent of its kind (Codex's app-server is one per CODEX_HOME, and a
    running Codex fails its turns once it is gone), so tagged escapees are left alone while
    another session of the same agent still runs here; the last one to stop ends them all,
    those of earlier sessions included.
    """
    agents, running = {}, set()
    for meta in all_metas():
        sid = meta["id"]
        agents[sid] = meta.get("agent")
        pane = panes.get(tmux_name(sid))
        if sid != session_id and pane is not None and not pane.dead:
            running.add(sid)
    busy = {agents[sid] for sid in running}
    ended = {sid for sid in agents if sid not in running and agents[sid] not in busy}
    return [
        proc.pid
        for proc in procs.own_processes()
        if (leader and proc.sid == leader) or proc.tag in ended
    ]


def op_resume(args: dict) -> dict:
    session_id = check_id(args.get("session"))
    command = _str(args, "command", required=True)
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
    meta["stopped"] = False
    meta["runs"] = int(meta.get("runs", 1)) + 1
    write_json(os.path.join(session_dir(session_id), "meta.json"), meta)
    _launch(meta, command)
    return describe(meta, tmux.panes())


def op_tail(args: dict, emit) -> None:
    """Stream the raw output log from an offset; with follow, until the client goes away."""
    import base64

    session_id = check_id(args.get("session"))
    load_meta(session_id)
    path = os.path.join(session_dir(session_id), "output.log")
    offset = args.get("offset")
    lines = args.get("lines")
    follow = bool(args.get("follow"))
    try:
        size = os.path.getsize(path)
    except OSError:
        size = 0
    if not isinstance(offset, int) or offset < 0:
        offset = _offset_of_last_lines(path, size, lines if isinstance(lines, int) else 50)
    offset = min(offset, size)
    name = tmux_name(session_id)
    while True:
        chunk = b""
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                chunk = f.read(protocol.TAIL_CHUNK)
        except OSError:
            pass
        if chunk:
            emit(protocol.tail_data(offset, base64.b64encode(chunk).decode("ascii")))
            offset += len(chunk)
            continue
        if not follow:
            break
        pane = tmux.panes().get(name)
        if pane is None or pane.dead:
            # Drain what the pane wrote before it ended, then say so.
            with open(path, "rb") as f:
                f.seek(offset)
                if f.read(1):
                    continue
            emit(protocol.tail_end(offset))
            break
        time.sleep(0.2)


def _offset_of_last_lines(path: str, size: int, lines: int) -> int:
    if lines <= 0:
        return size
    try:
        with open(path, "rb") as f:
            start = max(0, size - 256 * 1024)
            f.seek(start)
            data = f.read(size - start)
    except OSError:
        return 0
    pos = len(data)
    if data.endswith(b"\n"):
        pos -= 1
    for _ in range(lines):
        pos = data.rfind(b"\n", 0, pos)
        if pos < 0:
            return start
    return start + pos + 1
