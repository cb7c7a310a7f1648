"""The Supervisor's sessions: starting one, its screen and output, steering it, stopping and
resuming it, and attaching a terminal to it."""

from __future__ import annotations

import shlex
from collections.abc import AsyncIterator
from typing import Any

from .. import results
from ..agents import first_message, render_command, resume_command
from ..config import parse_target
from ..errors import FleetError, HostUnreachable, RemoteError, UsageError
from ..fleetstate import LIVE
from ..logs import redact
from ..models import Session
from ..remote import answers, untrusted
from ..remote.client import UNCONFIRMED
from .base import session_from_json
from .budgets import Budgeting

DEFAULT_AGENT = "claude"


class Sessions(Budgeting):
    """Acting on sessions (a part of the Supervisor)."""

    async def new_session(
        self,
        host: str,
        repo: str,
        agent: str = DEFAULT_AGENT,
        name: str | None = None,
        base: str | None = None,
        task: str = "",
    ) -> Session:
        profile = self.profile(agent)
        args: dict[str, Any] = {
            "agent": agent,
            "repo": repo,
            "task": task,
            "command": render_command(profile.command, task),
            "first_message": first_message(profile, task),
            "resume_command": profile.resume,
            "rules": profile.rules(),
            "mode": str(profile.send_mode),
            "enter_delay": profile.enter_delay,
            "signals": profile.signals,
        }
        if profile.sandbox:
            args["sandbox"] = shlex.split(profile.sandbox)
        if name:
            args["name"] = name
        if base:
            args["base"] = base
        try:
            session = session_from_json(host, await self.helper(host).call("new", args))
        except FleetError as exc:
            detail = {"agent": agent, "repo": repo, "task": task}
            async with self._recorded(host, "new", detail):
                raise exc from None
        self._remember([session])
        if self.store is not None:
            self.store.upsert_session(session)
        async with self._recorded(session, "new", {"agent": agent, "repo": repo, "task": task}):
            pass
        self._emit("started", host, session.id, {"agent": agent})
        return session

    async def screen(self, ref: str) -> results.Screen:
        session = await self.find(ref)
        result = await self.helper(session.host).call("screen", {"session": session.id})
        self.mark_read(session)
        return answers.checked(session.host, "screen", lambda: answers.screen(session, result))

    async def tail(self, ref: str, lines: int = 50, follow: bool = False) -> AsyncIterator[bytes]:
        session = await self.find(ref)
        self.mark_read(session)
        args = {"session": session.id, "lines": lines, "follow": follow}
        async for event in self.helper(session.host).stream("tail", args):
            chunk = untrusted.tail_chunk(session.host, event)
            if chunk is None:
                return
            if chunk:
                yield chunk

    async def send(
        self,
        ref: str,
        text: str,
        *,
        force: bool = False,
        session: Session | None = None,
        over_budget: bool = False,
    ) -> Session:
        """Type `text` into the agent, then Enter. At a dialog that picks an option the host
        refuses anything but one of its answers (1, y, ...) unless `force`: the Enter would
        pick the highlighted option. A prompt that asks for text takes any.
        A caller that already knows the session (the UI) passes it: no listing round trip
        (the host still refuses a session that is not alive). A session a budget paused
        is refused (OverBudget) unless `over_budget`."""
        if "\x00" in text:  # tmux cannot type it, and an argv cannot carry it
            raise UsageError("steering text cannot contain a NUL character")
        if session is None:
            session = await self.find(ref)
        await self.over_budget_check(session, over_budget)
        profile = self.profiles.get(session.agent)
        args: dict[str, Any] = {"session": session.id, "text": text, "enter": True, "force": force}
        if profile is not None:
            args["mode"] = str(profile.send_mode)
            args["enter_delay"] = profile.enter_delay
        async with self._recorded(session, "send", {"text": text}, first=True):
            await self._send(session, args)
        self._emit("steered", session.host, session.id, {"length": len(text)})
        return session

    async def _send(self, session: Session, args: dict[str, Any]) -> None:
        try:
            await self.helper(session.host).call("send", args)
        except (HostUnreachable, RemoteError) as exc:
            if isinstance(exc, RemoteError) and exc.kind != UNCONFIRMED:
                raise
            # The host may have typed it before the link dropped or the helper ended: never
            # resend by ourselves.
            self._audit(session, "send-unconfirmed", {"reason": exc.reason})
            unsure = (
                f"{exc.reason}. The message may or may not have reached {session.ref}: look "
                f"with `fleet screen {session.ref}` before sending it again"
            )
            if isinstance(exc, RemoteError):
                raise RemoteError(session.host, UNCONFIRMED, unsure) from None
            raise HostUnreachable(session.host, unsure) from None

    async def answer(
        self,
        ref: str,
        action: str,
        option: str = "",
        *,
        expect: str | None = None,
        note: str = "",
        session: Session | None = None,
    ) -> results.Answered:
        """Answer what the agent asks: "allow", "deny" (with a note told to the agent after)
        or "answer" with an option (its key or label). `expect` is the id of the request the
        person saw; None: the one the listing just gave (the host then refuses, typing
        nothing, when the agent now asks something else). No request listed and none
        expected: the host answers the dialog it shows (the answer says which)."""
        if "\x00" in note or "\x00" in option:
            raise UsageError("an answer cannot contain a NUL character")
        if session is None:
            session = await self.find(ref)
        if expect is None:
            expect = session.waiting.id if session.waiting is not None else ""
        pick = "option" if action == "answer" else action
        args: dict[str, Any] = {"session": session.id, "pick": pick, "expect": expect}
        if option:
            args["option"] = option
        if note:
            args["note"] = note
        profile = self.profiles.get(session.agent)
        if profile is not None:
            args["mode"] = str(profile.send_mode)
            args["enter_delay"] = profile.enter_delay
        detail = {"expect": expect, "option": option, "note": note}
        async with self._recorded(session, action, detail, first=True):
            data = await self.helper(session.host).call("answer", args)
            done = answers.checked(
                session.host, "answer", lambda: answers.answered(session, action, data)
            )
        return done

    async def interrupt(self, ref: str) -> Session:
        session = await self.find(ref)
        profile = self.profiles.get(session.agent)
        keys = list(profile.interrupt) if profile is not None else ["C-c"]
        async with self._recorded(session, "interrupt", {"keys": keys}):
            await self.helper(session.host).call("keys", {"session": session.id, "keys": keys})
        return session

    async def stop(self, ref: str) -> results.Changed:
        """End the agent (its worktree and branch stay); a stopped one is already so."""
        session = await self.find(ref)
        already = session.status not in LIVE
        async with self._recorded(session, "stop", {}):
            data = await self.helper(session.host).call("stop", {"session": session.id})
            stopped = session_from_json(session.host, data)
        if self.store is not None:
            self.store.upsert_session(stopped)
        return results.Changed(stopped, already)

    async def resume(self, ref: str, *, over_budget: bool = False) -> results.Changed:
        """Start the agent again in its worktree; a running one is already so. A session a
        budget paused is refused (OverBudget) unless `over_budget`."""
        session = await self.find(ref)
        await self.over_budget_check(session, over_budget)
        profile = self.profile(session.agent)
        command = resume_command(profile, session)
        args = {
            "session": session.id,
            "command": command,
            "rules": profile.rules(),
            # The sandbox in force now (None: none), not the one the session started with.
            "sandbox": shlex.split(profile.sandbox) if profile.sandbox else None,
            "signals": profile.signals,
        }
        # The audit log keeps which command ran, not the tokens a profile may pass in it.
        async with self._recorded(session, "resume", {"command": redact(command)}):
            try:
                data = await self.helper(session.host).call("resume", args)
            except RemoteError as exc:
                if exc.kind != "running":
                    raise
                return results.Changed(session, already=True)
            resumed = session_from_json(session.host, data)
        if self.store is not None:
            self.store.upsert_session(resumed)
        self._emit("resumed", session.host, session.id, {})
        return results.Changed(resumed, already=False)

    def attach_argv(self, session: Session) -> list[str]:
        """The ssh command that hands the terminal to the session's tmux, and back."""
        target = self.config.hosts[session.host].ssh
        user, host, port = parse_target(target)
        argv = ["ssh", "-t", "-o", "ForwardAgent=no", "-o", "ForwardX11=no"]
        ssh_config = self.ssh_config_for(session.host)
        if ssh_config is not None:
            argv += ["-F", str(ssh_config)]
        if port:
            argv += ["-p", str(port)]
        if user:
            argv += ["-l", user]
        argv += [host, "--", "tmux", "-L", "fleet", "attach-session", "-t", f"=fleet-{session.id}"]
        return argv
