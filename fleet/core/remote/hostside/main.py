"""Entry point: one JSON request on stdin's first line, JSON out. Never a shell string.

Plain ops answer one line: {"ok": true, "result": ...} or {"ok": false, "error": {...}}.
Streaming ops (watch, tail) answer one JSON event per line until the client closes stdin.
`serve` (argv) takes many plain requests over one channel: see serve.py.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading

from . import (
    answer,
    checkpoints,
    engine,
    gitops,
    inbox,
    launch,
    protocol,
    removal,
    review,
    serve,
    sessionrepo,
    sessions,
    steer,
    tail,
    tmux,
    tmuxctl,
    tmuxhealth,
    versions,
    watch,
    watcher,
)
from .layout import BASE, HelperError, check_id, ensure_dirs


def op_hello(args: dict) -> dict:
    ensure_dirs()
    try:
        free = shutil.disk_usage(BASE).free
    except OSError:
        free = None
    return {
        "protocol": protocol.VERSION,
        "helper": watcher.version(),
        "python": sys.version.split()[0],
        "tmux": tmux.version(),
        "git": gitops.version(),
        "home": os.path.expanduser("~"),
        "disk_free": free,
        # How fleet's tmux server stands (alive, none yet, wedged, error): see tmuxhealth.py.
        "tmux_server": tmuxhealth.probe(),
    }


PLAIN = {
    "hello": op_hello,
    "list": sessions.op_list,
    "new": launch.op_new,
    "screen": sessions.op_screen,
    "send": steer.op_send,
    "keys": steer.op_keys,
    "answer": answer.op_answer,
    "stop": sessions.op_stop,
    "resume": launch.op_resume,
    "checkpoint": checkpoints.op_checkpoint,
    "checkpoints": checkpoints.op_checkpoints,
    "rewind": checkpoints.op_rewind,
    "diff": review.op_diff,
    "approve": review.op_approve,
    "reject": review.op_reject,
    "undo": review.op_undo,
    "decisions": review.op_decisions,
    "push": review.op_push,
    "land": sessionrepo.op_land,
    "held": removal.op_held,
    "remove": removal.op_remove,
    "agent_versions": versions.op_agent_versions,
    "tmux_repair": tmuxhealth.op_tmux_repair,
    "engine": engine.op_engine,
}
STREAMS = {
    "watch": watch.op_watch,
    "tail": tail.op_tail,
}
protocol.check_handlers(PLAIN, STREAMS)


def _emit(obj: dict) -> None:
    try:
        sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
        sys.stdout.flush()
    except (BrokenPipeError, OSError):
        os._exit(0)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_request(request: dict) -> tuple:
    """(op, args) of a request object; ValueError/KeyError/TypeError when malformed."""
    op = request["op"]
    args = request.get("args")
    args = {} if args is None else args
    if not isinstance(op, str) or not isinstance(args, dict):
        raise TypeError("op must be a string and args an object")
    return op, args


_watcher_started = threading.Lock()


def run_plain(op: str, args: dict) -> dict:
    """One plain operation as its answer object; never raises."""
    try:
        if op not in PLAIN:
            if op in STREAMS:
                raise HelperError("bad-request", "%s runs on a channel of its own" % op)
            raise HelperError("bad-request", "unknown operation %r" % op)
        if protocol.OPS[op].watched:
            with _watcher_started:  # concurrent requests of one serve start one watcher
                watcher.ensure_running()
        return protocol.answer_ok(PLAIN[op](args))
    except HelperError as e:
        return protocol.answer_error(e.kind, _short(e.message, protocol.MAX_ERROR))
    except Exception as e:  # report, never leave the client waiting on a traceback
        what = _short("%s: %s" % (type(e).__name__, e), protocol.MAX_ERROR)
        return protocol.answer_error("internal", what)


def _serve() -> int:
    """The protocol moves to private descriptors; 0 and 1 become /dev/null and stderr, so
    nothing a child process or a stray print does can read a request or corrupt an answer."""
    inp = os.fdopen(os.dup(0), "rb")
    out = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    control = tmuxctl.Control()
    steer.use_control_client(control)
    try:
        return serve.Server(inp, out, parse_request, run_plain, protocol.MAX_REQUEST).run()
    finally:
        steer.use_control_client(None)
        control.close()


def main(argv: list) -> int:
    # No global umask: the agent and its worktree get the person's usual file modes. fleet's
    # own files are created with explicit private modes instead.
    if argv[:1] == ["exec"] and len(argv) == 2:
        return launch.op_exec(argv[1])
    if argv[:1] == ["watcher"]:
        return watcher.run_daemon()
    if argv == ["serve"]:
        return _serve()
    line = sys.stdin.buffer.readline(protocol.MAX_REQUEST + 1)
    try:
        if len(line) > protocol.MAX_REQUEST:
            raise ValueError("longer than %d bytes" % protocol.MAX_REQUEST)
        request = json.loads(line.decode("utf-8"))
        if not isinstance(request, dict):
            raise TypeError("not an object")
        op, args = parse_request(request)
    except (ValueError, KeyError, TypeError, RecursionError) as e:
        # RecursionError: JSON nested thousands deep. Never a traceback: a clear answer.
        why = "missing %s" % e if isinstance(e, KeyError) else str(e)
        why = _short(why or type(e).__name__, 200)
        _emit(
            protocol.answer_error(
                "bad-request", "expected one JSON object {op, args} per call (%s)" % why
            )
        )
        return 2
    if op not in STREAMS:
        answer = run_plain(op, args)
        _emit(answer)
        return 0 if answer["ok"] else 1
    try:
        # Checked before the stream starts: once it runs, a client that already closed its
        # side (as every one-shot caller does) ends the helper at once, error or not.
        if op == "tail":
            sessions.load_meta(check_id(args.get("session")))
        inbox.start(sys.stdin.buffer)  # the client's updates; its end ends the helper
        STREAMS[op](args, _emit)
        return 0
    except HelperError as e:
        _emit(protocol.stream_failed(e.kind, e.message))
    except Exception as e:  # report, never leave the client waiting on a traceback
        _emit(protocol.stream_failed("internal", "%s: %s" % (type(e).__name__, e)))
    return 1
