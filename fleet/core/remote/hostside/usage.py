"""What each session's agent spent, read from the agent's own records on the host.

Claude Code appends its transcript as JSON lines under ~/.claude/projects/<cwd made a name>/,
one assistant line per content block, each carrying the API response's model and usage (the
same message id on several lines: the laptop keeps the largest figures per id). Codex appends
its rollout under ~/.codex/sessions/YYYY/MM/DD/: a session_meta line names the directory it
runs in, turn_context lines the model, token_count events the usage of each response (a
repeated event with an unchanged total is the same usage said again, skipped here). Gemini
CLI appends its chat recording under ~/.gemini/tmp/<project>/chats/ (the project folder's
.project_root names the worktree): each model message a line with its id, model and tokens.
OpenCode keeps its sessions in a SQLite database (usage_opencode.py). Aider appends to
.aider.chat.history.md in the worktree a "> Tokens: 2.4k sent, 22 received." line per message:
rounded figures, which the laptop shows as approximate.

Records are read once: the byte offset reached in each file is kept in the session's
usage.json, written after the events are journaled (a crash in between reads a record again;
its id makes the laptop count it once). Reading is bounded per call (READ_BYTES per file, a
time budget per tick); a line longer than MAX_RECORD or that does not parse is skipped and
logged, never raised. Other agents' records are not read: the laptop says "usage unknown".

Stdlib only, Python 3.8: this module runs on the hosts.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import sys
import time
from typing import Callable, Dict, Iterator, List, Optional, Tuple

from . import protocol, usage_opencode
from .layout import SESSIONS, read_json, write_json

USAGE_EVERY = 2.0  # seconds between two looks at one session's records
USAGE_BUDGET = 0.02  # seconds of one watcher tick spent reading records, at most
READ_BYTES = 1024 * 1024  # of one file per look: a long backlog is read over several ticks
MAX_RECORD = 1024 * 1024  # bytes of one line; a longer one is skipped
CODEX_DAYS = 31  # day directories of Codex's store looked through, back from today
STATE = "usage.json"

_CLAUDE_UNSAFE = re.compile(r"[^A-Za-z0-9]")
_CLAUDE_MAX_NAME = 200  # Claude Code cuts longer names and adds a hash: not found here


def _warn(message: str) -> None:
    sys.stderr.write("fleet watcher: usage: %s\n" % message)  # the watcher's log


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _epoch(stamp: object, default: float) -> float:
    """An ISO time as the agents write it ("2026-01-25T18:16:50.773Z"), as seconds."""
    if not isinstance(stamp, str):
        return default
    text = stamp.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        # Python 3.8 reads at most 6 fractional digits and no 1- or 2-digit fractions.
        match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?(.*)$", text)
        if not match:
            return default
        try:
            parsed = datetime.datetime.fromisoformat(match.group(1) + match.group(2))
        except ValueError:
            return default
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.timestamp()


# -- the agents' records --------------------------------------------------------------------


def claude_dirs(worktree: str) -> List[str]:
    """Claude Code's project directories for a worktree (its path as given and as real)."""
    base = os.environ.get("CLAUDE_CONFIG_DIR") or os.path.join(os.path.expanduser("~"), ".claude")
    out = []
    for path in (worktree, os.path.realpath(worktree)):
        name = _CLAUDE_UNSAFE.sub("-", path)
        if len(name) <= _CLAUDE_MAX_NAME:
            found = os.path.join(base, "projects", name)
            if found not in out:
                out.append(found)
    return out


def claude_files(meta: dict, index: "CodexIndex") -> List[str]:
    files = []
    for folder in claude_dirs(meta.get("worktree") or ""):
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        for name in names:
            path = os.path.join(folder, name)
            if name.endswith(".jsonl"):
                files.append(path)
            sub = os.path.join(path, "subagents")
            if os.path.isdir(sub):  # a subagent's requests are written beside the session
                files += [
                    os.path.join(sub, n) for n in sorted(os.listdir(sub)) if n.endswith(".jsonl")
                ]
    return files


def claude_record(line: dict, memo: dict, now: float) -> Optional[dict]:
    """The usage of one transcript line, if it is an assistant line that carries one."""
    if line.get("type") != "assistant":
        return None
    message = line.get("message")
    if not isinstance(message, dict) or not isinstance(message.get("usage"), dict):
        return None
    model = message.get("model")
    if not isinstance(model, str) or not model or model == "<synthetic>":
        return None  # written by Claude Code itself, no request behind it
    ident = message.get("id") or line.get("requestId") or line.get("uuid")
    if not isinstance(ident, str) or not ident:
        return None
    usage = message["usage"]
    return protocol.usage_record(
        "claude:" + ident[:160],
        model,
        _epoch(line.get("timestamp"), now),
        input=_count(usage.get("input_tokens")),
        output=_count(usage.get("output_tokens")),
        cache_read=_count(usage.get("cache_read_input_tokens")),
        cache_write=_count(usage.get("cache_creation_input_tokens")),
    )


