"""Real OpenSSH hosts on loopback, for integration tests and benchmarks.

`LoopbackFleet` starts N `/usr/sbin/sshd -D -e -f CONFIG -p PORT` processes on 127.0.0.1. Each
host logs in as its OWN dedicated Unix user (`fleet-t0`, `fleet-t1`, ...), so each has its own
HOME, tmux server, ~/.fleet and a git repo at ~/repo. Needs root (it creates users, starts sshd
and kills the test users' processes).

No pytest in here: a benchmark script can do

    with LoopbackFleet(n=20) as lf:
        os.environ.update(lf.env())
        ...

Isolation between concurrent runs on the same machine (two developers, or pytest-xdist): a
LoopbackFleet claims each user with an exclusive `flock` on `<tmp>/fleet-tests-users/USER.lock`
and skips users another live run holds, so two runs never kill each other's processes. The lock
dies with the process; the lock file also records the sshd pids of its run, so the next run that
claims the user reaps sshds a SIGKILLed run left behind.

Everything the client side needs lives in one fresh `tempfile.mkdtemp()` directory (mode 0755,
because sshd reads AuthorizedKeysFile as the login user): host keys, the client key,
authorized_keys, one sshd_config per host, ssh_config (one `Host NAME` alias per host),
known_hosts and fleet.toml. Nothing reads the developer's ~/.ssh: ssh_config sets IdentityFile,
IdentitiesOnly, UserKnownHostsFile and GlobalKnownHostsFile explicitly; pass `-F ssh_config` to
ssh and `config=[ssh_config]` to asyncssh.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from fleet.core.remote.hostside import procs

SSHD = "/usr/sbin/sshd"
DEFAULT_NAMES = (
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta",
    "iota", "kappa", "lambda", "mu", "nu", "xi", "omicron", "pi",
)  # fmt: skip
USER_PREFIX = "fleet-t"
MAX_USERS = 256
LOCK_DIR = Path(tempfile.gettempdir()) / "fleet-tests-users"
RUN_DIR_PREFIX = "fleet-loopback-"
# Fixed dates make the initial commit of ~/repo the same hash on every run and every host.
GIT_DATE = "2024-01-01T00:00:00+00:00"
GIT_NAME = "fleet tests"
GIT_EMAIL = "fleet-tests@example.com"
NOTES_TXT = "".join(f"line {i}\n" for i in range(1, 41))
APP_PY = '''"""A tiny app for agents to edit."""


def greet(name: str) -> str:
    return f"hello, {name}"


def add(a: int, b: int) -> int:
    return a + b


if __name__ == "__main__":
    print(greet("world"))
'''
SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class LoopbackError(RuntimeError):
    """A loopback host could not be set up, started or cleaned."""


def missing_requirements() -> list[str]:
    """What this machine lacks to run LoopbackFleet (empty list: all good)."""
    missing = []
    if os.geteuid() != 0:
        missing.append("root (creates users, starts sshd)")
    if not os.access(SSHD, os.X_OK):
        missing.append(f"{SSHD} (apt-get install openssh-server)")
    for tool, pkg in (
        ("ssh", "openssh-client"),
        ("ssh-keygen", "openssh-client"),
        ("tmux", "tmux"),
        ("git", "git"),
        ("useradd", "passwd"),
        ("usermod", "passwd"),
    ):
        if shutil.which(tool, path=SAFE_PATH) is None:
            missing.append(f"{tool} ({pkg})")
    return missing


@dataclass
class LoopbackHost:
    name: str  # the ssh alias in ssh_config and the host key in fleet.toml
    port: int
    user: str
    home: Path
    repo: Path
    uid: int
    gid: int = 0
    host_key: Path = field(default=Path(), repr=False)  # private key file (public: .pub)
    sshd_config: Path = field(default=Path(), repr=False)
    log: Path = field(default=Path(), repr=False)  # sshd's stderr (LogLevel ERROR)

    @property
    def host_key_line(self) -> str:
        """`ssh-ed25519 AAAA...` of this host's current host key."""
        return " ".join(Path(f"{self.host_key}.pub").read_text().split()[:2])

    @property
    def known_hosts_line(self) -> str:
        return f"[127.0.0.1]:{self.port} {self.host_key_line}"


