"""A scripted model server for real agent CLIs: stdlib only, on 127.0.0.1, one port for all.

It speaks, streamed, OpenAI chat completions (`/v1/chat/completions`: aider, opencode), OpenAI
Responses (`/v1/responses`: Codex), Anthropic Messages (`/v1/messages` + `count_tokens`: Claude
Code) and Gemini (`/v1beta/models/M:streamGenerateContent|generateContent|countTokens`, and
`GET .../models`). A test scripts what the "model" does next, one step per turn request:

    with FakeModel() as model:            # or the `model` fixture
        gate = model.gate()
        model.script(say("Looking.", hold=gate), shell("ls -la"), finish("All listed."))
        ...                               # the agent asks: it streams "Looking." once the test
        gate.open()                       # opens the gate, then calls its shell tool; the tool
        ...                               # result gets "All listed."
        assert model.prompts() == ["list the files"]

Every main request (one the agent makes to go on with its turn) takes the next step; with none
left it gets a short text reply, which ends the turn. A step is one model response: text, then
at most one tool call. A step with no tool ends the agent's turn; the tool's result comes back as
the next main request, which takes the next step. Helper requests (titles, topic checks,
commit messages, Gemini's JSON router calls, requests with no tools from an agent that has tools)
never take a step. Each main request whose last message is the person's text records that text,
with the CLIs' wrappers removed (Claude's <system-reminder>s, aider's "# reminder" tail, Gemini's
<session_context>, Codex's environment items): `prompts()` is what the agent was told, one entry
per time it was sent.

A step maps to each client's own tool: shell -> Bash / exec_command / run_shell_command / bash,
write -> Write / write_file / write (Codex: an escalated shell command), ask -> AskUserQuestion /
request_user_input / ask_user / question. A client without tools (aider) gets the text forms:
a ```bash block, a SEARCH/REPLACE block, a question in prose.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import shlex
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlparse

HOLD_LIMIT = 120.0  # a gate nobody opens must not hang a test run forever
DEFAULT_REPLY = "OK."


class Gate:
    """Holds a streamed reply before its first token until the test opens it."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def open(self) -> None:
        self._event.set()

    def wait(self, limit: float = HOLD_LIMIT) -> None:
        self._event.wait(limit)


@dataclass(frozen=True)
class Step:
    """One model turn: text (streamed over `slow` seconds, after `hold` opens), then a tool."""

    text: str = ""
    tool: str = ""  # "", "shell", "write", "edit", "ask"
    args: dict[str, Any] = field(default_factory=dict)
    slow: float = 0.0
    hold: Gate | None = None


def say(text: str, *, slow: float = 0.0, hold: Gate | None = None) -> Step:
    return Step(text=text, slow=slow, hold=hold)


def finish(text: str = "Done.") -> Step:
    return Step(text=text)


def shell(command: str, *, text: str = "", slow: float = 0.0, hold: Gate | None = None) -> Step:
    return Step(text=text, tool="shell", args={"command": command}, slow=slow, hold=hold)


def write(path: str, content: str, *, text: str = "", hold: Gate | None = None) -> Step:
    """Create `path` (absolute, or relative to the agent's working directory)."""
    return Step(text=text, tool="write", args={"path": path, "content": content}, hold=hold)


def edit(path: str, search: str, replace: str, *, text: str = "") -> Step:
    """aider's SEARCH/REPLACE edit (agents with tools get it as a write of `replace`)."""
    return Step(text=text, tool="edit", args={"path": path, "search": search, "replace": replace})


def ask(question: str, options: tuple[str, ...] = ("Yes", "No"), *, text: str = "") -> Step:
    return Step(text=text, tool="ask", args={"question": question, "options": list(options)})


@dataclass(frozen=True)
class Request:
    """What the server saw, for assertions and failure messages."""

    api: str  # "anthropic", "chat", "responses", "gemini"
    helper: bool
    prompt: str | None  # the person's text when the last message is one
    tool_result: str | None
    step: Step | None
    tools: tuple[str, ...]
    history: int  # messages (or input items) in the request: a resumed chat sends its past
    context: str  # those messages as JSON text, to look for what an earlier turn said


