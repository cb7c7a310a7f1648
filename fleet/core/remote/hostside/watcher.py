"""The watcher: one small daemon per host that observes fleet's sessions and journals changes.

It outlives SSH connections (that is the point: what happens while the laptop sleeps is still
recorded, in order, in the journal). It learns that a pane changed from its pipe-pane log
growing (the kernel says so at once, changes.py; without inotify a stat each tick), and only
then captures that pane's screen, at once when it was quiet, then at most every CAPTURE_MIN
seconds, all due panes together over one tmux control client (tmuxctl.py; forked tmux when
that fails). Everything else is looked at every TICK: tmux's pane list every PANES_EVERY
seconds, or at once when a run's exit file appears; diff stats share a per-host budget
(DIFFSTAT_GAP), and so does reading the agents' usage records (usage.py). It exits by itself
when no session has been alive for IDLE_EXIT seconds; every helper call that needs it starts
it again.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import signal
import subprocess
import sys
import time
from typing import Optional

from . import (
    changes,
    checkpoints,
    choices,
    decisions,
    gitops,
    journal,
    outbox,
    protocol,
    screenfile,
    sessionrepo,
    signals,
    stuck,
    tmux,
    tmuxctl,
    usage,
    wake,
)
from .classify import IDLE, NEEDS_INPUT, WORKING, classify, matched
from .decisions import DECIDED
from .layout import (
    SESSIONS,
    WATCHER_INFO,
    WATCHER_LOCK,
    WATCHER_LOG,
    HelperError,
    ensure_dirs,
    read_json,
    tmux_name,
    write_json,
)
from .sessions import (
    FINISHED,
    LIVE,
    describe,
    pane_facts,
    session_files,
    sweep_after_exit,
)

TICK = 0.25
# tmux is asked for the pane list this often at least: a pane killed without its wrapper's exit
# file (kill-server, SIGKILL) is noticed within it. A new exit file asks at once.
PANES_EVERY = 2.0
# After an exit file appears tmux may need a moment to mark the pane dead: ask every tick.
PANES_URGENT = 2.0
# A printing pane is captured at most this often, as soon as it may be (not on the tick).
# Measured (tests/bench/README.md): 0.25 s gave the same helper and supervisor CPU with
# twice the status latency (p50 156 ms against 71).
CAPTURE_MIN = 0.15
# After a wake by a printing pane, this long is let pass before the next look: a host whose
# agents all print is looked at 20 times a second at most, not once per line printed.
QUICK_GAP = 0.05
# Panes due this much later are captured with those due now: one tmux call, one wake.
CAPTURE_SLACK = 0.05
CAPTURE_BATCH = 40  # panes per tmux call: keeps the command line far below tmux's limit
DIFFSTAT_MIN = 5.0
# At most one diff stat (two git processes) per this many seconds on the whole host, given to
# the changed session that waited longest: 20 printing agents would otherwise mean 8 git
# processes a second, most of the helper's CPU.
DIFFSTAT_GAP = 1.0
# A file can change without the screen changing (a silent tool, another program in the
# worktree): a running session's stat is refreshed this long after the last one anyway, within
# the host budget above.
DIFFSTAT_STALE = 30.0
# A run whose screen is still blank is starting, not idle (nothing on it is a prompt): opencode
# 1.18 on a busy host draws its first frame 8-12 s after it started, and the keys typed before
# that (a person's first message, fleet's queued note) are lost. A program that never draws
# reads by its rules after this long.
STARTING_MAX = 60.0
IDLE_EXIT = 300.0


def screen_status(text: str, meta: dict, running_for: float, quiet_for: float) -> str:
    """A live pane's status from its screen alone: blank while it starts, else by its rules;
    an agent whose profile names no dialog of its own (a custom command) waits for the
    person when the generic reader finds one at the bottom of its screen."""
    if not text.strip() and running_for < STARTING_MAX:
        return "starting"
    rules = meta.get("rules") or {}
    if not rules.get("waiting") and matched(text, rules) is None and choices.read(text):
        return NEEDS_INPUT
    return classify(text, rules, quiet_for)


def version() -> str:
    base = os.path.basename(sys.argv[0])
    if base.startswith("helper-") and base.endswith(".pyz"):
        return base[len("helper-") : -len(".pyz")]
    return "dev"


class Tracked:
    """What the watcher remembers of one session between ticks."""

    def __init__(self, meta: dict, state: dict) -> None:
        self.id = meta["id"]
        self.log_size = -1
        self.exit_mtime = 0
        self.last_capture = 0.0
        self.pending = True
        self.screen: Optional[str] = None
        self.last_change = time.time()
        self.started = time.time()
        self.status = state.get("status")
        self.since = state.get("since", meta.get("created", time.time()))
        self.exit_code = state.get("exit_code")
        self.diffstat = state.get("diffstat")
        self.diffstat_at = 0.0
        self.diffstat_dirty = True
        self.diffstat_urgent = False
        self.decided_mtime: Optional[int] = None  # of the review marker (0: absent)
        self.runs = meta.get("runs", 1)
        self.rules = meta.get("rules") or {}
        self.agent_session_id = state.get("agent_session_id")
        self.waiting = state.get("waiting")
        self.signal: Optional[dict] = None  # the agent's latest own signal (signals.py)
        self.signal_mtime = 0
        self.choice_of: Optional[tuple] = None  # the screen and signal `waiting_now` was of
        self.waiting_now: Optional[dict] = None
        self.state_dirty = False
        self.git_refusal = ""  # why fleet runs no git for it, once said

    def state(self) -> dict:
        return {
            "status": self.status,
            "since": self.since,
            "exit_code": self.exit_code,
            "diffstat": self.diffstat,
            "agent_session_id": self.agent_session_id,
            "waiting": self.waiting,
        }


class Watcher:
    def __init__(self) -> None:
        self.writer = journal.Writer()
        self.tracked: dict[str, Tracked] = {}
        self.meta_cache: dict[str, tuple] = {}
        self.panes: dict[str, tmux.Pane] = {}
        self.panes_at = 0.0
        self.panes_urgent_until = 0.0
        self.diffstat_at = 0.0
        self.diffstat_pick: Optional[str] = None
        self.last_alive = time.time()
        self.checkpoints = checkpoints.Schedule()
        self.prefetched: dict = {}
        self.printed: set = set()  # sessions whose output log grew since they were captured
        self.control = tmuxctl.Control()
        self.usage = usage.Usage()

    def run(self) -> None:
        waiter = wake.Waiter()  # an agent's hook wakes it early: its dialog is read at once
        printed = changes.Changes({"output.log"}, parent=SESSIONS)
        next_tick = woke_by_print = 0.0
        try:
            while True:
                now = time.time()
                if now >= next_tick:
                    alive = self.tick(now)
                    if alive:
                        self.last_alive = now
                    elif now - self.last_alive > IDLE_EXIT:
                        return
                    next_tick = now + TICK
                    self.watch_logs(printed)
                elif self.printed:
                    self.quick(now)
                dues = self.due_times()
                due = min([next_tick, *dues]) - time.time()
                rest = QUICK_GAP - (time.time() - woke_by_print)
                if printed.ok and (rest > 0 or dues):
                    # Prints wait their turn: until a pane that printed may be captured again
                    # nothing new can be sent, so what prints meanwhile is read then, in one
                    # look. A hook's poke does not wait.
                    poked = waiter.wait(max(rest, due) if dues else rest)
                else:
                    poked = waiter.wait(due, printed.fd)
                if poked:
                    next_tick = 0.0  # a hook's signal: a whole tick reads it
                got = printed.take() if printed.ok else set()
                if None in got:  # a new session: watched from the next tick on
                    next_tick = 0.0
                if got - {None}:
                    self.printed.update(k for k in got if k is not None)
                    woke_by_print = time.time()
        finally:
            waiter.close()
            printed.close()
            # Ended, never orphaned: a client left behind with its reader gone would keep an
            # exiting tmux server from going (see tmuxctl.py).
            self.control.close()

    def watch_logs(self, printed: changes.Changes) -> None:
        """Every tracked session's output log watched for growing; a session that cannot be
        watched is polled by the tick, as every session is without inotify."""
        for sid in self.tracked:
            printed.watch(sid, os.path.join(SESSIONS, sid))
        for sid in set(printed.dirs) - set(self.tracked):
            printed.forget(sid)
        self.printed = {sid for sid, t in self.tracked.items() if t.pending} | self.printed

    def due_times(self) -> list:
        """When each session that printed may be captured next (CAPTURE_MIN apart)."""
        return [
            self.tracked[sid].last_capture + CAPTURE_MIN
            for sid in self.printed
            if sid in self.tracked
        ]

    def quick(self, now: float) -> None:
        """Between ticks: capture just the sessions that printed and are due, so their
        screens go out at once instead of at the next tick; the tick still decides their
        statuses (it would otherwise be done twice)."""
        logs = {}
        for sid in list(self.printed):
            t, cached = self.tracked.get(sid), self.meta_cache.get(sid)
            if t is None or cached is None:
                self.printed.discard(sid)
                continue
            if now - t.last_capture < CAPTURE_MIN - CAPTURE_SLACK:
                continue  # captured a moment ago: due later (due_times)
            self.printed.discard(sid)
            try:
                logs[sid] = os.stat(os.path.join(SESSIONS, sid, "output.log")).st_size
            except OSError:
                continue
        panes = {sid: self.panes.get(tmux_name(sid)) for sid in logs}
        live = {sid: pane for sid, pane in panes.items() if pane is not None and not pane.dead}
        if not live:
            return
        self.prefetch_panes([pane.session for pane in live.values()])
        for sid, pane in live.items():
            t = self.tracked[sid]
            t.log_size = logs[sid]
            self.capture(t, pane, now)

    def tick(self, now: float) -> bool:
        metas = self.load_metas()
        logs = {}
        moved = False
        for meta in metas:
            sdir = os.path.join(SESSIONS, meta["id"])
            try:
                logs[meta["id"]] = os.stat(os.path.join(sdir, "output.log")).st_size
            except OSError:
                logs[meta["id"]] = 0
            try:
                ended = os.stat(os.path.join(sdir, "exit")).st_mtime_ns
            except OSError:
                ended = 0
            t = self.tracked.get(meta["id"])
            if t is None or t.runs != meta.get("runs", 1):
                moved = True
            elif ended != t.exit_mtime:
                t.exit_mtime = ended
                self.panes_urgent_until = now + PANES_URGENT
            if t is not None:
                self.notice_decision(t, sdir)
                self.notice_signal(t, sdir)
        if moved or now < self.panes_urgent_until or now - self.panes_at >= PANES_EVERY:
            self.panes = tmux.panes()
            self.panes_at = now
        self.prefetch(metas, logs, now)
        self.diffstat_pick = self.next_diffstat(now)
        alive = False
        seen = set()
        for meta in metas:
            seen.add(meta["id"])
            alive = self.observe(meta, logs[meta["id"]], now) or alive
        for gone in set(self.tracked) - seen:
            del self.tracked[gone]
            self.writer.append(protocol.removed(gone))
        # The agents' usage records, within a budget of its own (usage.USAGE_BUDGET).
        self.usage.tick(metas, now, self.writer.append)
        return alive

    def prefetch(self, metas: list, logs: dict, now: float) -> None:
        """Capture every pane due this tick in one tmux call: a process per pane per tick
        was most of the helper's CPU on a host whose agents all print."""
        due = []
        for meta in metas:
            t = self.tracked.get(meta["id"])
            pane = self.panes.get(tmux_name(meta["id"]))
            if t is None or pane is None or pane.dead:
                continue
            if (
                t.pending or logs[meta["id"]] != t.log_size
            ) and now - t.last_capture >= CAPTURE_MIN:
                due.append(pane.session)
        self.prefetch_panes(due)

    def prefetch_panes(self, due: list) -> None:
        self.prefetched = {}
        for start in range(0, len(due), CAPTURE_BATCH):
            batch = due[start : start + CAPTURE_BATCH]
            got = self.control.capture(batch)
            if len(got) < len(batch):
                got.update(tmux.capture_many([n for n in batch if n not in got]))
            self.prefetched.update(got)

    def notice_decision(self, t: Tracked, sdir: str) -> None:
        """A review decision (by any fleet) changed the worktree or the index: its diff stat
        is due at once, ahead of the host's budget, so every card shows it within a tick."""
        try:
            decided = os.stat(os.path.join(sdir, DECIDED)).st_mtime_ns
        except OSError:
            decided = 0
        if decided != t.decided_mtime:
            if t.decided_mtime is not None:
                t.diffstat_dirty = t.diffstat_urgent = True
            t.decided_mtime = decided

    def notice_signal(self, t: Tracked, sdir: str) -> None:
        """The agent's hook wrote a new signal: it is read, and the screen captured at once (a
        signal that claims nothing, aider's or Codex's, is such a trigger only)."""
        try:
            mtime = os.stat(os.path.join(sdir, signals.SIGNAL_FILE)).st_mtime_ns
        except OSError:
            mtime = 0
        if mtime == t.signal_mtime:
            return
        t.signal_mtime = mtime
        t.signal = signals.load(t.id) if mtime else None
        t.pending = True
        t.last_capture = 0.0
        found = (t.signal or {}).get("agent_session_id")
        if isinstance(found, str) and found and found != t.agent_session_id:
            t.agent_session_id = found
            t.state_dirty = True

    def next_diffstat(self, now: float) -> Optional[str]:
        """The one session whose diff stat may be refreshed this tick (host budget), if any."""
        urgent = [t for t in self.tracked.values() if t.diffstat_urgent]
        if urgent:
            return urgent[0].id
        if now - self.diffstat_at < DIFFSTAT_GAP:
            return None
        due = [
            t
            for t in self.tracked.values()
            if (t.diffstat_dirty and (t.diffstat is None or now - t.diffstat_at >= DIFFSTAT_MIN))
            or (t.status in (WORKING, IDLE, NEEDS_INPUT) and now - t.diffstat_at >= DIFFSTAT_STALE)
        ]
        if not due:
            return None
        return min(due, key=lambda t: t.diffstat_at).id

    def load_metas(self) -> list:
        """Every session's meta.json, re-read only when its mtime moved (a stat per session)."""
        metas = []
        cache = {}
        for sid, path, st in session_files("meta.json"):
            mtime = st.st_mtime_ns
            cached = self.meta_cache.get(sid)
            if cached is None or cached[0] != mtime:
                meta = read_json(path)
                if not isinstance(meta, dict) or meta.get("id") != sid:
                    continue
                cached = (mtime, meta)
            cache[sid] = cached
            metas.append(cached[1])
        self.meta_cache = cache
        return metas

    def observe(self, meta: dict, log_size: int, now: float) -> bool:
        sid = meta["id"]
        t = self.tracked.get(sid)
        if t is None:
            state = read_json(os.path.join(SESSIONS, sid, "state.json"), None)
            t = self.tracked[sid] = Tracked(meta, state or {})
            if state is None:
                self.writer.append(protocol.created(sid, describe(meta, self.panes)))
        if t.runs != meta.get("runs", 1):  # resumed: a new run starts afresh
            t.runs = meta.get("runs", 1)
            t.rules = meta.get("rules") or {}
            t.started = now
            t.screen = None
            t.pending = True
        pane = self.panes.get(tmux_name(sid))
        status, code = pane_facts(meta, pane)
        if pane is not None:
            if log_size != t.log_size:
                t.log_size = log_size
                t.pending = True
            ended = status is not None and status != t.status
            if ended or (t.pending and now - t.last_capture >= CAPTURE_MIN):
                self.capture(t, pane, now)  # a run that just ended gets its last screen kept
        if status is None:
            status = screen_status(t.screen or "", meta, now - t.started, now - t.last_change)
            if status in ("idle", "needs-input") and pane is not None:
                self.deliver(meta, t, now)
        elif status == "stopped" and not meta.get("stopped") and t.status in FINISHED:
            status, code = t.status, t.exit_code  # a finished run whose tmux session went away
        waiting = None
        if status in (WORKING, IDLE, NEEDS_INPUT):
            status, waiting = signals.decide(t.signal, t.runs, status, t.last_change, now)
        signalled = waiting is not None
        if status in (IDLE, NEEDS_INPUT) and waiting is None:
            found = stuck.read(t.screen or "", meta.get("agent"))
            if found is not None:  # at its input, but it cannot go on: a person must act
                status, waiting = NEEDS_INPUT, found
        if status == NEEDS_INPUT:
            read = self.waiting_for(t, signalled)
            if read is not None and (signalled or waiting is None):
                waiting = read
            elif read is not None:  # stuck, with a dialog on screen: its reason, its options
                waiting = dict(waiting or {}, options=read["options"], id=read["id"])
        changed = False
        if status != t.status or code != t.exit_code or waiting != t.waiting:
            if status in ("exited", "failed") and t.status in LIVE and pane is not None:
                sweep_after_exit(sid, pane.pid)
            self.writer.append(protocol.status(sid, status, t.status, code, waiting))
            if status != t.status or code != t.exit_code:
                t.since = now
            t.status, t.exit_code, t.waiting = status, code, waiting
            changed = True
        if self.diffstat_pick == sid:
            self.diffstat_at = now
            changed = self.refresh_diffstat(meta, t, now) or changed
        made = self.checkpoints.tick(meta, t.diffstat, now)  # a scheduled checkpoint, when due
        if made is not None:
            self.writer.append(made)
        if changed or t.state_dirty:
            t.state_dirty = False
            write_json(os.path.join(SESSIONS, sid, "state.json"), t.state())
        return status in ("starting", "working", "needs-input", "idle")

    def deliver(self, meta: dict, t: Tracked, now: float) -> None:
        """Type what waits in the session's outbox once the agent is at its input."""
        if meta.get("pending_input"):  # the task of a session an older helper started
            task = meta.pop("pending_input")
            write_json(os.path.join(SESSIONS, meta["id"], "meta.json"), meta)
            outbox.put(meta["id"], "task", task)
        if not outbox.has_mail(meta["id"]):
            return
        try:
            outbox.deliver(meta, now - t.last_change, t.screen, self.writer.append)
        except Exception as e:
            self.writer.append(protocol.error(meta["id"], str(e)))

    def waiting_for(self, t: Tracked, signalled: bool) -> Optional[dict]:
        """What a needs-input session waits for: its signal's request (when the signal
        decided) with the options on screen and the request's id; read again only when the
        screen or the signal changed."""
        sig = choices.asked(t.signal, t.runs) if signalled else None
        key = (t.screen, sig.get("t") if sig else None)
        if t.choice_of != key:
            t.choice_of = key
            t.waiting_now = choices.waiting(choices.read(t.screen or ""), sig)
        return t.waiting_now

    def capture(self, t: Tracked, pane, now: float) -> None:
        t.last_capture = now
        t.pending = False
        if pane is None:
            return
        text = self.prefetched.pop(pane.session, None)
        if text is None:
            try:
                text = tmux.capture(pane.session)
            except Exception:
                return
        if text != t.screen:
            t.screen = text
            t.last_change = now
            t.diffstat_dirty = True
            found = agent_session_id(text, t.rules)
            if found and found != t.agent_session_id:
                t.agent_session_id = found
                t.state_dirty = True
            screenfile.write(os.path.join(SESSIONS, t.id, "screen.txt"), text)

    def refresh_diffstat(self, meta: dict, t: Tracked, now: float) -> bool:
        t.diffstat_at = now
        t.diffstat_dirty = t.diffstat_urgent = False
        try:
            repo = sessionrepo.open_repo(meta)
            base = decisions.review_base(meta, repo) if meta.get("base_sha") else "HEAD"
            stat = gitops.diffstat(repo, base)
        except HelperError as e:
            if e.kind == "tampered" and e.message != t.git_refusal:
                t.git_refusal = e.message  # said once, not at every refresh
                self.writer.append(protocol.error(t.id, e.message))
            return False
        except Exception:
            return False
        t.git_refusal = ""
        if stat == t.diffstat:
            return False
        t.diffstat = stat
        self.writer.append(protocol.diffstat(t.id, stat))
        return True