def _run(argv: Sequence[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    kw.setdefault("stdin", subprocess.DEVNULL)
    p = subprocess.run(list(argv), text=True, capture_output=True, **kw)
    if p.returncode != 0:
        raise LoopbackError(f"{argv!r} exited {p.returncode}: {(p.stderr or p.stdout).strip()}")
    return p


def _keygen(path: Path, comment: str) -> None:
    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)])


def _toml_str(s: str) -> str:
    return json.dumps(s)  # a JSON string is a valid TOML basic string


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _proc_uids(pid: int) -> tuple[set[int], str] | None:
    """(real/effective/saved uids, state letter) of a pid, None if it is gone."""
    info = procs.status(pid)
    if not info:
        return None
    uids = {int(x) for x in info.get("Uid", "").split()[:3]}
    return uids, (info.get("State") or "?").split()[0]


def kill_user_processes(uid: int, timeout: float = 10.0) -> None:
    """SIGKILL every process running as uid (tmux servers, agents, sshd user halves), wait."""
    if uid == 0:
        raise LoopbackError("refusing to kill root's processes")
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for pid in procs.pids():
            info = _proc_uids(pid)
            if info is None or uid not in info[0] or info[1] in ("Z", "X"):
                continue
            alive.append(pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if not alive:
            return
        if time.monotonic() > deadline:
            raise LoopbackError(f"processes of uid {uid} survive SIGKILL: {alive}")
        time.sleep(0.01)


def _kill_sshd(proc: subprocess.Popen[bytes]) -> None:
    """Kill an sshd listener AND its per-connection children (they outlive a killed listener).

    Children go first while the listener still runs, so it reaps them (orphans would wait on
    PID 1, which does not always reap); then the listener is frozen so that a connection
    arriving meanwhile cannot leave a live session behind, swept once more, and killed.
    """
    deadline = time.monotonic() + 5.0
    while proc.poll() is None and time.monotonic() < deadline:
        victims = procs.descendants(proc.pid)
        if not victims:
            break
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        while time.monotonic() < deadline and any(procs.parent(p) == proc.pid for p in victims):
            time.sleep(0.002)
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGSTOP)
    for pid in procs.descendants(proc.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.kill()
    proc.wait(timeout=10)


def _owns_listener(pid: int, port: int) -> bool:
    """True if process pid holds the socket LISTENing on 127.0.0.1:port."""
    want = f"0100007F:{port:04X}"
    inodes = set()
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            f = line.split()
            if f[1] == want and f[3] == "0A":
                inodes.add(f"socket:[{f[9]}]")
    if not inodes:
        return False
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                    return True
    return False


def _wait_banner(port: int, proc: subprocess.Popen[bytes], deadline: float) -> None:
    """Until `deadline`: wait until OUR sshd listens on 127.0.0.1:port (not some other server
    that took the port), then poll a TCP connect + read of "SSH-"."""
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LoopbackError(f"sshd on port {port} exited with {proc.returncode}")
        if not _owns_listener(proc.pid, port):
            last = LoopbackError("not listening yet")
            time.sleep(0.005)
            continue
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0) as s:
                s.settimeout(max(0.1, min(2.0, deadline - time.monotonic())))
                data = s.recv(64)
                if data.startswith(b"SSH-"):
                    return
                last = LoopbackError(f"unexpected banner {data!r}")
        except OSError as e:
            last = e
        time.sleep(0.005)
    raise LoopbackError(f"sshd on port {port} gave no banner in time: {last}")


