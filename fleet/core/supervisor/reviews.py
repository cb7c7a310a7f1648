"""The Supervisor's review of a session's work: its diff, approving and rejecting hunks,
undoing a decision, pushing and landing the branch, and checkpoints of its worktree."""

from __future__ import annotations

import asyncio
from typing import Any

from .. import results, review
from ..config import parse_target
from ..errors import RemoteError, UsageError
from ..models import Session
from ..paths import state_dir
from ..remote import answers
from ..remote.hostside import difftext
from .base import Base


class Reviews(Base):
    """Reviewing sessions' work (a part of the Supervisor)."""

    # -- review: diff, approve, reject, undo, push, land; see fleet/core/review.py

    def _seen(self) -> review.SeenDiffs:
        return review.SeenDiffs(state_dir())

    async def diff(
        self, ref: str, view: str = "review", *, session: Session | None = None
    ) -> tuple[Session, review.Diff]:
        """The session's diff in a view (review.VIEWS): by default what is new since the last
        approved commit on its branch. A caller that already knows the session (the UI)
        passes it: no listing round trip."""
        if view not in review.VIEWS:
            raise UsageError(f"unknown view {view!r} (views: {', '.join(review.VIEWS)})")
        if session is None:
            session = await self.find(ref)
        data = await self.helper(session.host).call("diff", {"session": session.id, "view": view})
        shown = answers.checked(session.host, "diff", lambda: answers.diff(data, view))
        # Parsing a big diff takes a while: off the event loop, which the UI shares.
        seen = await asyncio.to_thread(
            review.parse, shown.text, shown.base, shown.approved, shown.review, view
        )
        seen.extra.update(shown.extra)
        if view == "review":
            self._seen().remember(session.host, session.id, seen)
        return session, seen

    async def _decide(
        self,
        ref: str,
        hunks: list[int],
        path: str | None,
        expect: str | None,
        session: Session | None = None,
    ) -> tuple[Session, review.Diff, list[review.Hunk] | None]:
        """The session, the diff the person saw (by --expect, else fresh), the chosen hunks."""
        if session is None:
            session = await self.find(ref)
        if expect:
            seen = self._seen().recall(session.host, session.id, expect)
            if seen is None:
                raise UsageError(
                    f"fleet has not shown a diff {expect!r} of {session.ref}: run "
                    f"`fleet diff {session.ref}` and use the fingerprint it prints"
                )
        else:
            _, seen = await self.diff(session.ref, session=session)
        if seen.view != "review":
            raise UsageError(
                f"decisions are taken on the review view of {session.ref} (what is new since "
                f"the last approved commit), not on the {review.VIEW_NAMES[seen.view]} view"
            )
        chosen = seen.choose(hunks, path) if hunks or path else None
        return session, seen, chosen

    async def _act(self, session: Session, op: str, args: dict[str, Any]) -> dict[str, Any]:
        try:
            return dict(await self.helper(session.host).call(op, args))
        except RemoteError as exc:
            if exc.kind != "stale":
                raise
            _, fresh = await self.diff(session.ref, session=session)
            raise review.StaleReview(f"{session.ref}: {exc.reason}", fresh) from None

    async def approve(
        self,
        ref: str,
        hunks: list[int] | None = None,
        path: str | None = None,
        message: str | None = None,
        expect: str | None = None,
        session: Session | None = None,
    ) -> results.Approved:
        """Stage the chosen hunks; with none chosen, stage every pending one and commit all
        that is approved on the session's branch (with `message`, or a generated one)."""
        session, seen, chosen = await self._decide(ref, hunks or [], path, expect, session)
        commit = chosen is None or message is not None
        todo = [h for h in (seen.pending() if chosen is None else chosen) if not h.approved]
        if chosen is not None and not todo:
            numbers = ", ".join(str(h.number) for h in chosen)
            said = f"hunk {numbers} is" if len(chosen) == 1 else f"hunks {numbers} are"
            raise UsageError(f"{said} already approved")
        if commit and not message:
            files = len({h.path for h in seen.hunks})
            task = session.task.strip().splitlines()[0][:60] if session.task.strip() else ""
            counted = f"{files} file" if files == 1 else f"{files} files"
            message = f"{task or session.name}: approved in review ({counted})"
        patch = seen.patch(todo)
        detail = {
            "hunks": [h.number for h in todo],
            "fingerprints": [h.fingerprint for h in todo],
            "diff": seen.fingerprint,
            "commit": commit,
            "message": message,
        }
        args = {
            "session": session.id,
            "patch": patch,
            "expect": detail["fingerprints"],
            "commit": commit,
            "message": message or "",
            "after": seen.review,
        }
        async with self._recorded(session, "approve", detail, first=True):
            data = await self._act(session, "approve", args)
            result = answers.checked(
                session.host,
                "approve",
                lambda: answers.approved(session, data, [h.number for h in todo], message or ""),
            )
        if self.store is not None:
            for h in todo:
                self.store.record_decision(
                    session.host, session.id, h.fingerprint, h.number, "approve", "", h.text
                )
        self._emit("approved", session.host, session.id, {"hunks": detail["hunks"]})
        return result

    async def reject(
        self,
        ref: str,
        hunks: list[int] | None = None,
        path: str | None = None,
        note: str = "",
        expect: str | None = None,
        session: Session | None = None,
    ) -> results.Rejected:
        """Keep the chosen hunks as a patch, revert them in the worktree, tell the agent."""
        session, seen, chosen = await self._decide(ref, hunks or [], path, expect, session)
        if not chosen:
            raise UsageError("say which hunks to reject: --hunk N (repeatable) or --file PATH")
        patch = seen.patch(chosen)
        message = difftext.steering_text(difftext.split_files(patch), note)
        profile = self.profiles.get(session.agent)
        numbers = [h.number for h in chosen]
        detail = {"hunks": numbers, "diff": seen.fingerprint, "note": note, "message": message}
        args = {
            "session": session.id,
            "patch": patch,
            "expect": [h.fingerprint for h in chosen],
            "note": note,
            "after": seen.review,
            "prose": profile is not None and profile.prose,
        }
        async with self._recorded(session, "reject", detail, first=True):
            data = await self._act(session, "reject", args)
            result = answers.checked(
                session.host, "reject", lambda: answers.rejected(session, data, numbers)
            )
        if self.store is not None:
            for h in chosen:
                self.store.record_decision(
                    session.host, session.id, h.fingerprint, h.number, "reject", note, h.text
                )
        self._emit("rejected", session.host, session.id, {"hunks": numbers, "note": note})
        return result

    async def undo(self, ref: str) -> results.Undone:
        """Reverse the session's last review decision (see hostside/review.py op_undo)."""
        session = await self.find(ref)
        async with self._recorded(session, "undo", {}):
            data = await self.helper(session.host).call("undo", {"session": session.id})
            return answers.checked(session.host, "undo", lambda: answers.undone(session, data))

    async def push(self, ref: str) -> results.Pushed:
        """Push the session's branch to the repo's origin on the host; open a PR with gh."""
        session = await self.find(ref)
        lines = [session.task.strip() or f"Work of fleet session {session.name}", ""]
        decisions = await self.store.decisions(session.host, session.id) if self.store else []
        for d in decisions:
            note = f": {d.note}" if d.note else ""
            lines.append(f"- {d.action} hunk {d.hunk}{note}")
        title = (session.task.strip().splitlines() or [session.branch])[0][:72]
        args = {"session": session.id, "title": title, "body": "\n".join(lines)}
        async with self._recorded(session, "push", {"branch": session.branch}):
            data = await self.helper(session.host).call("push", args)
            return answers.checked(session.host, "push", lambda: answers.pushed(session, data))

    async def land(self, ref: str, into: str) -> results.Landed:
        """Fetch the session's branch over ssh into a local clone as fleet/HOST/NAME."""
        session = await self.find(ref)
        user, host, port = parse_target(self.config.hosts[session.host].ssh)
        ssh_config = self.ssh_config_for(session.host)
        async with self._recorded(session, "land", {"into": into}):
            # A sandboxed session's branch lives in its own repository on the host: the host
            # copies it (hashing every object again) into the repository the fetch reads.
            await self.helper(session.host).call("land", {"session": session.id})
            got = await asyncio.to_thread(review.land, into, session, user, host, port, ssh_config)
        return results.Landed(session, **got)

    # -- checkpoints (snapshots of a session's worktree on its host; see hostside/checkpoints)

    async def checkpoint(self, ref: str, reason: str = "by hand") -> results.Checkpointed:
        """Snapshot the session's files now (or the last checkpoint, when nothing changed)."""
        session = await self.find(ref)
        args = {"session": session.id, "reason": reason}
        async with self._recorded(session, "checkpoint", {"reason": reason}):
            data = await self.helper(session.host).call("checkpoint", args)
            made = answers.checked(
                session.host, "checkpoint", lambda: answers.checkpointed(session, data)
            )
        self._emit("checkpoint", session.host, session.id, {"n": made.checkpoint.n})
        return made

    async def checkpoints(self, ref: str) -> results.Checkpoints:
        """The session's checkpoints, oldest first: n, commit, time, reason, changes."""
        session = await self.find(ref)
        rows = await self.helper(session.host).call("checkpoints", {"session": session.id})
        return answers.checked(
            session.host, "checkpoints", lambda: answers.checkpoints(session, rows)
        )

    async def rewind(self, ref: str, n: int) -> results.Rewound:
        """Checkpoint the current files, then put back those of checkpoint n.

        Only files change: HEAD, the branch and the index stay. The result names the
        checkpoint made first ("before"), so the person can rewind to it to come back.
        """
        session = await self.find(ref)
        args = {"session": session.id, "n": n}
        async with self._recorded(session, "rewind", {"n": n}):
            data = await self.helper(session.host).call("rewind", args)
            return answers.checked(session.host, "rewind", lambda: answers.rewound(session, data))