class CodexIndex:
    """Which Codex rollout files run in which directory, learnt once per file per watcher
    (from its first line) and shared by every session of the host."""

    def __init__(self) -> None:
        self.cwd: Dict[str, str] = {}  # path -> the directory its session_meta names ("": none)
        self.roots: Dict[str, str] = {}  # a Gemini CLI project folder -> its .project_root

    def files_for(self, worktree: str, created: float) -> List[str]:
        base = os.environ.get("CODEX_HOME") or os.path.join(os.path.expanduser("~"), ".codex")
        wanted = {worktree, os.path.realpath(worktree)}
        day = datetime.date.today()
        first = datetime.date.fromtimestamp(max(created, time.time() - CODEX_DAYS * 86400) - 86400)
        out = []
        while day >= first:
            folder = os.path.join(base, "sessions", "%04d" % day.year, "%02d" % day.month)
            folder = os.path.join(folder, "%02d" % day.day)
            day -= datetime.timedelta(days=1)
            try:
                names = sorted(os.listdir(folder))
            except OSError:
                continue
            for name in names:
                if name.startswith("rollout-") and name.endswith(".jsonl"):
                    path = os.path.join(folder, name)
                    if self.cwd_of(path) in wanted:
                        out.append(path)
        return out

    def root_of(self, folder: str) -> str:
        """The directory a Gemini CLI project folder is for (its .project_root), learnt once."""
        known = self.roots.get(folder)
        if known is not None:
            return known
        try:
            with open(os.path.join(folder, ".project_root"), "rb") as f:
                root = f.read(4096).decode("utf-8", "replace").strip()
        except OSError:
            return ""  # not written yet: ask again later
        self.roots[folder] = root
        return root

    def cwd_of(self, path: str) -> str:
        known = self.cwd.get(path)
        if known is not None:
            return known
        cwd = ""
        try:
            with open(path, "rb") as f:
                head = f.readline(MAX_RECORD)
            if not head.endswith(b"\n"):
                return ""  # its first line is still being written: ask again later
            line = json.loads(head.decode("utf-8", "replace"))
            payload = line.get("payload") if isinstance(line, dict) else None
            if line.get("type") == "session_meta" and isinstance(payload, dict):
                found = payload.get("cwd")
                cwd = found if isinstance(found, str) else ""
        except (OSError, ValueError, RecursionError, AttributeError):
            cwd = ""
        self.cwd[path] = cwd
        return cwd


def codex_files(meta: dict, index: CodexIndex) -> List[str]:
    created = meta.get("created")
    return index.files_for(
        meta.get("worktree") or "", created if isinstance(created, (int, float)) else 0.0
    )


def codex_record(line: dict, memo: dict, now: float) -> Optional[dict]:
    """The usage of one token_count event (memo: the model and the running total so far)."""
    payload = line.get("payload")
    if not isinstance(payload, dict):
        return None
    if line.get("type") == "turn_context":
        if isinstance(payload.get("model"), str):
            memo["model"] = payload["model"][:200]
        return None
    if line.get("type") != "event_msg" or payload.get("type") != "token_count":
        return None
    info = payload.get("info")
    if not isinstance(info, dict) or not isinstance(info.get("total_token_usage"), dict):
        return None
    total = _count(info["total_token_usage"].get("total_tokens"))
    if total <= _count(memo.get("total")):
        return None  # the same usage said again
    memo["total"] = total
    last = info.get("last_token_usage")
    last = last if isinstance(last, dict) else info["total_token_usage"]
    # Codex's input includes the cached part, and its output the reasoning.
    cached = _count(last.get("cached_input_tokens"))
    return protocol.usage_record(
        "codex:%s:%d" % (memo.get("file", ""), total),
        memo.get("model") or "",
        _epoch(line.get("timestamp"), now),
        input=max(0, _count(last.get("input_tokens")) - cached),
        output=_count(last.get("output_tokens")),
        cache_read=cached,
        cache_write=0,
    )


