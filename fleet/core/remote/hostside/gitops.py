"""git on the host: the one place the helper runs git. Always argv lists, never a shell.

fleet's git runs outside any sandbox, as the person, in repositories an agent writes. Two rules
keep an agent from making it run a program of the agent's:

1. Where a session's repository is comes from fleet's records, never from files in the agent's
   reach. A session's git calls take a `Repo` (made by sessionrepo.open_repo, which refuses when the
   worktree's git pointers were changed): it names GIT_DIR, GIT_COMMON_DIR and GIT_WORK_TREE
   itself, so git follows neither `<worktree>/.git` nor `<gitdir>/commondir`. A plain path
   inside fleet's worktrees or session directories is refused here, so a call that forgot its
   Repo fails instead of following the agent's pointers.
2. No git config makes fleet's git run a program. Every call forces off what git would start:
   hooks (core.hooksPath=/dev/null), fsmonitor, the pager, editors, external diff, submodule
   recursion, signing (gpg.*), background gc and maintenance, ext:: transports, the
   alternate-refs command, upload-pack's hook, and (unless `transport`) ssh, askpass and
   credential helpers. Filter, diff and merge drivers are named, and the agent's
   .gitattributes chooses which apply (git 2.39 has no --attr-source to ignore them), so the
   drivers every config git reads defines are listed first (`git config --list`, once per
   Repo) and each is emptied with -c: clean, smudge and process (with required=false),
   textconv and command, driver. An emptied textconv or external diff makes the call fail
   rather than run anything; fleet's own diffs pass --no-textconv and --no-ext-diff.

`transport=True` is for `push` alone, in the person's own repository (sessionrepo.shared): it
keeps the person's own core.sshCommand, credential helpers and GIT_SSH* variables, which no
session can write.

A consequence: filters the person configured (git-lfs among them) do not run in fleet's git
either, so fleet's diffs and approvals see such files as they are on disk.
"""

from __future__ import annotations

import os
import subprocess
from typing import Dict, Optional, Tuple

from . import layout
from .layout import HelperError

GIT_TIMEOUT = 120

# Inherited variables git would act on are dropped (they name another repository, index,
# object store, config, pager, editor or diff program); only these pass through.
_KEEP_ENV = frozenset(
    ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL")
)
_TRANSPORT_ENV = frozenset(
    ("GIT_SSH", "GIT_SSH_COMMAND", "GIT_SSH_VARIANT", "GIT_ASKPASS", "GIT_PROXY_COMMAND")
)

# (key, value) forced on every call: see the module docstring.
FORCED = (
    ("core.hooksPath", "/dev/null"),
    ("core.fsmonitor", "false"),
    ("core.pager", "cat"),
    ("core.editor", ":"),
    ("sequence.editor", ":"),
    ("diff.external", ""),
    ("diff.ignoreSubmodules", "all"),
    ("submodule.recurse", "false"),
    ("core.alternateRefsCommand", ""),
    ("protocol.ext.allow", "never"),
    ("uploadpack.packObjectsHook", ""),
    ("commit.gpgSign", "false"),
    ("tag.gpgSign", "false"),
    ("push.gpgSign", "false"),
    ("log.showSignature", "false"),
    ("gpg.program", ""),
    ("gpg.openpgp.program", ""),
    ("gpg.x509.program", ""),
    ("gpg.ssh.program", ""),
    ("gpg.ssh.defaultKeyCommand", ""),
    ("gc.auto", "0"),
    ("maintenance.auto", "false"),
)
# Forced too, except for a push in the person's own repository.
NO_TRANSPORT = (
    ("core.sshCommand", ""),
    ("core.askPass", ""),
    ("credential.helper", ""),  # an empty value clears every helper configured before it
)
# What each named driver may run, and the value that turns it off.
DRIVERS = {
    "filter": (("clean", ""), ("smudge", ""), ("process", ""), ("required", "false")),
    "diff": (("textconv", ""), ("command", "")),
    "merge": (("driver", ""),),
}


class Repo(str):
    """A repository as fleet's records place it. The string is the directory git runs in (a
    session's worktree), so code that joins paths to it keeps working; `layout` is what git is
    told instead of discovering it (GIT_DIR, GIT_COMMON_DIR, GIT_WORK_TREE, ...)."""

    layout: Dict[str, str]
    drivers: Optional[Tuple[Tuple[str, str], ...]]

    def __new__(cls, path: str, where: Dict[str, str]) -> "Repo":
        self = super().__new__(cls, path)
        self.layout = dict(where)
        self.drivers = None  # the driver overrides, listed on first use
        return self