@dataclass(frozen=True)
class Handed:
    """The usage the server reported for one model response: every request gets its own
    counts (input 1000 + 10n, output 20 + n, cache read 300 + 5n, cache write 40 + 2n for
    the n-th), so a sum says which requests it covers. `input` is the part not read from a
    cache (the wire forms that include the cached part add it back)."""

    api: str
    helper: bool
    model: str
    input: int
    output: int
    cache_read: int
    cache_write: int

    @property
    def total(self) -> int:
        return self.input + self.output + self.cache_read + self.cache_write


# ---------------------------------------------------------------- request reading


_REMINDER_RE = re.compile(r"<system-reminder>.*?</system-reminder>", re.S)
_CWD_RES = (
    re.compile(r"(?:Primary )?[Ww]orking directory: (/[^\s<]+)"),
    re.compile(r"<cwd>(/[^<\s]+)</cwd>"),
    re.compile(r"(?:current working directory|working in the directory)[^/\n]*(/[^\s'\"`]+)"),
)


def _text(content: Any) -> str:
    """The text of a message's content (a string or a list of blocks), reminders removed."""
    if content is None:
        return ""
    if isinstance(content, str):
        return _REMINDER_RE.sub("", content).strip()
    parts = []
    for block in content:
        if isinstance(block, dict) and block.get("type", "text") in (
            "text",
            "input_text",
            "output_text",
        ):
            text = _REMINDER_RE.sub("", str(block.get("text", ""))).strip()
            if text:
                parts.append(text)
    return "\n".join(parts)


def _cwd(body: Any) -> str | None:
    blob = json.dumps(body)
    for pattern in _CWD_RES:
        m = pattern.search(blob.replace("\\n", "\n"))
        if m:
            return m.group(1).rstrip(".,")
    return None


@dataclass
class _Turn:
    """One request, read into what the script needs."""

    api: str
    tools: dict[str, dict[str, Any]]  # name -> JSON schema of its parameters
    helper: bool
    prompt: str | None = None
    tool_result: str | None = None
    cwd: str | None = None
    system: str = ""
    history: int = 0
    context: str = ""


def _read_anthropic(body: dict[str, Any]) -> _Turn:
    tools = {t.get("name", ""): t.get("input_schema") or {} for t in body.get("tools") or []}
    system = json.dumps(body.get("system", ""))
    turn = _Turn("anthropic", tools, helper=not tools, system=system)
    # Claude Code may end the list with a role "system" message: the turn is the last
    # user/assistant one.
    convo = [m for m in body.get("messages", []) if m.get("role") in ("user", "assistant")]
    last = convo[-1] if convo else {}
    if last.get("role") == "user":
        content = last.get("content")
        if isinstance(content, list):
            results = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
            if results:
                turn.tool_result = "\n".join(_text(b.get("content")) for b in results)
        turn.prompt = _text(content) or None
    turn.cwd = _cwd(body.get("system"))
    turn.history = len(convo)
    turn.context = json.dumps(convo)
    return turn


def _read_chat(body: dict[str, Any]) -> _Turn:
    tools = {}
    for t in body.get("tools") or []:
        fn = t.get("function", t)
        tools[fn.get("name", "")] = fn.get("parameters") or {}
    msgs = body.get("messages", [])
    system = "\n".join(_text(m.get("content")) for m in msgs if m.get("role") == "system")
    low = system.lower()
    # aider never sends tools: its helpers are the commit message and the history summary
    # (its turns are streamed unless `stream: false`). opencode's title request is the one
    # without tools.
    helper = not tools and (
        "commit message" in low or "summar" in low or re.search(r"\btitle\b", low) is not None
    )
    turn = _Turn("chat", tools, helper=helper, system=system)
    last = msgs[-1] if msgs else {}
    if last.get("role") == "tool":
        turn.tool_result = _text(last.get("content"))
    elif last.get("role") == "user":
        # aider appends "\n\n# <reminder about the edit format>" to the person's text.
        turn.prompt = _text(last.get("content")).split("\n\n# ")[0].strip() or None
    turn.cwd = _cwd(system)
    turn.history = len(msgs)
    turn.context = json.dumps(msgs)
    return turn


