"""Sessions on this host: what they are, how they stand, listing, the screen, stopping.

A session is a directory ~/.fleet/sessions/<id>/ (meta.json: what it is; state.json: what the
watcher last saw; output.log: raw pane output; screen.txt: the last screen), a git worktree
~/.fleet/worktrees/<name> on branch fleet/<name>, and a tmux session fleet-<id> on fleet's own
tmux socket. The host is the source of truth for all of it.

Starting and resuming a run: launch.py; typing into it: steer.py; its output log: tail.py.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading

from . import procs, tmux
from .layout import (
    ID_RE,
    SESSIONS,
    HelperError,
    check_id,
    read_json,
    session_dir,
    tmux_name,
    write_json,
)

LIVE = ("starting", "working", "needs-input", "idle")
# A finished run whose tmux session later went away (a reboot) still shows how it ended,
# unless the person stopped it.
FINISHED = ("exited", "failed")


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


def string_arg(args: dict, key: str, default=None, required: bool = False):
    """The request's string `key` (None when absent and not required); refused otherwise."""
    value = args.get(key, default)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise HelperError("bad-request", "%s must be a string" % key)
    if "\0" in value:
        raise HelperError("bad-request", "%s must not contain NUL" % key)
    return value


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
    # What it waits for, when its agent's own hook said (signals.py): only while it waits.
    out["waiting"] = state.get("waiting") if status == "needs-input" else None
    return out


def op_list(args: dict) -> list:
    panes = tmux.panes()
    return [describe(meta, panes) for meta in all_metas()]


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