def gemini_files(meta: dict, index: CodexIndex) -> List[str]:
    """Gemini CLI's chat recordings for a worktree: ~/.gemini/tmp/<project>/chats/*.jsonl,
    the project directory being the one whose .project_root names the worktree."""
    worktree = meta.get("worktree") or ""
    wanted = {worktree, os.path.realpath(worktree)}
    out = []  # type: List[str]
    seen = set()  # type: set
    for tmp in _gemini_tmps(meta):
        real = os.path.realpath(tmp)
        if real in seen:
            continue
        seen.add(real)
        try:
            projects = sorted(os.listdir(tmp))
        except OSError:
            continue
        for name in projects:
            folder = os.path.join(tmp, name)
            if index.root_of(folder) not in wanted:
                continue
            chats = os.path.join(folder, "chats")
            try:
                names = sorted(os.listdir(chats))
            except OSError:
                continue
            out += [os.path.join(chats, n) for n in names if n.endswith(".jsonl")]
    return out


def _gemini_tmps(meta: dict) -> List[str]:
    """Where Gemini CLI may have recorded this session: the person's ~/.gemini/tmp and the
    session's own home (fleet links the first into the second; a run started before that link
    existed recorded in its own)."""
    base = os.environ.get("GEMINI_CLI_HOME") or os.path.expanduser("~")
    own = os.path.join(SESSIONS, str(meta.get("id", "")), "gemini-home")
    return [os.path.join(base, ".gemini", "tmp"), os.path.join(own, ".gemini", "tmp")]


def gemini_record(message: dict, memo: dict, now: float) -> Optional[dict]:
    """The usage of one of Gemini CLI's recorded model messages (a line of type "gemini" with
    tokens). Lines that set fields again ("$set") repeat what was appended: not read."""
    tokens = message.get("tokens")
    if message.get("type") != "gemini" or not isinstance(tokens, dict):
        return None
    ident = message.get("id")
    model = message.get("model")
    if not isinstance(ident, str) or not ident or not isinstance(model, str):
        return None
    # Gemini's input counts the cached part; thoughts are billed as output, tool-use prompts
    # as input.
    cached = _count(tokens.get("cached"))
    return protocol.usage_record(
        "gemini:" + ident[:160],
        model[:200],
        _epoch(message.get("timestamp"), now),
        input=max(0, _count(tokens.get("input")) - cached) + _count(tokens.get("tool")),
        output=_count(tokens.get("output")) + _count(tokens.get("thoughts")),
        cache_read=cached,
        cache_write=0,
    )


AIDER_HISTORY = ".aider.chat.history.md"
_AIDER_MODEL = re.compile(r"^> (?:Main )?[Mm]odel: (\S+)")
_AIDER_TOKENS = re.compile(
    r"^> Tokens: ([0-9.]{1,9}[kM]?) sent(?:, ([0-9.]{1,9}[kM]?) cache write)?"
    r"(?:, ([0-9.]{1,9}[kM]?) cache hit)?, ([0-9.]{1,9}[kM]?) received\."
)


def aider_files(meta: dict, index: CodexIndex) -> List[str]:
    """Aider's chat history in the session's worktree (its default place, the repo's root)."""
    worktree = meta.get("worktree") or ""
    return [os.path.join(worktree, AIDER_HISTORY)] if worktree else []


def aider_count(text: Optional[str]) -> int:
    """One of aider's rounded figures ("22", "2.4k", "12k") as a number of tokens."""
    if not text:
        return 0
    scale = {"k": 1000, "M": 1000000}.get(text[-1], 1)
    try:
        return round(float(text.rstrip("kM")) * scale)
    except ValueError:
        return 0


def aider_record(line: dict, memo: dict, now: float) -> Optional[dict]:
    """One "> Tokens: 2.4k sent, 22 received." line: a message's requests, rounded as aider
    prints them (its sent counts the cached part). The model is the last one aider named."""
    text = line.get("text", "")
    model = _AIDER_MODEL.match(text)
    if model:
        memo["model"] = model.group(1).split("/")[-1][:200]  # "openai/gpt-5": the provider's
        return None
    found = _AIDER_TOKENS.match(text)
    if not found:
        return None
    sent, write, hit, received = (aider_count(g) for g in found.groups())
    return protocol.usage_record(
        "aider:%s:%d" % (memo.get("file", ""), line.get("offset", 0)),
        memo.get("model") or "",
        now,
        input=max(0, sent - hit),
        output=received,
        cache_read=hit,
        cache_write=write,
    )


Reader = Tuple[
    Callable[[dict, CodexIndex], List[str]], Callable[[dict, dict, float], Optional[dict]]
]
READERS: Dict[str, Reader] = {
    "claude": (claude_files, claude_record),
    "codex": (codex_files, codex_record),
    "gemini": (gemini_files, gemini_record),
    "aider": (aider_files, aider_record),
}
TEXT_RECORDS = frozenset({"aider"})  # lines of text, not JSON
assert set(READERS) | {"opencode"} == set(protocol.USAGE_AGENTS)


# -- reading incrementally ------------------------------------------------------------------


