"""The benchmark's agent, run by fleet in a real tmux pane on a loopback host (stdlib, 3.8+).

- While ~/bench-busy exists it prints `tick n=N t=EPOCH` every PRINT_EVERY seconds: a screen
  change stamped with the moment it happened, for the status-latency figures.
- It reads its terminal in cbreak mode and echoes what arrives, so steering text shows in the
  pane the moment tmux types it; when a `steer-XXXXXXXXXXXX!` token has arrived it appends
  {"token", "t"} to ~/steer-<session>.jsonl (t: when its last character arrived).
- While ~/ask-<session> exists it shows a dialog, `Allow it? (y/n) ` on its last line, and
  appends {"t"} (the moment it showed) to ~/ask-<session>.jsonl; once the file is gone it
  prints `answered` and its prompt: the needs-input latency figure. As it shows the dialog it
  also runs fleet's PermissionRequest hook from the Claude Code settings fleet gave it
  (FLEET_SIGNALS), the way Claude Code does: the status comes from whichever is read first.
"""

import contextlib
import json
import os
import re
import select
import shlex
import subprocess
import sys
import termios
import time
import tty

PRINT_EVERY = 0.2
# Seconds between looks for the ask flag while quiet. The figure starts when the dialog shows,
# so this only paces the bench; faster, 100 agents polling would load the machine.
ASK_POLL = 0.2
TOKEN = re.compile(rb"steer-[0-9a-f]{12}!")


def hook_command() -> list:
    """fleet's PermissionRequest hook command, from the settings file FLEET_SIGNALS names."""
    try:
        with open(os.environ.get("FLEET_SIGNALS", ""), encoding="utf-8") as f:
            hooks = json.load(f)["hooks"]["PermissionRequest"][0]["hooks"]
        return shlex.split(hooks[0]["command"])
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return []


def fire_hook(argv: list, event: str) -> None:
    if not argv:
        return
    payload = {"hook_event_name": event, "tool_name": "Bash"}
    payload["tool_input"] = {"command": "make bench"}
    child = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    assert child.stdin is not None
    child.stdin.write(json.dumps(payload).encode())
    child.stdin.close()


def main() -> int:
    session = os.environ.get("FLEET_SESSION", "none")
    home = os.path.expanduser("~")
    busy_flag = os.path.join(home, "bench-busy")
    steer_log = os.path.join(home, f"steer-{session}.jsonl")
    ask_flag = os.path.join(home, f"ask-{session}")
    asking = False
    hook = hook_command()
    fd = sys.stdin.fileno()
    with contextlib.suppress(termios.error):
        tty.setcbreak(fd)  # keys arrive as tmux types them, not when a line is complete
    os.write(1, b"bench agent ready\r\n> ")
    n = 0
    buf = b""
    seen = set()
    next_tick = time.time()
    while True:
        busy = os.path.exists(busy_flag)
        if os.path.exists(ask_flag) != asking:
            asking = not asking
            os.write(1, b"Allow it? (y/n) " if asking else b"answered\r\n> ")
            if asking:
                with open(ask_flag + ".jsonl", "a") as f:
                    f.write(json.dumps({"t": time.time()}) + "\n")
                fire_hook(hook, "PermissionRequest")
            else:  # answered: as Claude Code's next hook would say, it works again
                fire_hook(hook, "PostToolUse")
        wait = max(0.0, next_tick - time.time()) if busy else ASK_POLL
        ready, _, _ = select.select([fd], [], [], wait)
        if ready:
            data = os.read(fd, 4096)
            if not data:
                return 0
            now = time.time()
            os.write(1, data.replace(b"\r", b"\r\n").replace(b"\n\n", b"\n"))
            buf = (buf + data)[-512:]
            for token in TOKEN.findall(buf):
                if token not in seen:
                    seen.add(token)
                    with open(steer_log, "a") as f:
                        f.write(json.dumps({"token": token.decode(), "t": now}) + "\n")
            continue
        if busy and time.time() >= next_tick:
            n += 1
            os.write(1, f"tick n={n} t={time.time():.6f} busy\r\n".encode())
            next_tick = max(next_tick + PRINT_EVERY, time.time() + PRINT_EVERY / 2)


if __name__ == "__main__":
    sys.exit(main())