def _read_responses(body: dict[str, Any]) -> _Turn:
    tools = {}
    for t in body.get("tools") or []:
        fn = t.get("function", t)
        tools[fn.get("name") or t.get("type", "")] = fn.get("parameters") or {}
    items = body.get("input", [])
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    turn = _Turn("responses", tools, helper=not tools)
    last = items[-1] if items else {}
    if str(last.get("type", "")).endswith("_call_output"):
        output = last.get("output")
        turn.tool_result = output if isinstance(output, str) else json.dumps(output)
    elif last.get("role") == "user":
        text = _text(last.get("content"))
        wrapped = text.lstrip().startswith(("<environment_context>", "# AGENTS.md", "<user_"))
        turn.prompt = None if wrapped else (text or None)
    turn.cwd = _cwd(items)
    turn.history = len(items)
    turn.context = json.dumps(items)
    return turn


def _read_gemini(body: dict[str, Any]) -> _Turn:
    tools = {}
    for group in body.get("tools") or []:
        for fd in group.get("functionDeclarations") or []:
            tools[fd.get("name", "")] = fd.get("parametersJsonSchema") or fd.get("parameters") or {}
    config = body.get("generationConfig") or {}
    json_mode = config.get("responseMimeType") == "application/json" or bool(
        config.get("responseJsonSchema") or config.get("responseSchema")
    )
    turn = _Turn("gemini", tools, helper=json_mode or not tools)
    contents = body.get("contents", [])
    last = contents[-1] if contents else {}
    parts = last.get("parts", [])
    results = [p["functionResponse"] for p in parts if "functionResponse" in p]
    if results:
        turn.tool_result = json.dumps(results)
    else:
        text = "\n".join(p.get("text", "") for p in parts if "text" in p)
        if "</session_context>" in text:
            text = text.split("</session_context>")[-1]
        turn.prompt = text.strip() or None
    turn.cwd = _cwd(contents[:1])
    turn.history = len(contents)
    turn.context = json.dumps(contents)
    return turn


# ---------------------------------------------------------------- turning a step into a reply


SHELL_TOOLS = ("Bash", "exec_command", "run_shell_command", "bash", "shell")
WRITE_TOOLS = ("Write", "write_file", "write")
ASK_TOOLS = ("AskUserQuestion", "request_user_input", "ask_user", "question")


@dataclass
class _Reply:
    text: str
    call: tuple[str, dict[str, Any]] | None = None


def _pick(turn: _Turn, names: tuple[str, ...]) -> str | None:
    return next((n for n in names if n in turn.tools), None)


def _abs(turn: _Turn, path: str) -> str:
    if PurePosixPath(path).is_absolute() or not turn.cwd:
        return path
    return str(PurePosixPath(turn.cwd) / path)


def _shell_args(schema: dict[str, Any], command: str, why: str) -> dict[str, Any]:
    props = schema.get("properties") or {}
    args: dict[str, Any] = {}
    for key, spec in props.items():
        if key in ("command", "cmd"):
            args[key] = ["bash", "-lc", command] if spec.get("type") == "array" else command
        elif key == "description":
            args[key] = why
    return args


def _question(tool: str, question: str, options: list[str]) -> dict[str, Any]:
    q: dict[str, Any] = {
        "question": question,
        "header": "Question",
        "options": [{"label": o, "description": f"Choose {o}"} for o in options],
    }
    if tool == "AskUserQuestion":
        q["multiSelect"] = False
    elif tool == "request_user_input":
        q["id"] = "choice"
    elif tool == "ask_user":
        q["type"] = "choice"
    return {"questions": [q]}


def _aider_text(step: Step) -> str:
    """The text-only form of a step, for clients without tools (aider's diff edit format)."""
    lead = step.text + "\n\n" if step.text else ""
    a = step.args
    if step.tool == "shell":
        return f"{lead}```bash\n{a['command']}\n```\n"
    if step.tool in ("write", "edit"):
        search = a.get("search", "")
        new = a.get("replace", a.get("content", ""))
        return (
            f"{lead}{a['path']}\n```\n<<<<<<< SEARCH\n{search}=======\n{new}>>>>>>> REPLACE\n```\n"
        )
    if step.tool == "ask":
        return f"{lead}{a['question']} ({' or '.join(a['options'])})"
    return step.text


