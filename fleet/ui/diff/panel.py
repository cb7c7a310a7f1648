"""The diff panel: a title, the file list and the hunks view, and the review keys.

:class:`DiffPanel` holds a one-line title, a :class:`~fleet.ui.diff.files.FileList` (``tab``
toggles it with the hunks) and the hunks in a :class:`~fleet.ui.diff.view.DiffView`.

Data goes down (:meth:`DiffPanel.show`, :meth:`DiffPanel.clear`, :meth:`DiffPanel.mark`);
decisions go up as :class:`DiffPanel.Decide` messages, escape as :class:`DiffPanel.Closed`.
The panel never calls the supervisor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

from fleet.core import review
from fleet.presentation import plural
from fleet.ui.bindings import DIFF_PANEL
from fleet.ui.diff.files import FileList
from fleet.ui.diff.lex import warm_up
from fleet.ui.diff.rows import Decision, cursor_after
from fleet.ui.diff.text import safe_label
from fleet.ui.diff.view import DiffView
from fleet.ui.screens.prompt import PromptScreen

Action = Literal["approve", "reject", "approve-all", "undo"]

VIEW_LABELS = {
    "review": "review",
    "since": "since the last decision, read-only",
    "all": "the whole branch, read-only",
}
EMPTY = {
    "review": "nothing new to review",
    "since": "no changes since the last decision",
    "all": "no changes on the branch",
}


def view_title(diff: review.Diff) -> str:
    """Which view a diff is, as the panel's title says it."""
    if diff.view == "review":
        committed = diff.extra.get("committed")
        return f"review: new since approved {committed[:8]}" if committed else "review"
    if diff.view == "since":
        since = diff.extra.get("since") or {}
        number = since.get("decision") if isinstance(since, dict) else None
        where = f"since decision {number}" if number else "since the last decision (none yet)"
        return f"{where}, read-only"
    return VIEW_LABELS.get(diff.view, diff.view)