def _inside(path: str, root: str) -> bool:
    path, root = os.path.realpath(path), os.path.realpath(root)
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _fleets_own(path: str) -> bool:
    """Inside fleet's worktrees or session directories, where the agent writes."""
    return _inside(path, layout.WORKTREES) or _inside(path, layout.SESSIONS)


def _environment(transport: bool) -> dict:
    keep = _KEEP_ENV | _TRANSPORT_ENV if transport else _KEEP_ENV
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k in keep}
    env["GIT_LITERAL_PATHSPECS"] = "1"
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["GIT_EDITOR"] = ":"
    env["GIT_SEQUENCE_EDITOR"] = ":"
    env["GIT_PAGER"] = "cat"
    if not transport:
        env["GIT_PROXY_COMMAND"] = ""  # set and empty: git then reads no core.gitProxy
    return env


def _pairs(pairs) -> list:
    out = []
    for key, value in pairs:
        out += ["-c", "%s=%s" % (key, value)]
    return out


def driver_overrides(names) -> Tuple[Tuple[str, str], ...]:
    """(key, value) turning off every filter, diff and merge driver among config `names`."""
    out = []
    seen = set()
    for name in names:
        section, _, rest = name.partition(".")
        sub, dot, _key = rest.rpartition(".")
        if section.lower() not in DRIVERS or not dot or not sub:
            continue
        if "=" in sub or "\n" in sub or "\0" in sub:
            # `-c` splits at the first "=": such a driver could not be turned off.
            raise HelperError(
                "unsafe-config",
                "git config defines a %s driver named %r, which fleet cannot turn off: "
                "fleet runs no git here until it is renamed" % (section, sub),
            )
        if (section, sub) in seen:
            continue
        seen.add((section, sub))
        for key, value in DRIVERS[section.lower()]:
            out.append(("%s.%s.%s" % (section.lower(), sub, key), value))
    return tuple(out)


def _exec(argv: list, env: dict, input_bytes, timeout: float, what: str):
    try:
        return subprocess.run(
            argv,
            input=input_bytes if input_bytes is not None else b"",
            capture_output=True,
            env=env,
            timeout=timeout,
        )
    except FileNotFoundError:
        raise HelperError("missing-tool", "git is not installed on this host") from None
    except subprocess.TimeoutExpired:
        raise HelperError("git", "git %s took longer than %d s" % (what, timeout)) from None


def _where(repo: str) -> Tuple[str, Dict[str, str]]:
    if isinstance(repo, Repo):
        return str(repo), repo.layout
    if _fleets_own(repo):
        raise HelperError(
            "internal",
            "fleet ran git in %s without the session's recorded layout: refused" % repo,
        )
    return repo, {}


def _drivers(cwd: str, base: list, env: dict, timeout: float) -> tuple:
    argv = ["git", "--no-pager", "-C", cwd, *base, "config", "--list", "-z", "--name-only"]
    proc = _exec(argv, env, None, timeout, "config")
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise HelperError("git", "git config failed: %s" % (err or proc.returncode))
    names = proc.stdout.decode("utf-8", "surrogateescape").split("\0")
    return driver_overrides(n for n in names if n)


def hardening(repo: str, transport: bool = False, timeout: float = GIT_TIMEOUT) -> list:
    """The `-c` options every git call in `repo` gets (see the module docstring)."""
    cwd, where = _where(repo)
    base = _pairs(FORCED) + ([] if transport else _pairs(NO_TRANSPORT))
    if isinstance(repo, Repo) and repo.drivers is not None:
        drivers = repo.drivers
    else:
        env = _environment(transport)
        env.update(where)
        drivers = _drivers(cwd, base, env, timeout)
        if isinstance(repo, Repo):
            repo.drivers = drivers
    return base + _pairs(drivers)