def agent_session_id(screen: str, rules: dict):
    """The agent's own conversation id, when its screen shows one and the profile says how."""
    pattern = rules.get("session_id")
    if not isinstance(pattern, str) or not pattern:
        return None
    try:
        found = re.search(pattern, screen)
    except re.error:
        return None
    return found.group(1) if found and found.groups() else None


def _lock_fd():
    return os.open(WATCHER_LOCK, os.O_RDWR | os.O_CREAT, 0o600)


def _is_locked() -> bool:
    fd = _lock_fd()
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing drops our lock if we took it
    return False


def run_daemon() -> int:
    ensure_dirs()
    fd = _lock_fd()
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return 0  # another watcher runs
    write_json(WATCHER_INFO, {"pid": os.getpid(), "version": version(), "started": time.time()})
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    Watcher().run()
    return 0


def ensure_running() -> None:
    """Start the watcher if none runs; replace one from another helper version."""
    ensure_dirs()
    if _is_locked():
        info = read_json(WATCHER_INFO, {}) or {}
        if info.get("version") == version():
            return
        pid = info.get("pid")
        if isinstance(pid, int) and pid > 1:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.time() + 5
        while _is_locked() and time.time() < deadline:
            time.sleep(0.05)
    log = os.open(WATCHER_LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    subprocess.Popen(
        [sys.executable, os.path.abspath(sys.argv[0]), "watcher"],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
        close_fds=True,
    )
    os.close(log)