class LoopbackFleet:
    """N real sshd hosts on 127.0.0.1, one dedicated Unix user each. See the module docstring."""

    def __init__(
        self,
        n: int = 2,
        names: Sequence[str] | None = None,
        *,
        sshd_options: Mapping[str, str] | None = None,
        start_timeout: float = 10.0,
        user_prefix: str = USER_PREFIX,
    ) -> None:
        if names is None:
            names = [DEFAULT_NAMES[i] if i < len(DEFAULT_NAMES) else f"h{i}" for i in range(n)]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate host names: {names}")
        self.names = list(names)
        # Extra sshd_config lines, e.g. {"MaxSessions": "50"}. Keep sshd's defaults (MaxSessions
        # 10, MaxStartups 10:30:100) unless a test is about something else: fleet must cope.
        self.sshd_options = dict(sshd_options or {})
        self.start_timeout = start_timeout
        self.user_prefix = user_prefix
        self.hosts: list[LoopbackHost] = []
        self.dir = Path()
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._locks: dict[str, IO[str]] = {}
        self._logs: dict[str, IO[bytes]] = {}
        self._started = False

    # -- paths -------------------------------------------------------------------------------
    @property
    def ssh_config(self) -> Path:
        return self.dir / "ssh_config"

    @property
    def known_hosts(self) -> Path:
        return self.dir / "known_hosts"

    @property
    def client_key(self) -> Path:
        return self.dir / "client_key"

    @property
    def authorized_keys(self) -> Path:
        return self.dir / "authorized_keys"

    @property
    def fleet_toml(self) -> Path:
        return self.dir / "fleet.toml"

    @property
    def state_dir(self) -> Path:
        return self.dir / "state"

    def host(self, name: str) -> LoopbackHost:
        for h in self.hosts:
            if h.name == name:
                return h
        raise KeyError(name)

    def __getitem__(self, name: str) -> LoopbackHost:
        return self.host(name)

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """`base` (default os.environ) plus FLEET_CONFIG and FLEET_HOME for this fleet."""
        env = dict(os.environ if base is None else base)
        env["FLEET_CONFIG"] = str(self.fleet_toml)
        env["FLEET_HOME"] = str(self.state_dir)
        return env

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> LoopbackFleet:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if self._started:
            raise LoopbackError("already started")
        missing = missing_requirements()
        if missing:
            raise LoopbackError("missing: " + ", ".join(missing))
        self._started = True
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix=RUN_DIR_PREFIX))
        os.chmod(self.dir, 0o755)
        self.state_dir.mkdir()
        _keygen(self.client_key, "fleet-tests-client")
        self.authorized_keys.write_text(Path(f"{self.client_key}.pub").read_text())
        users = self._claim_users(len(self.names))
        for name, user in zip(self.names, users, strict=True):
            pw = pwd.getpwnam(user)
            home = Path(pw.pw_dir)
            h = LoopbackHost(
                name=name,
                port=0,
                user=user,
                home=home,
                repo=home / "repo",
                uid=pw.pw_uid,
                gid=pw.pw_gid,
                host_key=self.dir / f"host_key_{name}",
                sshd_config=self.dir / f"sshd_config_{name}",
                log=self.dir / f"sshd_{name}.log",
            )
            self.hosts.append(h)
            self._new_host_key(h)
            self._write_sshd_config(h)
            self.reset_host_state(h)
        # Start every sshd first, then wait for the banners: N hosts start in about the time of 1.
        for h in self.hosts:
            self._spawn(h, _free_port())
        for h in self.hosts:
            self._await_or_retry(h)
        self.write_client_files()

    def stop(self) -> None:
        """Stop every sshd, kill the users' processes, reset their homes, remove the run dir."""
        errors: list[str] = []
        for h in self.hosts:
            try:
                self.stop_host(h.name)
            except Exception as e:
                errors.append(f"{h.name}: {e}")
        for h in self.hosts:
            try:
                self.reset_host_state(h, with_repo=False)
            except Exception as e:
                errors.append(f"{h.name}: {e}")
        for user, f in list(self._locks.items()):
            with contextlib.suppress(OSError):
                f.seek(0)
                f.truncate()
                f.close()
            del self._locks[user]
        if self.dir != Path() and self.dir.name.startswith(RUN_DIR_PREFIX):
            shutil.rmtree(self.dir, ignore_errors=True)
        self.hosts = []
        self._started = False
        if errors:
            raise LoopbackError("cleanup failed: " + "; ".join(errors))

    def stop_host(self, name: str) -> None:
        """Stop one host's sshd AND drop its live connections (as if the machine went away).

        The user's tmux server and agents keep running, as on a real host whose sshd restarts.
        """
        h = self.host(name)
        proc = self._procs.pop(name, None)
        if proc is not None:
            _kill_sshd(proc)
        log = self._logs.pop(name, None)
        if log is not None:
            log.close()
        self._record_pids(h.user)

    def start_host(self, name: str, *, new_host_key: bool = False) -> None:
        """(Re)start one host's sshd on the SAME port. `new_host_key=True` first replaces its
        host key without touching known_hosts (a "host key changed" test); call
        write_client_files() to trust the new key."""
        h = self.host(name)
        if name in self._procs:
            raise LoopbackError(f"{name} is already running")
        if new_host_key:
            self._new_host_key(h)
        self._spawn(h, h.port)
        proc = self._procs[name]
        try:
            _wait_banner(h.port, proc, time.monotonic() + self.start_timeout)
        except LoopbackError as e:
            self.stop_host(name)
            raise LoopbackError(f"{name}: {e}\n{h.log.read_text(errors='replace')}") from None

    def reconfigure_host(self, name: str, options: Mapping[str, str]) -> None:
        """Restart one host's sshd (same port, same key) with these sshd_config lines over the
        fleet's, e.g. {"AllowTcpForwarding": "no"}; {} puts it back as it was."""
        h = self.host(name)
        self.stop_host(name)
        self._write_sshd_config(h, options)
        self.start_host(name)

    def restart_host(self, name: str, **kw: Any) -> None:
        self.stop_host(name)
        self.start_host(name, **kw)

    def is_running(self, name: str) -> bool:
        p = self._procs.get(name)
        return p is not None and p.poll() is None

    def reset(self) -> None:
        """Bring the fleet back to its just-started state, cheaply (about 50 ms a host).

        Restarts any stopped sshd, kills every process of the hosts' users (tmux servers,
        agents, open ssh sessions), recreates their homes from /etc/skel with a fresh ~/repo,
        empties FLEET_HOME and rewrites ssh_config / known_hosts / fleet.toml.
        """
        for h in self.hosts:
            if not self.is_running(h.name):
                self._procs.pop(h.name, None)
                self.start_host(h.name)
        for h in self.hosts:
            self.reset_host_state(h)
        shutil.rmtree(self.state_dir, ignore_errors=True)
        self.state_dir.mkdir()
        self.write_client_files()

    # -- host-side helpers -------------------------------------------------------------------
    def run_as(
        self,
        host: LoopbackHost | str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        check: bool = False,
        **kw: Any,
    ) -> subprocess.CompletedProcess[str]:
        """Run argv on this machine as the host's user (in its home, with a clean environment:
        HOME, USER, LOGNAME, SHELL, PATH, LANG, plus `env`), e.g. to look at tmux or git state.
        Text mode and captured output by default."""
        h = self.host(host) if isinstance(host, str) else host
        full_env = {
            "HOME": str(h.home),
            "USER": h.user,
            "LOGNAME": h.user,
            "SHELL": "/bin/bash",
            "PATH": SAFE_PATH,
            "LANG": "C.UTF-8",
        }
        full_env.update(env or {})
        kw.setdefault("cwd", h.home)
        kw.setdefault("text", True)
        kw.setdefault("stdin", subprocess.DEVNULL)
        if "stdout" not in kw and "stderr" not in kw:
            kw.setdefault("capture_output", True)
        return subprocess.run(
            list(argv), user=h.uid, group=h.gid, extra_groups=[], env=full_env, check=check, **kw
        )

    def reset_host_state(self, h: LoopbackHost, *, with_repo: bool = True) -> None:
        """Kill the user's processes, wipe its home back to /etc/skel (+ a fresh ~/repo)."""
        kill_user_processes(h.uid)
        shutil.rmtree(f"/tmp/tmux-{h.uid}", ignore_errors=True)
        if not h.home.is_dir() or h.home.is_symlink() or h.home == Path("/"):
            raise LoopbackError(f"unexpected home {h.home} for {h.user}")
        for entry in h.home.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        skel = Path("/etc/skel")
        if skel.is_dir():
            for entry in skel.iterdir():
                if entry.is_file():
                    dst = h.home / entry.name
                    shutil.copy2(entry, dst)
                    os.chown(dst, h.uid, h.gid)
        os.chown(h.home, h.uid, h.gid)
        os.chmod(h.home, 0o755)
        if with_repo:
            self._make_repo(h)

    def _make_repo(self, h: LoopbackHost) -> None:
        h.repo.mkdir()
        os.chown(h.repo, h.uid, h.gid)
        genv = {
            "GIT_AUTHOR_DATE": GIT_DATE,
            "GIT_COMMITTER_DATE": GIT_DATE,
            "GIT_CONFIG_NOSYSTEM": "1",
        }
        for argv in (
            ["git", "init", "-q", "-b", "main"],
            ["git", "config", "user.email", GIT_EMAIL],
            ["git", "config", "user.name", GIT_NAME],
        ):
            self.run_as(h, argv, cwd=h.repo, env=genv, check=True)
        for fname, text in (("notes.txt", NOTES_TXT), ("app.py", APP_PY)):
            p = h.repo / fname
            p.write_text(text)
            os.chown(p, h.uid, h.gid)
        for argv in (["git", "add", "-A"], ["git", "commit", "-q", "-m", "init"]):
            self.run_as(h, argv, cwd=h.repo, env=genv, check=True)

    # -- client files ------------------------------------------------------------------------
    def known_hosts_lines(self, exclude: Iterable[str] = ()) -> list[str]:
        """known_hosts lines for every host except the names in `exclude`."""
        skip = set(exclude)
        return [h.known_hosts_line for h in self.hosts if h.name not in skip]

    def write_client_files(self) -> None:
        """(Re)write ssh_config, known_hosts and fleet.toml from the current hosts."""
        self.known_hosts.write_text("\n".join(self.known_hosts_lines()) + "\n")
        blocks = [
            f"Host {h.name}\n"
            f"  HostName 127.0.0.1\n"
            f"  Port {h.port}\n"
            f"  User {h.user}\n"
            f"  IdentityFile {self.client_key}\n"
            f"  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {self.known_hosts}\n"
            f"  GlobalKnownHostsFile /dev/null\n"
            for h in self.hosts
        ]
        self.ssh_config.write_text("\n".join(blocks))
        toml = f"[ssh]\nconfig = {_toml_str(str(self.ssh_config))}\n"
        for h in self.hosts:
            toml += f"\n[hosts.{h.name}]\nssh = {_toml_str(h.name)}\n"
        self.fleet_toml.write_text(toml)

    # -- internals ---------------------------------------------------------------------------
    def _new_host_key(self, h: LoopbackHost) -> None:
        for p in (h.host_key, Path(f"{h.host_key}.pub")):
            p.unlink(missing_ok=True)
        _keygen(h.host_key, f"fleet-tests-{h.name}")

    def _write_sshd_config(self, h: LoopbackHost, extra: Mapping[str, str] | None = None) -> None:
        opts = {
            "ListenAddress": "127.0.0.1",
            "HostKey": str(h.host_key),
            "AuthorizedKeysFile": str(self.authorized_keys),
            "PasswordAuthentication": "no",
            "KbdInteractiveAuthentication": "no",
            "UsePAM": "no",
            "StrictModes": "no",
            "PidFile": "none",
            "LogLevel": "ERROR",
            # fleet uploads its helper over SFTP; internal-sftp needs no extra binary.
            "Subsystem": "sftp internal-sftp",
            "AllowUsers": h.user,
        }
        opts.update(self.sshd_options)
        opts.update(extra or {})
        h.sshd_config.write_text("".join(f"{k} {v}\n" for k, v in opts.items()))

    def _spawn(self, h: LoopbackHost, port: int) -> None:
        h.port = port
        log = open(h.log, "ab")  # noqa: SIM115 - closed in stop_host
        self._logs[h.name] = log
        self._procs[h.name] = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(h.sshd_config), "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        self._record_pids(h.user)

    def _await_or_retry(self, h: LoopbackHost, attempts: int = 5) -> None:
        """Wait for the banner; if the port was taken meanwhile, try another free port."""
        for i in range(attempts):
            proc = self._procs[h.name]
            try:
                _wait_banner(h.port, proc, time.monotonic() + self.start_timeout)
                return
            except LoopbackError as e:
                log = h.log.read_text(errors="replace")
                self.stop_host(h.name)
                if "Address already in use" not in log or i == attempts - 1:
                    raise LoopbackError(f"{h.name}: {e}\n{log}") from None
                self._spawn(h, _free_port())

    def _claim_users(self, n: int) -> list[str]:
        """Lock n free `fleet-tN` users (creating any that do not exist)."""
        LOCK_DIR.mkdir(mode=0o755, exist_ok=True)
        users: list[str] = []
        for i in range(MAX_USERS):
            if len(users) == n:
                break
            user = f"{self.user_prefix}{i}"
            f = open(LOCK_DIR / f"{user}.lock", "a+")  # noqa: SIM115 - held until stop()
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.close()
                continue
            self._locks[user] = f
            self._reap_stale(f)
            self._ensure_user(user)
            users.append(user)
        if len(users) < n:
            raise LoopbackError(f"only {len(users)} free test users of {n}")
        return users

    def _ensure_user(self, user: str) -> None:
        try:
            pwd.getpwnam(user)
        except KeyError:
            # useradd fails when another useradd holds /etc/passwd: serialize ours.
            with open(LOCK_DIR / "useradd.lock", "a") as g:
                fcntl.flock(g, fcntl.LOCK_EX)
                try:
                    pwd.getpwnam(user)
                except KeyError:
                    _run(["useradd", "-m", "-s", "/bin/bash", user])
        # useradd makes a locked account; with UsePAM no, sshd then refuses keys.
        if _shadow_password(user) != "*":
            _run(["usermod", "-p", "*", user])

    def _record_pids(self, user: str) -> None:
        f = self._locks.get(user)
        if f is None:
            return
        pids = [
            {"pid": p.pid, "argv": p.args}
            for name, p in self._procs.items()
            if self.host(name).user == user and p.poll() is None
        ]
        f.seek(0)
        f.truncate()
        f.write(json.dumps({"dir": str(self.dir), "sshd": pids}))
        f.flush()

    @staticmethod
    def _reap_stale(f: IO[str]) -> None:
        """Kill sshds (and remove the run dir) that a killed earlier run left behind."""
        f.seek(0)
        try:
            rec = json.loads(f.read() or "{}")
        except ValueError:
            rec = {}
        for s in rec.get("sshd", []):
            pid, argv = s.get("pid"), s.get("argv")
            # sshd retitles itself "sshd: <argv> [listener] ...": match on the argv inside.
            if isinstance(pid, int) and argv and " ".join(argv) in " ".join(procs.cmdline(pid)):
                for p in [*procs.descendants(pid), pid]:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(p, signal.SIGKILL)
        d = Path(str(rec.get("dir", "")))
        if d.name.startswith(RUN_DIR_PREFIX) and d.parent == Path(tempfile.gettempdir()):
            shutil.rmtree(d, ignore_errors=True)
        f.seek(0)
        f.truncate()


def _shadow_password(user: str) -> str | None:
    """The password field of user in /etc/shadow ("!..." means locked)."""
    with contextlib.suppress(OSError):
        for line in Path("/etc/shadow").read_text().splitlines():
            fields = line.split(":")
            if fields[0] == user and len(fields) > 1:
                return fields[1]
    return None