def _reply(turn: _Turn, step: Step) -> _Reply:
    if not step.tool:
        return _Reply(step.text)
    if not turn.tools:
        return _Reply(_aider_text(step))
    a = step.args
    if step.tool == "ask":
        tool = _pick(turn, ASK_TOOLS)
        if tool is None:
            return _Reply(_aider_text(step))
        return _Reply(step.text, (tool, _question(tool, a["question"], a["options"])))
    if step.tool in ("write", "edit"):
        path = _abs(turn, a["path"])
        content = a.get("replace", a.get("content", ""))
        tool = _pick(turn, WRITE_TOOLS)
        if tool is not None:
            props = turn.tools[tool].get("properties") or {}
            key = next((k for k in ("file_path", "filePath", "path") if k in props), "file_path")
            return _Reply(step.text, (tool, {key: path, "content": content}))
        # Codex writes files with its shell; asking for escalation makes it ask the person.
        tool = _pick(turn, SHELL_TOOLS)
        if tool is None:
            return _Reply(_aider_text(step))
        command = f"printf %s {shlex.quote(content)} > {shlex.quote(path)}"
        args = _shell_args(turn.tools[tool], command, f"Create {a['path']}")
        if tool == "exec_command":
            args["sandbox_permissions"] = "require_escalated"
            args["justification"] = f"Do you want to allow me to create {a['path']}?"
        return _Reply(step.text, (tool, args))
    tool = _pick(turn, SHELL_TOOLS)
    if tool is None:
        return _Reply(_aider_text(step))
    return _Reply(step.text, (tool, _shell_args(turn.tools[tool], a["command"], "Run a command")))


def _helper_text(turn: _Turn) -> str:
    if turn.api == "anthropic" and "isNewTopic" in turn.system:
        return '{"isNewTopic": false, "title": null}'
    if "commit message" in turn.system.lower():
        return "Add the requested change"
    return "Scripted session"


def _json_for_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A small object that satisfies a Gemini router/next-speaker schema."""
    out: dict[str, Any] = {}
    for key, spec in (schema.get("properties") or {}).items():
        enum = spec.get("enum")
        kind = str(spec.get("type", "string")).lower()
        if enum:
            out[key] = "user" if "user" in enum else ("flash" if "flash" in enum else enum[0])
        elif kind == "boolean":
            out[key] = False
        elif kind in ("number", "integer"):
            out[key] = 0
        elif kind == "array":
            out[key] = []
        elif kind == "object":
            out[key] = {}
        else:
            out[key] = "n/a"
    return out


def _pieces(text: str, slow: float) -> Iterator[tuple[str, float]]:
    """(piece, pause before it): about 20 pieces over `slow` s, or 4 quick ones."""
    words = re.findall(r"\S+\s*|\s+", text) or [""]
    count = 20 if slow else 4
    size = max(1, -(-len(words) // count))
    chunks = ["".join(words[i : i + size]) for i in range(0, len(words), size)]
    pause = slow / len(chunks) if slow else 0.02
    for chunk in chunks:
        yield chunk, pause


# ---------------------------------------------------------------- the server


class FakeModel:
    """The scripted model. `url` is `http://127.0.0.1:PORT` (append /v1 for OpenAI clients)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._steps: list[Step] = []
        self._requests: list[Request] = []
        self._handed: list[Handed] = []
        self._gates: list[Gate] = []
        self._ids = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle
    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeModel:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            for gate in self._gates:
                gate.open()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeModel:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the script
    def script(self, *steps: Step) -> None:
        """Queue steps: each main request takes the next one."""
        with self._lock:
            self._steps.extend(steps)

    def gate(self) -> Gate:
        """A new gate; `stop()` opens every one still shut, so no reply hangs past a test."""
        gate = Gate()
        with self._lock:
            self._gates.append(gate)
        return gate

    def pending(self) -> int:
        """Steps not taken yet."""
        with self._lock:
            return len(self._steps)

    # -- what happened
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    def prompts(self) -> list[str]:
        """The person's messages as the model received them, in order, once per sending."""
        return [r.prompt for r in self.requests() if not r.helper and r.prompt]

    def handed(self) -> list[Handed]:
        """The usage of every response so far, in order (helpers' included)."""
        with self._lock:
            return list(self._handed)

    def tool_results(self) -> list[str]:
        return [r.tool_result for r in self.requests() if not r.helper and r.tool_result]

    def transcript(self) -> str:
        """The requests so far, one line each, for a failure message."""
        lines = []
        for r in self.requests():
            what = "helper" if r.helper else f"step={_describe(r.step)}"
            lines.append(
                f"{r.api} {what} prompt={r.prompt!r} tool_result={(r.tool_result or '')[:80]!r}"
            )
        return "\n".join(lines) or "(no requests)"

    # -- used by the handler
    def _hand(self, api: str, helper: bool, model: str, cache_write: bool = False) -> Handed:
        with self._lock:
            n = len(self._handed) + 1
            handed = Handed(
                api,
                helper,
                model,
                1000 + 10 * n,
                20 + n,
                300 + 5 * n,
                40 + 2 * n if cache_write else 0,
            )
            self._handed.append(handed)
            return handed

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}"

    def _take(self, turn: _Turn) -> Step | None:
        with self._lock:
            step = None if turn.helper or not self._steps else self._steps.pop(0)
            self._requests.append(
                Request(
                    turn.api,
                    turn.helper,
                    None if turn.helper else turn.prompt,
                    turn.tool_result,
                    step,
                    tuple(turn.tools),
                    turn.history,
                    turn.context,
                )
            )
            return step