class DiffPanel(Vertical):
    """A session's diff with a hunk cursor; review decisions go up as messages.

    ``show(ref, diff)`` puts a diff in (the cursor stays on the same hunk when it
    is still there, else on the same number); ``clear(message)`` empties it. The keys are
    ``DIFF_PANEL`` (n, p, a, x, A, u, tab, escape). ``a`` / ``x`` mark the hunk at once and
    move to the next; ``x`` asks for an optional note, ``A`` for a commit message (both with
    :class:`PromptScreen`; escape there cancels). `v` cycles the diff's views (review: what
    is new since the last approved commit; since the last decision; the whole branch): only
    the review view takes decisions, the others are read-only.
    """

    DEFAULT_CSS = """
    DiffPanel {
        width: 1fr;
        min-width: 40;
        height: 1fr;
        background: $surface;
        border-left: vkey $primary 50%;
    }
    DiffPanel > #diff-title {
        height: 1;
        width: 1fr;
        padding: 0 1;
        background: $panel;
        color: $foreground;
        text-style: bold;
    }
    DiffPanel > FileList { display: none; }
    DiffPanel.-files > FileList { display: block; }
    DiffPanel.-files > DiffView { display: none; }
    """
    BINDINGS: ClassVar[list[BindingType]] = list(DIFF_PANEL)

    class Decide(Message):
        """The person decided: approve or reject `hunk`, approve all (and commit), or undo.

        `fingerprint` is the fingerprint of the diff the person saw (pass it as `expect`);
        `text` is the reject note or the commit message ("" = none / generated)."""

        def __init__(
            self,
            action: Action,
            hunk: review.Hunk | None,
            fingerprint: str,
            *,
            text: str = "",
            session_ref: str = "",
            mode: str = "review",
            panel: DiffPanel | None = None,
        ) -> None:
            self.action: Action = action
            self.hunk = hunk
            self.fingerprint = fingerprint
            self.text = text
            self.session_ref = session_ref
            self.mode = mode  # the view the decision was made on (review.VIEWS)
            self.panel = panel
            super().__init__()

        @property
        def control(self) -> DiffPanel | None:
            return self.panel

    class ModeChanged(Message):
        """`v`: the person wants another view of the diff (one of review.VIEWS)."""

        def __init__(self, mode: str, panel: DiffPanel | None = None) -> None:
            self.mode = mode
            self.panel = panel
            super().__init__()

        @property
        def control(self) -> DiffPanel | None:
            return self.panel

    class Closed(Message):
        """Escape: the person is done with the panel."""

        def __init__(self, panel: DiffPanel | None = None) -> None:
            self.panel = panel
            super().__init__()

        @property
        def control(self) -> DiffPanel | None:
            return self.panel

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.session_ref = ""
        self.mode = "review"  # which of review.VIEWS is shown
        self.view = DiffView(id="diff-view")
        self.files = FileList(id="diff-files")
        self.title_bar = Static("", id="diff-title", markup=False)

    def compose(self) -> ComposeResult:
        yield self.title_bar
        yield self.files
        yield self.view

    def on_mount(self) -> None:
        self._update_title()
        self.run_worker(warm_up, thread=True, group="diff-warm-up", exit_on_error=False)

    # -- data in -------------------------------------------------------------------------------

    @property
    def diff(self) -> review.Diff | None:
        return self.view.diff

    @property
    def current_hunk(self) -> review.Hunk | None:
        return self.view.current

    def show(self, session_ref: str, diff: review.Diff, focus: Sequence[str] = ()) -> None:
        """Show `diff` of `session_ref`, in its view. Local marks are dropped: the diff is the
        truth. The cursor goes on the first hunk whose fingerprint is in `focus` (what a
        decision just changed back), else stays on its hunk."""
        view = self.view
        same = session_ref == self.session_ref and diff.view == self.mode
        hunks = diff.hunks
        cursor = cursor_after(hunks, view.current if same else None)
        focused = set(focus)
        wanted = next((i for i, h in enumerate(hunks) if h.fingerprint in focused), None)
        if wanted is not None:
            cursor = wanted
        self.session_ref = session_ref
        self.mode = diff.view
        empty = EMPTY.get(diff.view, "no changes")
        view.set_diff(diff, cursor, "" if hunks else empty)
        if not same:
            view.scroll_to(0, 0, animate=False, immediate=True)
        if view.cursor is not None:
            view.scroll_to_hunk(view.cursor)
        self._update_files()
        self._update_title()

    def clear(self, message: str) -> None:
        """No diff: show `message` ("loading…", "no changes", an error) instead."""
        self.view.set_diff(None, None, message)
        self.view.scroll_to(0, 0, animate=False, immediate=True)
        self._update_files()
        self._update_title(message)

    def mark(self, number: int, decision: Decision) -> None:
        """Show a decision on hunk `number` right away (until the next show())."""
        index = self.view.rows.index_of(number)
        if index is not None:
            self._mark(self.view.hunks[index], decision)

    def _mark(self, hunk: review.Hunk, decision: Decision) -> None:
        self.view.mark(hunk.fingerprint, decision)
        self._update_files()
        self._update_title()

    # -- cursor --------------------------------------------------------------------------------

    def action_cycle_view(self) -> None:
        views = review.VIEWS
        at = views.index(self.mode) if self.mode in views else -1
        following = views[(at + 1) % len(views)]
        self.post_message(self.ModeChanged(following, self))

    def next_hunk(self) -> None:
        self.view.step(1)

    def prev_hunk(self) -> None:
        self.view.step(-1)

    @on(DiffView.CursorMoved)
    def _cursor_moved(self, event: DiffView.CursorMoved) -> None:
        event.stop()
        view = self.view
        if view.cursor is not None and self.files.rows:
            self.files.move(view.hunk_files[view.cursor])
        self._update_title()

    @on(FileList.Chosen)
    def _file_chosen(self, event: FileList.Chosen) -> None:
        event.stop()
        self.show_files(False)
        self.view.move_cursor(event.row.first_hunk)
        self.view.scroll_to_hunk(event.row.first_hunk)

    def show_files(self, shown: bool) -> None:
        """Show the file list (True) or the hunks (False); focus follows when inside."""
        had_focus = self.has_focus_within
        self.set_class(shown, "-files")
        if shown:
            cursor = self.view.cursor
            self.files.move(self.view.hunk_files[cursor] if cursor is not None else 0)
        if had_focus or shown:
            (self.files if shown else self.view).focus()
        elif self.view.cursor is not None:
            self.call_after_refresh(self.view.scroll_to_hunk, self.view.cursor)

    @property
    def files_shown(self) -> bool:
        return self.has_class("-files")

    def focus(self, scroll_visible: bool = True) -> DiffPanel:
        """Focus the hunks (or the file list when it is shown)."""
        (self.files if self.files_shown else self.view).focus(scroll_visible)
        return self

    # -- derived text --------------------------------------------------------------------------

    def _update_files(self) -> None:
        self.files.set_rows(self.view.rows.file_rows())

    def _update_title(self, message: str = "") -> None:
        view = self.view
        parts = [safe_label(self.session_ref, 200)] if self.session_ref else []
        diff = view.diff
        if diff is not None and not view.hunks:
            parts += [view_title(diff), safe_label(message or view.message, 200)]
        elif diff is None:
            parts.append(safe_label(message or view.message, 200))
        else:
            parts.append(view_title(diff))
            parts.append(f"{plural(len(diff.files), 'file')} +{diff.added} -{diff.removed}")
            if view.cursor is not None:
                parts.append(f"hunk {view.cursor + 1}/{len(view.hunks)}")
            pending, approved, rejected = view.rows.counts()
            if diff.view == "review":  # rejected hunks left the diff: the host counts them
                rejected += sum(int(r.get("hunks", 0)) for r in diff.extra.get("rejected", []))
            parts.append(f"✓{approved} ✗{rejected} ○{pending}")
        self.title_bar.update(" · ".join(p for p in parts if p), layout=False)

    # -- actions -------------------------------------------------------------------------------

    def action_next_hunk(self) -> None:
        self.next_hunk()

    def action_prev_hunk(self) -> None:
        self.prev_hunk()

    def action_toggle_files(self) -> None:
        self.show_files(not self.files_shown)

    def action_back(self) -> None:
        self.post_message(self.Closed(self))

    def _decision_target(self, verb: str) -> review.Hunk | None:
        """The hunk a decision is about, or None (and a notice saying why not)."""
        hunk = self.view.current
        diff = self.view.diff
        if hunk is None or diff is None:
            self.notify(f"nothing to {verb}", severity="warning", timeout=3)
            return None
        if self.mode != "review":
            self.notify(
                f"this view ({VIEW_LABELS.get(self.mode, self.mode)}) is read-only: press v "
                "to come back to the review and decide there",
                severity="warning",
                timeout=5,
            )
            return None
        if self.files_shown:
            self.notify("press tab to see the hunks first", severity="warning", timeout=3)
            return None
        return hunk

    def _post(self, action: Action, hunk: review.Hunk | None, text: str = "") -> None:
        diff = self.view.diff
        self.post_message(
            self.Decide(
                action,
                hunk,
                diff.fingerprint if diff is not None else "",
                text=text,
                session_ref=self.session_ref,
                mode=self.mode,
                panel=self,
            )
        )

    def _advance_from(self, hunk: review.Hunk) -> None:
        current = self.view.current
        if current is not None and current.fingerprint == hunk.fingerprint:
            self.view.move_cursor((self.view.cursor or 0) + 1)

    def action_approve(self) -> None:
        hunk = self._decision_target("approve")
        if hunk is None:
            return
        decision = self.view.decision(hunk)
        if decision != "pending":
            self.notify(f"hunk #{hunk.number} is already {decision}", timeout=3)
            return
        self._mark(hunk, "approved")
        self._post("approve", hunk)
        self._advance_from(hunk)

    def action_reject(self) -> None:
        hunk = self._decision_target("reject")
        if hunk is None:
            return
        if self.view.decision(hunk) == "rejected":
            self.notify(f"hunk #{hunk.number} is already rejected", timeout=3)
            return
        where = f"{hunk.path}:{hunk.lines}" if hunk.lines else hunk.path
        diff = self.view.diff
        seen = diff.fingerprint if diff is not None else ""
        ref, mode = self.session_ref, self.mode

        def done(note: str | None) -> None:
            if note is None:
                return
            self._mark(hunk, "rejected")
            self.post_message(
                self.Decide(
                    "reject",
                    hunk,
                    seen,
                    text=note.strip(),
                    session_ref=ref,
                    mode=mode,
                    panel=self,
                )
            )
            self._advance_from(hunk)

        self.app.push_screen(
            PromptScreen(
                f"Reject hunk #{hunk.number} ({where})",
                "a note for the agent (optional): why, or what to do instead",
            ),
            done,
        )

    def action_approve_all(self) -> None:
        diff = self.view.diff
        if diff is None or not self.view.hunks:
            self.notify("nothing to approve", severity="warning", timeout=3)
            return
        if self.mode != "review":
            self._decision_target("approve")  # says why not
            return
        pending = self.view.rows.pending()
        seen = diff.fingerprint
        ref = self.session_ref

        def done(message: str | None) -> None:
            if message is None:
                return
            self.view.mark_all(pending, "approved")
            self._update_files()
            self._update_title()
            self.post_message(
                self.Decide(
                    "approve-all", None, seen, text=message.strip(), session_ref=ref, panel=self
                )
            )

        noun = "hunk" if len(pending) == 1 else "hunks"
        self.app.push_screen(
            PromptScreen(
                f"Approve {len(pending)} pending {noun} and commit on the session's branch",
                "commit message (empty: a generated one)",
            ),
            done,
        )

    def action_undo(self) -> None:
        if not self.session_ref:
            self.notify("nothing to undo", severity="warning", timeout=3)
            return
        self._post("undo", None)


__all__ = ["Action", "DiffPanel"]
