"""Small agents for steering tests, each writing down every submission it gets (in
~/received-SESSION.jsonl, as the recorder does): `paster` reads its terminal raw with bracketed
paste on, as the agent CLIs do, so a newline inside a paste is part of the message and an Enter
outside one submits it; `asker` waits at a text prompt or at a choice dialog."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.integration.hosts import LoopbackFleet

PASTER = textwrap.dedent(
    """\
    import json, os, sys, tty
    path = os.path.expanduser("~/received-%s.jsonl" % os.environ.get("FLEET_SESSION", "none"))
    START, END = b"\\x1b[200~", b"\\x1b[201~"
    tty.setraw(0)
    os.write(1, b"\\x1b[?2004hpaster ready\\r\\n> ")
    pending, line, pasting = b"", b"", False
    while True:
        data = os.read(0, 4096)
        if not data:
            break
        pending += data
        while pending:
            if pending.startswith(START) or pending.startswith(END):
                pasting = pending.startswith(START)
                pending = pending[len(START):]
                continue
            if START.startswith(pending) or END.startswith(pending):
                break  # the rest of a marker is still on its way
            ch, pending = pending[:1], pending[1:]
            if ch in (b"\\r", b"\\n") and not pasting:
                with open(path, "a", encoding="utf-8") as f:
                    text = line.decode("utf-8", "replace")
                    f.write(json.dumps({"kind": "line", "value": text}) + "\\n")
                line = b""
                os.write(1, b"\\r\\ngot it\\r\\n> ")
            else:
                line += b"\\n" if ch == b"\\r" else ch
    """
)


# `asker text` asks at a text prompt, again and again; `asker choice` shows a choice dialog
# first (Enter picks its highlighted option), clears it once answered and waits at "> ".
ASKER = textwrap.dedent(
    """\
    import json, os, sys
    path = os.path.expanduser("~/received-%s.jsonl" % os.environ.get("FLEET_SESSION", "none"))
    mode = sys.argv[1] if len(sys.argv) > 1 else "text"
    while True:
        if mode == "choice":
            sys.stdout.write("Run `rm -rf build`?\\n\u276f 1. Yes\\n  2. No\\n")
            sys.stdout.write("Enter to select \u00b7 Esc to cancel ")
        else:
            sys.stdout.write("What next> " if mode == "text" else "> ")
        sys.stdout.flush()
        line = sys.stdin.buffer.readline()
        if not line:
            break
        text = line.decode("utf-8", "replace").rstrip("\\n")
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"kind": "line", "value": text}) + "\\n")
        if mode == "choice":
            sys.stdout.write("\\x1b[2J\\x1b[H")  # the dialog goes away
            mode = "idle"
        print("took %r" % text, flush=True)
    """
)
ASKER_PROFILE = """
[agents.asker]
command = "python3 {script} {{task}}"
waiting = ['What next> ?\\Z', 'Enter to select']
idle = ['^> ?\\Z']
idle_after = 1.0
enter_delay = 0.05
prose = true
"""


def agent_script(lf: LoopbackFleet, name: str, text: str) -> Path:
    """A program the hosts' users can run (the loopback hosts share this machine's files)."""
    script = lf.dir / "agents" / f"{name}.py"
    script.parent.mkdir(exist_ok=True)
    script.parent.chmod(0o755)
    script.write_text(text)
    script.chmod(0o644)
    return script
