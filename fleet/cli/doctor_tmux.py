"""`fleet doctor`'s look at a host's tmux server, and `fleet doctor --repair`.

A server can be alive, not there yet (fine), stuck in its exit (it closes every connection:
tmux's "server exited unexpectedly"), silent, or tmux can fail outright. The repairs fleet
makes by itself are the safe ones (hostside/tmuxhealth.py): a stale socket file removed,
fleet's own control clients ended when they keep an exiting server (which has no sessions
left) from going. A server is never killed by fleet: the fix line says the command.
"""

from __future__ import annotations

from fleet.cli.findings import FAIL, OK, Check
from fleet.core.errors import FleetError
from fleet.core.remote import answers
from fleet.core.remote.untrusted import Malformed
from fleet.core.results import TmuxServer
from fleet.core.supervisor import Supervisor
from fleet.presentation import tmux_words

NAME = "tmux server"


def needs_repair(tmux: TmuxServer) -> bool:
    """Whether `--repair` has something safe to do for this server."""
    stale = tmux.state == "none" and tmux.detail == "stale socket"
    held = tmux.state == "wedged" and tmux.how == "closes" and bool(tmux.holders)
    return stale or held


def fix(tmux: TmuxServer, ssh_cmd: str) -> str:
    """What to do about a server that is not ok (empty when it is)."""
    kill = f"`{ssh_cmd} kill {tmux.pid}`" if tmux.pid else "killing its process"
    if tmux.state == "error":
        return f"see what tmux says: `{ssh_cmd} tmux -L fleet ls`"
    if tmux.state != "wedged":
        return "`fleet doctor --repair` removes it" if needs_repair(tmux) else ""
    if tmux.how == "silent":
        wake = f"it is stopped: `{ssh_cmd} kill -CONT {tmux.pid}`; " if tmux.stopped else ""
        return f"{wake}if it stays silent, {kill} ends it and every agent in it"
    last = f"{kill} ends it (it has no sessions left: tmux ended them when told to exit)"
    if tmux.holders:
        return (
            "`fleet doctor --repair` ends fleet's control clients that hold it (safe: "
            f"nothing runs in it any more); if it stays stuck, {last}"
        )
    return f"a client that is not fleet's holds it: {last}"


def check(tmux: TmuxServer | None, ssh_cmd: str) -> list[Check]:
    if tmux is None:
        return []
    if tmux.ok:
        return [Check(NAME, OK, tmux_words(tmux), fix(tmux, ssh_cmd))]
    return [Check(NAME, FAIL, tmux_words(tmux), fix(tmux, ssh_cmd))]


async def checks(
    sup: Supervisor, name: str, hello: object, ssh_cmd: str, repair: bool
) -> list[Check]:
    """The tmux server check of one host (from its hello), repaired first when asked."""
    try:
        tmux = answers.tmux_server(hello)
    except Malformed as exc:
        return [Check(NAME, FAIL, f"the helper's answer is malformed: {exc}", "report it")]
    if not repair or tmux is None or not needs_repair(tmux):
        return check(tmux, ssh_cmd)
    try:
        repaired = await sup.repair_tmux(name)
    except FleetError as exc:
        return [*check(tmux, ssh_cmd), Check("tmux repair", FAIL, str(exc), "run with -v")]
    done = "; ".join(repaired.done) or "nothing to do"
    return [Check("tmux repair", OK, done), *check(repaired.after, ssh_cmd)]