def read_lines(path: str, offset: int) -> Tuple[int, List[Tuple[int, bytes]]]:
    """(the offset after the complete lines read, those lines with their offsets) from
    `offset`, at most READ_BYTES; a line longer than MAX_RECORD is skipped (logged)."""
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read(READ_BYTES)
    lines = []
    start = 0
    while True:
        end = data.find(b"\n", start)
        if end < 0:
            break
        if end - start > MAX_RECORD:
            _warn("skipped a record of %d bytes in %s" % (end - start, path))
        else:
            lines.append((offset + start, data[start:end]))
        start = end + 1
    if start == 0 and len(data) >= READ_BYTES:  # one line longer than a whole read
        _warn("skipped %d bytes of an overlong record in %s" % (len(data), path))
        return offset + len(data), []
    return offset + start, lines


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace").rstrip()


def _parse(raw: bytes) -> Optional[dict]:
    try:
        value = json.loads(raw.decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def read_file(path: str, memo: dict, parse, now: float, text: bool = False) -> Iterator[dict]:
    """The records after memo["offset"] in one file; memo is moved on as they are read."""
    try:
        size = os.stat(path).st_size
    except OSError:
        return
    offset = memo.get("offset", 0)
    if size < offset:  # the file was replaced or cut: read it again (ids dedupe)
        memo.clear()
        offset = 0
    if size == offset:
        return
    name = os.path.basename(path)
    memo.setdefault("file", (name[: -len(".jsonl")] if name.endswith(".jsonl") else name)[-80:])
    try:
        memo["offset"], lines = read_lines(path, offset)
    except OSError as e:
        _warn("cannot read %s: %s" % (path, e))
        return
    for at, raw in lines:
        line = _parse(raw) if not text else {"text": _text(raw), "offset": at}
        if line is None:
            if raw.strip():
                _warn("skipped a record that is not JSON in %s" % path)
            continue
        try:
            record = parse(line, memo, now)
        except Exception as e:  # an agent's record in a shape fleet does not expect
            _warn("skipped a record in %s: %s" % (path, e))
            continue
        if record is not None:
            yield record


class Usage:
    """The watcher's reader of every session's usage records."""

    def __init__(self) -> None:
        self.index = CodexIndex()
        self.looked: Dict[str, float] = {}
        self.states: Dict[str, dict] = {}  # each session's usage.json, read once

    def tick(self, metas: List[dict], now: float, emit: Callable[[dict], object]) -> None:
        """Look at the sessions due, the longest waiting first, within USAGE_BUDGET."""
        started = time.monotonic()
        due = [
            m
            for m in metas
            if m.get("agent") in protocol.USAGE_AGENTS
            and now - self.looked.get(m["id"], 0.0) >= USAGE_EVERY
        ]
        due.sort(key=lambda m: self.looked.get(m["id"], 0.0))
        for meta in due:
            if time.monotonic() - started > USAGE_BUDGET:
                break
            self.looked[meta["id"]] = now
            try:
                self.read_session(meta, now, emit)
            except Exception as e:  # never the watcher's end
                _warn("session %s: %s" % (meta["id"], e))
        known = {m["id"] for m in metas}
        for gone in set(self.looked) - known:
            del self.looked[gone]
            self.states.pop(gone, None)

    def read_session(self, meta: dict, now: float, emit: Callable[[dict], object]) -> None:
        path = os.path.join(SESSIONS, meta["id"], STATE)
        state = self.states.get(meta["id"])
        if state is None:
            state = read_json(path, None)
            if not isinstance(state, dict) or not isinstance(state.get("files"), dict):
                state = {"files": {}}
            self.states[meta["id"]] = state
        memos = state["files"]
        records: Dict[str, dict] = {}
        if meta["agent"] == "opencode":
            found, moved = usage_opencode.read_session(meta, memos)
        else:
            found, moved = self.read_files(meta, memos, now)
        for record in found:
            records[record["id"]] = protocol.merged_record(records.get(record["id"]), record)
        batch = list(records.values())
        for start in range(0, len(batch), protocol.USAGE_BATCH):
            chunk = batch[start : start + protocol.USAGE_BATCH]
            emit(protocol.usage(meta["id"], meta["agent"], chunk))
        if moved:
            write_json(path, state)

    def read_files(self, meta: dict, memos: Dict[str, dict], now: float) -> Tuple[List[dict], bool]:
        """(the new records in the session's agent's files, did an offset move?)"""
        files, parse = READERS[meta["agent"]]
        out: List[dict] = []
        moved = False
        for found in files(meta, self.index):
            memo = memos.setdefault(found, {})
            before = memo.get("offset", -1)
            text = meta["agent"] in TEXT_RECORDS
            out += read_file(found, memo, parse, now, text)
            moved = moved or memo.get("offset", -1) != before
        return out, moved
