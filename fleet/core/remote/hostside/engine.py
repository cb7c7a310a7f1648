"""A container engine's command line on this host, for a pool whose workspaces live here
(`host = "NAME"` in the laptop's fleet.toml): podman or docker only, its arguments as a list
straight to exec, never a shell line. The laptop already may run anything here over SSH: this
op is no new power, only the one way fleet asks, with bounded input and output.

`files` carries the few small files the engine must read (a workspace's sshd keys and config,
made by fleet on the laptop): written to a private directory (0700, files 0600) under
~/.fleet, an argument that is exactly FILES replaced by its path, removed once the command
ended, whatever it said.

Stdlib only, Python 3.8 compatible: this runs on the hosts.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile

from .layout import BASE, HelperError, ensure_dirs

PROGRAMS = ("podman", "docker")
MAX_ARGS = 200
MAX_ARG = 8192  # characters of one argument
MAX_TIMEOUT = 600.0  # seconds
MAX_OUT = 1024 * 1024  # bytes of stdout sent back
MAX_ERR = 2000  # characters of stderr sent back (its end: where the reason is)
FILES = "{files}"
MAX_FILES = 8
MAX_FILE = 64 * 1024  # characters of one file
_FILE_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\Z")


def _argv(args: dict) -> list:
    program = args.get("program")
    if program not in PROGRAMS:
        raise HelperError("bad-request", "program must be one of %s" % ", ".join(PROGRAMS))
    words = args.get("args")
    if not isinstance(words, list) or len(words) > MAX_ARGS:
        raise HelperError("bad-request", "args must be a list of at most %d strings" % MAX_ARGS)
    for word in words:
        if not isinstance(word, str) or len(word) > MAX_ARG or "\0" in word:
            raise HelperError("bad-request", "each argument must be a string without NUL")
    found = shutil.which(program)
    if found is None:
        raise HelperError(
            "missing", "%s is not installed on this host (not found on PATH)" % program
        )
    return [found, *words]


def _files(value: object) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_FILES:
        raise HelperError("bad-request", "files must be an object of at most %d files" % MAX_FILES)
    for name, text in value.items():
        if not _FILE_RE.match(name) or not isinstance(text, str) or len(text) > MAX_FILE:
            raise HelperError("bad-request", "each file must be a plain name and a short text")
    return value


def _write_private(files: dict) -> str:
    ensure_dirs()
    where = tempfile.mkdtemp(prefix="engine-files-", dir=BASE)  # 0700
    for name, text in files.items():
        fd = os.open(os.path.join(where, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
    return where


def op_engine(args: dict) -> dict:
    """{"program", "args", "timeout", "files"} -> {"code", "out", "err"}: what it said."""
    argv = _argv(args)
    files = _files(args.get("files"))
    timeout = args.get("timeout", 120)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise HelperError("bad-request", "timeout must be a number of seconds")
    timeout = min(max(float(timeout), 1.0), MAX_TIMEOUT)
    if not files:
        return _run(argv, timeout)
    where = _write_private(files)
    try:
        return _run([where if a == FILES else a for a in argv], timeout)
    finally:
        shutil.rmtree(where, ignore_errors=True)


def _run(argv: list, timeout: float) -> dict:
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=os.path.expanduser("~"),
            start_new_session=True,  # the engine's own children never hold our channel
        )
    except OSError as e:
        raise HelperError("missing", "cannot run %s: %s" % (argv[0], e.strerror or e)) from None
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise HelperError("timeout", "%s gave no answer within %g s" % (argv[0], timeout)) from None
    return {
        "code": proc.returncode,
        "out": out[:MAX_OUT].decode("utf-8", "replace"),
        "err": err.decode("utf-8", "replace")[-MAX_ERR:],
    }