def _describe(step: Step | None) -> str:
    if step is None:
        return "default"
    return step.tool or f"say({step.text[:30]!r})"


def _handler(model: FakeModel) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        pass

    Handler.model = model
    return Handler


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    model: FakeModel

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the transcript says what matters; stderr noise would hide test output

    # -- plumbing
    def _body(self) -> dict[str, Any]:
        size = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(size) if size else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    def _json(self, obj: Any) -> None:
        data = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _sse_start(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def _sse(self, data: Any, event: str | None = None) -> None:
        head = f"event: {event}\n" if event else ""
        payload = data if isinstance(data, str) else json.dumps(data)
        self.wfile.write(f"{head}data: {payload}\n\n".encode())
        self.wfile.flush()

    def _stream(self, step: Step | None, text: str) -> Iterator[str]:
        """The text in pieces, paced as the step says."""
        if step is not None and step.hold is not None:
            step.hold.wait()
        for piece, pause in _pieces(text, step.slow if step else 0.0):
            time.sleep(pause)
            yield piece

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        if urlparse(self.path).path.endswith("/models"):
            names = ("fake", "fake-model", "claude-sonnet-4-5", "gemini-2.5-pro")
            self._json(
                {
                    "object": "list",
                    "data": [
                        {
                            "id": n,
                            "object": "model",
                            "created": 0,
                            "owned_by": "fake",
                            "type": "model",
                            "display_name": n,
                            "created_at": "2025-01-01T00:00:00Z",
                        }
                        for n in names
                    ],
                    "models": [{"name": f"models/{n}", "displayName": n} for n in names],
                    "has_more": False,
                }
            )
            return
        self._json({"ok": True})

    def do_POST(self) -> None:
        path = urlparse(self.path).path
        body = self._body()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            if path.endswith("/chat/completions"):
                self._chat(body)
            elif path.endswith("/responses"):
                self._responses(body)
            elif path.endswith("/messages/count_tokens"):
                self._json({"input_tokens": 100})
            elif path.endswith("/messages"):
                self._anthropic(body)
            elif path.endswith(":countTokens"):
                self._json({"totalTokens": 100})
            elif path.endswith((":streamGenerateContent", ":generateContent")):
                self._gemini(path, body)
            else:
                self._json({"ok": True})

    def _resolve(self, turn: _Turn) -> tuple[Step | None, _Reply]:
        step = self.model._take(turn)
        if turn.helper:
            return None, _Reply(_helper_text(turn))
        if step is None:
            return None, _Reply(DEFAULT_REPLY)
        return step, _reply(turn, step)

    # -- Anthropic Messages
    def _anthropic(self, body: dict[str, Any]) -> None:
        turn = _read_anthropic(body)
        step, reply = self._resolve(turn)
        mid = self.model._next_id("msg")
        model = body.get("model", "claude-sonnet-4-5")
        handed = self.model._hand("anthropic", turn.helper, str(model), cache_write=True)
        usage = {
            "input_tokens": handed.input,
            "output_tokens": handed.output,
            "cache_creation_input_tokens": handed.cache_write,
            "cache_read_input_tokens": handed.cache_read,
        }
        stop = "tool_use" if reply.call else "end_turn"
        tool_block = None
        if reply.call:
            tool_block = {
                "type": "tool_use",
                "id": self.model._next_id("toolu"),
                "name": reply.call[0],
                "input": reply.call[1],
            }
        if not body.get("stream"):
            content: list[dict[str, Any]] = [{"type": "text", "text": reply.text or "OK"}]
            content += [tool_block] if tool_block else []
            self._json(
                {
                    "id": mid,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": content,
                    "stop_reason": stop,
                    "stop_sequence": None,
                    "usage": usage,
                }
            )
            return
        self._sse_start()
        message = {
            "id": mid,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        }
        self._sse({"type": "message_start", "message": message}, "message_start")
        index = 0
        if reply.text or not tool_block:
            block = {"type": "text", "text": ""}
            self._sse(
                {"type": "content_block_start", "index": 0, "content_block": block},
                "content_block_start",
            )
            for piece in self._stream(step, reply.text):
                delta = {"type": "text_delta", "text": piece}
                self._sse(
                    {"type": "content_block_delta", "index": 0, "delta": delta},
                    "content_block_delta",
                )
            self._sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
            index = 1
        elif step is not None and step.hold is not None:
            step.hold.wait()
        if tool_block:
            start = dict(tool_block, input={})
            self._sse(
                {"type": "content_block_start", "index": index, "content_block": start},
                "content_block_start",
            )
            delta = {"type": "input_json_delta", "partial_json": json.dumps(tool_block["input"])}
            self._sse(
                {"type": "content_block_delta", "index": index, "delta": delta},
                "content_block_delta",
            )
            self._sse({"type": "content_block_stop", "index": index}, "content_block_stop")
        self._sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": handed.output},
            },
            "message_delta",
        )
        self._sse({"type": "message_stop"}, "message_stop")

    # -- OpenAI chat completions
    def _chat(self, body: dict[str, Any]) -> None:
        turn = _read_chat(body)
        step, reply = self._resolve(turn)
        cid, created = self.model._next_id("chatcmpl"), int(time.time())
        model = body.get("model", "fake")
        handed = self.model._hand("chat", turn.helper, str(model))
        prompt = handed.input + handed.cache_read  # chat's prompt_tokens include the cached
        usage = {
            "prompt_tokens": prompt,
            "prompt_tokens_details": {"cached_tokens": handed.cache_read},
            "completion_tokens": handed.output,
            "total_tokens": prompt + handed.output,
        }
        calls = []
        if reply.call:
            calls = [
                {
                    "index": 0,
                    "id": self.model._next_id("call"),
                    "type": "function",
                    "function": {"name": reply.call[0], "arguments": json.dumps(reply.call[1])},
                }
            ]
        finish_reason = "tool_calls" if calls else "stop"
        if not body.get("stream"):
            msg: dict[str, Any] = {"role": "assistant", "content": reply.text}
            if calls:
                msg["tool_calls"] = [{k: v for k, v in c.items() if k != "index"} for c in calls]
            self._json(
                {
                    "id": cid,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "usage": usage,
                    "choices": [{"index": 0, "message": msg, "finish_reason": finish_reason}],
                }
            )
            return

        def chunk(delta: dict[str, Any], reason: str | None = None) -> dict[str, Any]:
            return {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": reason}],
            }

        self._sse_start()
        self._sse(chunk({"role": "assistant", "content": ""}))
        for piece in self._stream(step, reply.text):
            if piece:
                self._sse(chunk({"content": piece}))
        if calls:
            self._sse(chunk({"tool_calls": calls}))
        self._sse(chunk({}, finish_reason))
        # As OpenAI's server: a stream says its usage only when the request asks for it
        # (opencode does; aider does not, and counts the tokens itself).
        options = body.get("stream_options")
        if isinstance(options, dict) and options.get("include_usage"):
            self._sse(
                {
                    "id": cid,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [],
                    "usage": usage,
                }
            )
        self._sse("[DONE]")

    # -- OpenAI Responses
    def _responses(self, body: dict[str, Any]) -> None:
        turn = _read_responses(body)
        step, reply = self._resolve(turn)
        rid = self.model._next_id("resp")
        base = {
            "id": rid,
            "object": "response",
            "created_at": int(time.time()),
            "model": body.get("model"),
            "status": "in_progress",
            "output": [],
        }
        self._sse_start()
        self._sse({"type": "response.created", "response": base}, "response.created")
        self._sse({"type": "response.in_progress", "response": base}, "response.in_progress")
        outputs: list[dict[str, Any]] = []
        if reply.text or not reply.call:
            mid, n = self.model._next_id("msg"), len(outputs)
            item = {
                "type": "message",
                "id": mid,
                "role": "assistant",
                "status": "in_progress",
                "content": [],
            }
            part = {"type": "output_text", "text": "", "annotations": []}
            where = {"item_id": mid, "output_index": n, "content_index": 0}
            self._sse(
                {"type": "response.output_item.added", "output_index": n, "item": item},
                "response.output_item.added",
            )
            self._sse(
                {"type": "response.content_part.added", **where, "part": part},
                "response.content_part.added",
            )
            for piece in self._stream(step, reply.text):
                self._sse(
                    {"type": "response.output_text.delta", **where, "delta": piece},
                    "response.output_text.delta",
                )
            self._sse(
                {"type": "response.output_text.done", **where, "text": reply.text},
                "response.output_text.done",
            )
            done = dict(item, status="completed", content=[dict(part, text=reply.text)])
            self._sse(
                {"type": "response.output_item.done", "output_index": n, "item": done},
                "response.output_item.done",
            )
            outputs.append(done)
        elif step is not None and step.hold is not None:
            step.hold.wait()
        if reply.call:
            n, fid = len(outputs), self.model._next_id("fc")
            arguments = json.dumps(reply.call[1])
            item = {
                "type": "function_call",
                "id": fid,
                "call_id": self.model._next_id("call"),
                "name": reply.call[0],
                "arguments": arguments,
                "status": "completed",
            }
            self._sse(
                {
                    "type": "response.output_item.added",
                    "output_index": n,
                    "item": dict(item, arguments="", status="in_progress"),
                },
                "response.output_item.added",
            )
            self._sse(
                {
                    "type": "response.function_call_arguments.delta",
                    "item_id": fid,
                    "output_index": n,
                    "delta": arguments,
                },
                "response.function_call_arguments.delta",
            )
            self._sse(
                {
                    "type": "response.function_call_arguments.done",
                    "item_id": fid,
                    "output_index": n,
                    "arguments": arguments,
                },
                "response.function_call_arguments.done",
            )
            self._sse(
                {"type": "response.output_item.done", "output_index": n, "item": item},
                "response.output_item.done",
            )
            outputs.append(item)
        handed = self.model._hand("responses", turn.helper, str(body.get("model", "fake")))
        prompt = handed.input + handed.cache_read  # Responses' input_tokens include the cached
        usage = {
            "input_tokens": prompt,
            "input_tokens_details": {"cached_tokens": handed.cache_read},
            "output_tokens": handed.output,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": prompt + handed.output,
        }
        final = dict(base, status="completed", output=outputs, usage=usage)
        self._sse({"type": "response.completed", "response": final}, "response.completed")

    # -- Gemini
    def _gemini(self, path: str, body: dict[str, Any]) -> None:
        turn = _read_gemini(body)
        step, reply = self._resolve(turn)
        config = body.get("generationConfig") or {}
        schema = config.get("responseJsonSchema") or config.get("responseSchema")
        if turn.helper and (schema or config.get("responseMimeType") == "application/json"):
            reply = _Reply(json.dumps(_json_for_schema(schema or {})))
        name = path.rsplit("/", 1)[-1].split(":", 1)[0]
        handed = self.model._hand("gemini", turn.helper, name)
        prompt = handed.input + handed.cache_read  # Gemini's promptTokenCount includes it
        usage = {
            "promptTokenCount": prompt,
            "cachedContentTokenCount": handed.cache_read,
            "candidatesTokenCount": handed.output,
            "totalTokenCount": prompt + handed.output,
        }

        def answer(parts: list[dict[str, Any]], reason: str | None) -> dict[str, Any]:
            cand: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
            if reason:
                cand["finishReason"] = reason
            return {"candidates": [cand], "usageMetadata": usage, "modelVersion": "gemini-fake"}

        call = (
            [{"functionCall": {"name": reply.call[0], "args": reply.call[1]}}] if reply.call else []
        )
        if path.endswith(":generateContent"):
            self._json(answer([{"text": reply.text}, *call], "STOP"))
            return
        self._sse_start()
        if not reply.text and step is not None and step.hold is not None:
            step.hold.wait()
        # One piece of lookahead: the finish reason rides on the last text piece unless a
        # function call follows it.
        held: str | None = None
        for piece in self._stream(step, reply.text) if reply.text else iter(()):
            if held is not None:
                self._sse(answer([{"text": held}], None))
            held = piece
        if held is not None:
            self._sse(answer([{"text": held}], None if call else "STOP"))
        if call or held is None:
            self._sse(answer(call or [{"text": ""}], "STOP"))