def run(
    repo: str,
    *args: str,
    env=None,
    input_bytes=None,
    check: bool = True,
    timeout: float = GIT_TIMEOUT,
    transport: bool = False,
):
    """git in `repo` (a Repo, or a path outside fleet's own directories), argv only, never
    prompting, paths literal, hardened; raises HelperError on failure."""
    cwd, where = _where(repo)
    options = hardening(repo, transport, timeout)
    full_env = _environment(transport)
    full_env.update(where)
    full_env.update(env or {})
    name = next((a for a in args if not a.startswith("-") and "=" not in a), "")
    proc = _exec(
        ["git", "--no-pager", "-C", cwd, *options, *args], full_env, input_bytes, timeout, name
    )
    if check and proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise HelperError("git", "git %s failed: %s" % (name, err or proc.returncode))
    return proc


def git(repo: str, *args: str, check: bool = True, timeout: float = 60) -> str:
    return run(repo, *args, check=check, timeout=timeout).stdout.decode("utf-8", "replace")


def repo_root(path: str) -> str:
    path = os.path.abspath(os.path.expanduser(path))
    if not os.path.isdir(path):
        raise HelperError("not-found", "repository %s does not exist on this host" % path)
    if _fleets_own(path):
        raise HelperError(
            "bad-request",
            "%s is inside fleet's own directories (a session's worktree?): give the "
            "repository the session came from" % path,
        )
    try:
        return git(path, "rev-parse", "--show-toplevel").strip()
    except HelperError:
        raise HelperError("not-a-repo", "%s is not a git repository" % path) from None


def common_dir(repo: str) -> str:
    """The absolute git directory a checkout's worktrees share (<repo>/.git)."""
    out = git(repo, "rev-parse", "--path-format=absolute", "--git-common-dir").strip()
    return os.path.realpath(out)


def resolve(repo: str, ref: str) -> str:
    if ref.startswith("-"):
        raise HelperError("bad-request", "invalid base ref %r" % ref)
    try:
        return git(repo, "rev-parse", "--verify", "--quiet", ref + "^{commit}").strip()
    except HelperError:
        raise HelperError("not-found", "base ref %r not found in %s" % (ref, repo)) from None


def check_branch_free(repo: str, branch: str) -> None:
    if git(repo, "branch", "--list", branch).strip():
        raise HelperError(
            "exists", "branch %s already exists in %s: choose another name" % (branch, repo)
        )


def add_worktree(repo: str, path: str, branch: str, base_sha: str) -> None:
    check_branch_free(repo, branch)
    git(repo, "worktree", "add", "-b", branch, "--", path, base_sha)


def _numstat(worktree: str, *args: str) -> tuple:
    """(added, removed, files) of a `git diff --numstat` against what `args` name."""
    added = removed = files = 0
    out = git(worktree, "diff", "--numstat", "-z", *args, "--", check=False, timeout=20)
    records = out.split("\0")
    i = 0
    while i < len(records):
        rec = records[i]
        i += 1
        if not rec:
            continue
        parts = rec.split("\t")
        if len(parts) < 3:
            continue
        if parts[2] == "":
            i += 2  # a rename: the old and new paths follow as their own records
        files += 1
        if parts[0].isdigit():
            added += int(parts[0])
        if parts[1].isdigit():
            removed += int(parts[1])
    return added, removed, files


def diffstat(worktree: str, base: str) -> dict:
    """Lines added/removed and files changed against the base, untracked files included, and
    how many of those lines are approved (staged in the index).

    Reads only: the agent's index and files are never touched.
    """
    added, removed, files = _numstat(worktree, base)
    staged_added, staged_removed, _ = _numstat(worktree, "--cached", base)
    untracked = git(
        worktree, "ls-files", "--others", "--exclude-standard", "-z", check=False, timeout=20
    )
    for rel in untracked.split("\0"):
        if not rel:
            continue
        files += 1
        added += _count_lines(os.path.join(worktree, rel))
    approved = staged_added + staged_removed
    return {"added": added, "removed": removed, "files": files, "approved": approved}


def _count_lines(path: str, limit: int = 8 * 1024 * 1024) -> int:
    try:
        if os.path.islink(path) or os.path.getsize(path) > limit:
            return 0
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return 0
    if b"\0" in data[:8000]:
        return 0  # binary
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def version() -> str:
    try:
        proc = subprocess.run(["git", "--version"], capture_output=True, timeout=10)
    except FileNotFoundError:
        return ""
    return proc.stdout.decode("utf-8", "replace").strip()
