"""Both sides of the helper's protocol agree: every op the protocol names has a handler on the
host and nothing else does, each handler reads only the arguments its op declares (and the
client refuses any other), and every event kind has a constructor, a dataclass and a parser."""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Iterator
from types import ModuleType

import pytest

from fleet.core import events
from fleet.core.remote import client, untrusted
from fleet.core.remote.hostside import main as helper_main
from fleet.core.remote.hostside import protocol


def _handlers() -> dict[str, Callable[..., object]]:
    return {**helper_main.PLAIN, **helper_main.STREAMS}


def test_the_helper_has_a_handler_for_exactly_the_ops_of_the_protocol() -> None:
    assert set(helper_main.PLAIN) == {n for n, op in protocol.OPS.items() if not op.streaming}
    assert set(helper_main.STREAMS) == {n for n, op in protocol.OPS.items() if op.streaming}
    with pytest.raises(AssertionError, match="disagree"):
        protocol.check_handlers([*helper_main.PLAIN, "extra"], helper_main.STREAMS)


def _keys_read(fn: Callable[..., object], seen: set[str] | None = None) -> Iterator[str]:
    """The literal keys `fn` reads from its `args` parameter, following the functions of the
    same module it hands `args` to (one helper module's own plumbing, like `_str(args, k)`)."""
    seen = seen if seen is not None else set()
    if fn.__qualname__ in seen:
        return
    seen.add(fn.__qualname__)
    module = inspect.getmodule(fn)
    assert isinstance(module, ModuleType)
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and _is_args(node.value):
            if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
                yield node.slice.value
        elif isinstance(node, ast.Compare) and any(_is_args(c) for c in node.comparators):
            if isinstance(node.left, ast.Constant) and isinstance(node.left.value, str):
                yield node.left.value  # "key" in args
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and _is_args(func.value) and func.attr == "get":
                key = node.args[0] if node.args else None
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    yield key.value
            elif any(_is_args(a) for a in node.args):
                name = func.id if isinstance(func, ast.Name) else None
                callee = getattr(module, name, None) if name else None
                if callable(callee) and inspect.getmodule(callee) is module:
                    at = next(i for i, a in enumerate(node.args) if _is_args(a))
                    key = node.args[at + 1] if at + 1 < len(node.args) else None
                    if isinstance(key, ast.Constant) and isinstance(key.value, str):
                        yield key.value  # _str(args, "key", default)
                    yield from _keys_read(callee, seen)


def _is_args(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id == "args"


@pytest.mark.parametrize("op", sorted(protocol.OPS))
def test_each_handler_reads_only_the_arguments_its_op_declares(op: str) -> None:
    read = set(_keys_read(_handlers()[op]))
    assert read <= protocol.OPS[op].params, f"{op} reads {sorted(read - protocol.OPS[op].params)}"


def test_the_client_refuses_a_call_the_protocol_does_not_have() -> None:
    with pytest.raises(ValueError, match="no call 'nope'"):
        client._spec("nope", {}, streaming=False)
    with pytest.raises(ValueError, match="no call 'watch'"):
        client._spec("watch", {}, streaming=False)  # a stream, not a call
    with pytest.raises(ValueError, match="send takes no txt"):
        client._spec("send", {"session": "abcdefgh", "txt": "typo"}, streaming=False)
    assert client._spec("diff", {"session": "abcdefgh"}, streaming=False).read_only


def test_every_event_kind_has_a_constructor_a_dataclass_and_a_parser() -> None:
    kinds = protocol.JOURNAL_KINDS | protocol.STREAM_KINDS
    assert set(untrusted._PARSERS) == kinds
    classes: dict[str, type[events.Event]] = {}
    stack: list[type[events.Event]] = [events.Event]
    while stack:
        cls = stack.pop()
        stack += cls.__subclasses__()
        classes.setdefault(cls.kind, cls)
    assert kinds <= set(classes)
    # What the host's constructors make, the client parses into that kind's class.
    made = [
        protocol.status("abcdefgh", "idle", "working"),
        protocol.diffstat("abcdefgh", {"added": 1, "removed": 0, "files": 1, "approved": 0}),
        protocol.removed("abcdefgh"),
        protocol.checkpoint("abcdefgh", 3),
        protocol.decision("abcdefgh", 2, "approve", ["ab" * 32], 0, 2),
        protocol.typed_input("abcdefgh", "task"),
        protocol.queued_input("abcdefgh", "note", "at a prompt"),
        protocol.error("abcdefgh", "boom"),
        protocol.signal(
            "abcdefgh",
            {
                "agent": "claude",
                "run": 1,
                "event": "PermissionRequest",
                "state": "needs-input",
                "waiting": {"kind": "tool", "tool": "Bash", "input": "npm test"},
            },
        ),
        protocol.usage(
            "abcdefgh", "claude", [protocol.usage_record("claude:msg_1", "m", 1.0, input=3)]
        ),
        protocol.screen("abcdefgh", protocol.screen_hash("x"), "x", 1.5),
        protocol.output("abcdefgh", 0, "aGk="),
        protocol.output_gap("abcdefgh", 0, 10),
        protocol.snapshot(4, [], False),
        protocol.hello(4, "dev"),
        protocol.hello(4, "dev", 9),
        protocol.heartbeat(4, 1.5),
    ]
    for raw in made:
        if raw["type"] in protocol.JOURNAL_KINDS:
            raw = dict(raw, seq=1, t=1.0)
        parsed = untrusted.parse_event("h", raw)
        assert type(parsed) is classes[raw["type"]], raw
    assert {m["type"] for m in made} | {protocol.CREATED} == kinds
