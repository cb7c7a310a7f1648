"""The fleet TUI: a live grid of every session on every host, steering, and (soon) review.

The app only calls the core: a Supervisor (which owns SSH) and the Store (fleet's memory).
Host events arrive through `Supervisor.mirror` in one worker per host and land in a plain
FleetModel; the grid redraws only what changed. Nothing here blocks the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import time
from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar, Literal

from textual import on, work
from textual.actions import SkipAction
from textual.app import App, ComposeResult
from textual.binding import BindingType
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Horizontal, Vertical
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, Static

from fleet.core import events, review
from fleet.core.config import Config
from fleet.core.errors import FleetError, RemoteError
from fleet.core.models import Session, Status
from fleet.core.store import Store
from fleet.core.supervisor import Supervisor
from fleet.core.textsafe import inert
from fleet.core.wiring import wired
from fleet.presentation import host_summary
from fleet.ui.bindings import BINDINGS, keymap_from_config
from fleet.ui.diff import DiffPanel
from fleet.ui.model import Card, FleetModel
from fleet.ui.screens.help import HelpScreen
from fleet.ui.screens.new_session import NewSession, NewSessionScreen
from fleet.ui.themes import (
    DEFAULT_THEME,
    register_all,
    save_theme,
    saved_theme,
    status_variable_defaults,
)
from fleet.ui.widgets.grid import SessionGrid

log = logging.getLogger("fleet.ui")

# Statuses that interrupt the person: a toast and the terminal's bell.
LOUD = {Status.NEEDS_INPUT: "needs you", Status.FAILED: "failed", Status.EXITED: "finished"}


class SteerScreen(ModalScreen[None]):
    """One line to the selected agent: enter sends, escape cancels.

    Enter hands the text to `on_send` before the box closes: the send is under way while the
    screen below repaints, not after (on a busy grid that repaint alone is tens of ms)."""

    DEFAULT_CSS = """
    SteerScreen { align: center bottom; }
    SteerScreen > Vertical {
        width: 90%; height: auto; padding: 0 1; margin-bottom: 2;
        border: round $accent; background: $panel;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [("escape", "cancel", "cancel")]
    AUTO_FOCUS = "#steer-text"

    def __init__(
        self, ref: str, on_send: Callable[[str], object], *, at_prompt: bool = False
    ) -> None:
        super().__init__()
        self.ref = ref
        self.on_send = on_send
        self.at_prompt = at_prompt

    def compose(self) -> ComposeResult:
        with Vertical():
            if self.at_prompt:
                # Whatever is typed at a dialog answers it; the host refuses anything else.
                yield Label(
                    f"Answer {self.ref}'s prompt, e.g. 1, 2, y or n (enter sends, escape "
                    "cancels). A message would answer the prompt too, so it is refused here.",
                    markup=False,
                )
                yield Input(placeholder="the option to pick", id="steer-text")
            else:
                yield Label(f"Message to {self.ref} (enter sends, escape cancels)", markup=False)
                yield Input(placeholder="what should the agent do?", id="steer-text")

    @on(Input.Submitted)
    def send(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.on_send(event.value)
        self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class FilterBar(Input):
    """`/` filter: text, or host:NAME, agent:NAME, status:NAME."""


class CommandBar(Input):
    """`:` commands: new, host NAME, theme NAME, group host|status, quit."""


COMMANDS_HELP = ":new · :host NAME · :theme NAME · :group host|status · :q"


class FleetCommands(Provider):
    """fleet's own entries in the command palette (ctrl+p)."""

    def _commands(self) -> list[tuple[str, str, Callable[[], Any]]]:
        app = self.app
        assert isinstance(app, FleetApp)
        entries: list[tuple[str, str, Callable[[], Any]]] = [
            ("New session", "start an agent on a host", app.action_new_session),
            ("Group by status", "needs-input first", lambda: app.set_grouping("status")),
            ("Group by host", "one block per host", lambda: app.set_grouping("host")),
            ("Filter sessions", "text, host:NAME, agent:NAME, status:NAME", app.action_filter),
            ("Help", "every key", app.action_help),
        ]
        for name in sorted(app.available_themes):
            entries.append((f"Theme: {name}", "switch and remember", partial(app.set_theme, name)))
        return entries

    async def discover(self) -> Hits:
        for name, help_text, command in self._commands():
            yield DiscoveryHit(name, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, command in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), command, help=help_text)


class FleetApp(App[int]):
    """fleet's TUI over a configured fleet."""

    TITLE = "fleet"
    CSS = """
    #hosts { height: 1; padding: 0 1; background: $panel; color: $foreground; }
    #body { height: 1fr; }
    SessionGrid { width: 1fr; }
    #empty { width: 1fr; height: 1fr; content-align: center middle; padding: 2 4; }
    #diff { display: none; width: 1fr; }
    #body.-review #diff { display: block; }
    FilterBar, CommandBar { dock: bottom; display: none; }
    FilterBar.-shown, CommandBar.-shown { display: block; }
    """
    BINDINGS = BINDINGS
    COMMANDS = App.COMMANDS | {FleetCommands}

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        self.model = FleetModel()
        self.store: Store | None = None
        self.sup: Supervisor | None = None
        self._wiring = contextlib.AsyncExitStack()  # the store, hooks and supervisor, open
        self._review_lock = asyncio.Lock()
        self._hosts_text = ""
        # The view the person chose in the diff panel: every reload honours it, even one that
        # was already under way when they switched.
        self.since_review = False

    # -- layout -------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static("", id="hosts", markup=False)
        with Horizontal(id="body"):
            yield SessionGrid(self.model, id="grid")
            yield Static(self._empty_text(), id="empty", markup=False)
            yield DiffPanel(id="diff")
        yield FilterBar(
            placeholder="filter: text, host:NAME, agent:NAME, status:NAME", disabled=True
        )
        yield CommandBar(placeholder=COMMANDS_HELP, disabled=True)
        yield Footer()

    def _empty_text(self) -> str:
        if not self.config.hosts:
            return (
                "No hosts yet.\n\n"
                f"Add one to {self.config.path}:\n\n"
                '    [hosts.devbox]\n    ssh = "devbox"        # a Host in ~/.ssh/config\n\n'
                "then run `fleet hosts` to check it, or try `fleet demo` first.\n"
                "Press q to quit."
            )
        return "No sessions yet: start one with `fleet new HOST --repo PATH TASK`."

    async def on_mount(self) -> None:
        for warning in register_all(self):
            self.notify(warning, severity="warning")
        self.theme = saved_theme() or DEFAULT_THEME
        keymap, problems = keymap_from_config(self.config.keys)
        self.set_keymap(keymap)
        for problem in problems:
            self.notify(problem, severity="warning", timeout=10)
        for host in self.config.hosts:
            self.model.mark_host(host, "connecting")
        self.sup = await self._wiring.enter_async_context(wired(self.config))
        self.store = self.sup.require_store()
        screens = await self.store.screens()
        for cached in await self.store.sessions():
            if cached.session.host in self.config.hosts:
                self.model.upsert_session(
                    cached.session,
                    cached=True,
                    gone=cached.gone,
                    unread=cached.unread,
                    output_cursor=cached.output_cursor,
                )
                screen = screens.get((cached.session.host, cached.session.id))
                if screen:
                    self.model.set_screen(cached.session.host, cached.session.id, screen)
        self._refresh_all()
        # The cached fleet is painted first; connecting (ssh config parsing, key exchange)
        # begins after that frame, so a large fleet shows at once, before any host answers.
        self.call_after_refresh(self._follow_hosts)
        self.set_interval(1.0, self._tick)

    def _follow_hosts(self) -> None:
        for host in self.config.hosts:
            self.follow_host(host)

    async def on_unmount(self) -> None:
        await self._wiring.aclose()

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every toast is plain text, whoever asks (widgets pass markup=True by default):
        a toast quotes what hosts and agents said, and `[/]` in a file name must stay text."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def get_theme_variable_defaults(self) -> dict[str, str]:
        # Textual's own themes know nothing of fleet's status colours.
        return status_variable_defaults()

    def watch_theme(self, theme: str) -> None:
        save_theme(theme)

    # -- following the hosts ------------------------------------------------------------

    @work(group="hosts", exit_on_error=False)
    async def follow_host(self, host: str) -> None:
        assert self.sup is not None
        try:
            async for event in self.sup.mirror(host):
                try:
                    self._apply(event)
                except Exception:  # a bug in showing one event must not stop the host
                    log.exception("%s: could not show a %s event", host, event.kind)
        except FleetError as exc:
            self.model.mark_host(host, "unreachable", str(exc))
            self._refresh_hosts()

    def _apply(self, event: events.Event) -> None:
        grid = self.query_one(SessionGrid)
        before = self.model.order_version
        touched = self.model.apply(event)
        match event:
            case events.StatusChanged():
                self._announce(event.host, event.session, event.status, event.exit_code)
            case events.Decided():
                self._decided_elsewhere(event)
        selected = self._selected_key()
        if selected in touched and self.model.mark_read(selected):
            # What the person is looking at is read: the store hears it too (one rule).
            card = self.model.cards[selected]
            if self.sup is not None:
                self.sup.mark_read(card.session)
        hosts = isinstance(event, events.Hello | events.LinkDown | events.Snapshot)
        if hosts or self.model.order_version != before:
            self._refresh_all()
        elif touched:
            grid.update_cards(touched)

    def _decided_elsewhere(self, event: events.Decided) -> None:
        """A decision on a session (by this fleet, the CLI or another laptop): the open
        panel shows the diff as it is now, so the next key acts on what the person sees."""
        card = self.model.cards.get((event.host, event.session))
        panel = self.query_one(DiffPanel)
        if card is None or not self._reviewing() or panel.session_ref != card.session.ref:
            return
        self.load_diff(card.session)

    def _reviewing(self) -> bool:
        return self.query_one("#body").has_class("-review")

    def _announce(self, host: str, sid: str, status: Status, code: object) -> None:
        if status not in LOUD:
            return
        card = self.model.cards.get((host, sid))
        name = card.session.name if card else sid
        suffix = f" ({code})" if code is not None else ""
        severity: Literal["information", "warning", "error"] = "warning"
        if status == Status.FAILED:
            severity = "error"
        elif status == Status.EXITED:
            severity = "information"
        message = f"{host}/{name} {LOUD[status]}{suffix}"
        self.notify(message, severity=severity, timeout=8)
        self.alert(message)

    def alert(self, message: str) -> None:
        """The terminal's own notification, as [ui] notify says: bell, OSC 9, OSC 777 or off."""
        if self.config.notify == "bell":
            self.bell()
            return
        sequence = terminal_alert(self.config.notify, message)
        driver = getattr(self, "_driver", None)
        if sequence and driver is not None and not self.is_headless:
            driver.write(sequence)

    def _tick(self) -> None:
        if self.is_running and self.query("#hosts"):  # not while the app shuts down
            self._refresh_hosts()  # "reconnecting in Ns" counts down

    def _refresh_all(self) -> None:
        grid = self.query_one(SessionGrid)
        grid.update_cards(list(self.model.cards))
        has_cards = bool(self.model.visible()) or bool(self.model.filter_text)
        grid.display = has_cards
        self.query_one("#empty").display = not has_cards
        if has_cards and self.focused is None and self.screen is self.screen_stack[0]:
            grid.focus()
        self._refresh_hosts()

    def _refresh_hosts(self) -> None:
        parts = host_summary(self.model.hosts.values(), time.time())
        if not self.config.hosts:
            parts = [f"no hosts configured ({self.config.path})"]
        trouble = self.store.trouble if self.store is not None else None
        if trouble is not None:  # a full disk: say so where the person looks, every second
            parts.insert(0, f"local store: {inert(str(trouble))[:120]}")
        counts = self.model.counts()
        summary = "  ".join(f"{n} {s}" for s, n in counts.items())
        text = "  ·  ".join(parts) + (f"    {summary}" if summary else "")
        if text != self._hosts_text:
            self._hosts_text = text
            # One fixed-height line: a relayout would repaint the whole screen every second.
            self.query_one("#hosts", Static).update(text, layout=False)

    # -- selection and actions ----------------------------------------------------------

    def _selected_key(self) -> tuple[str, str] | None:
        card = self.query_one(SessionGrid).selected
        return card.key if card else None

    def _selected(self) -> Card | None:
        card = self.query_one(SessionGrid).selected
        if card is None:
            self.notify("no session selected", severity="warning")
        return card

    @on(SessionGrid.Selected)
    def _on_selected(self, event: SessionGrid.Selected) -> None:
        card = event.card
        if card is not None and self.model.mark_read(card.key):
            self.query_one(SessionGrid).update_cards([card.key])
            if self.sup is not None:
                self.sup.mark_read(card.session)

    def action_move(self, dx: int, dy: int) -> None:
        # Arrow keys are priority bindings: under a modal or in a text box they are not ours.
        panel = self.query_one(DiffPanel)
        in_panel = self.focused is not None and (
            self.focused is panel or panel in self.focused.ancestors
        )
        if self.screen is not self.screen_stack[0] or isinstance(self.focused, Input) or in_panel:
            raise SkipAction()  # the key goes on to the text box, the modal or the diff
        self.query_one(SessionGrid).move(dx, dy)

    def action_message(self) -> None:
        card = self._selected()
        if card is None:
            return

        def send(text: str) -> None:
            self.send_message_to(card.session, text)

        at_prompt = card.session.status is Status.NEEDS_INPUT
        self.push_screen(SteerScreen(card.session.ref, send, at_prompt=at_prompt))

    @work(group="actions", exit_on_error=False)
    async def send_message_to(self, session: Session, text: str) -> None:
        assert self.sup is not None
        try:
            await self.sup.send(f"{session.host}/{session.id}", text, session=session)
        except RemoteError as exc:
            if exc.kind == "at-prompt":  # the host saw a prompt on the agent's screen
                self.notify(
                    f"{session.ref} waits at a prompt, and a message would answer it: not sent. "
                    "Press m and type the option (1, 2, y or n), or look first with t.",
                    severity="warning",
                    timeout=10,
                )
            else:
                self.notify(str(exc), severity="error", timeout=10)
            return
        except FleetError as exc:
            self.notify(str(exc), severity="error", timeout=10)
            return
        self.notify(f"sent to {session.ref}", timeout=3)

    def action_stop(self) -> None:
        card = self._selected()
        if card is not None:
            self._session_action("stop", card.session)

    def action_resume(self) -> None:
        card = self._selected()
        if card is not None:
            self._session_action("resume", card.session)

    @work(group="actions", exit_on_error=False)
    async def _session_action(self, what: str, session: Session) -> None:
        assert self.sup is not None
        ref = f"{session.host}/{session.id}"
        try:
            changed = await (self.sup.stop(ref) if what == "stop" else self.sup.resume(ref))
        except FleetError as exc:
            self.notify(str(exc), severity="error", timeout=10)
            return
        self.model.upsert_session(changed)
        self.query_one(SessionGrid).update_cards([(changed.host, changed.id)])
        self.notify(f"{what} {session.ref}", timeout=3)

    def action_attach(self) -> None:
        card = self._selected()
        if card is None or self.sup is None:
            return
        argv = self.sup.attach_argv(card.session)
        with self.suspend():
            subprocess.run(argv, check=False)

    def action_filter(self) -> None:
        bar = self.query_one(FilterBar)
        bar.disabled = False
        bar.add_class("-shown")
        bar.focus()

    # FilterBar.Changed is Input.Changed: without the selector every text box (the steering
    # box too) would filter the grid as the person types.
    @on(FilterBar.Changed, "FilterBar")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.model.filter_text = event.value
        self._refresh_all()

    @on(FilterBar.Submitted, "FilterBar")
    def _filter_done(self, event: Input.Submitted) -> None:
        self.query_one(SessionGrid).focus()
        if not event.value:
            self._hide_filter()

    async def action_back(self) -> None:
        command = self.query_one(CommandBar)
        if command.has_class("-shown"):
            command.value = ""
            command.remove_class("-shown")
            command.disabled = True
            self.query_one(SessionGrid).focus()
            return
        bar = self.query_one(FilterBar)
        if bar.has_class("-shown"):
            bar.value = ""
            self._hide_filter()
            self.query_one(SessionGrid).focus()

    def _hide_filter(self) -> None:
        bar = self.query_one(FilterBar)
        bar.remove_class("-shown")
        bar.disabled = True  # hidden, it must never take keys meant for the grid

    # -- commands -----------------------------------------------------------------------

    def action_command(self) -> None:
        bar = self.query_one(CommandBar)
        bar.disabled = False
        bar.add_class("-shown")
        bar.focus()

    @on(CommandBar.Submitted, "CommandBar")
    def _command(self, event: Input.Submitted) -> None:
        bar = self.query_one(CommandBar)
        bar.value = ""
        bar.remove_class("-shown")
        bar.disabled = True
        self.query_one(SessionGrid).focus()
        self.run_command(event.value.strip().lstrip(":"))

    def run_command(self, line: str) -> None:
        word, _, arg = line.partition(" ")
        arg = arg.strip()
        if word in ("", "q", "quit"):
            if word:
                self.exit(0)
        elif word == "new":
            self.action_new_session()
        elif word == "host":
            if arg and arg not in self.config.hosts:
                self.notify(f"unknown host {arg!r}", severity="error")
                return
            self.model.filter_text = f"host:{arg}" if arg else ""
            self._refresh_all()
        elif word == "theme":
            self.set_theme(arg)
        elif word == "group" and arg in ("host", "status"):
            self.set_grouping(arg)
        else:
            self.notify(f"unknown command {line!r}: {COMMANDS_HELP}", severity="error")

    def set_theme(self, name: str) -> None:
        if name not in self.available_themes:
            known = ", ".join(sorted(self.available_themes))
            self.notify(f"no theme {name!r} (themes: {known})", severity="error", timeout=10)
            return
        self.theme = name

    def set_grouping(self, group_by: str) -> None:
        self.model.group_by = group_by  # type: ignore[assignment]
        self.query_one(SessionGrid).update_cards()
        self._refresh_all()

    # -- new session --------------------------------------------------------------------

    def action_new_session(self) -> None:
        if not self.config.hosts or self.sup is None:
            self.notify("no hosts configured yet", severity="warning")
            return
        recent: dict[str, list[str]] = {}
        for card in sorted(self.model.cards.values(), key=lambda c: -c.session.created):
            repos = recent.setdefault(card.host, [])
            if card.session.repo and card.session.repo not in repos:
                repos.append(card.session.repo)
        selected = self.query_one(SessionGrid).selected
        screen = NewSessionScreen(
            list(self.config.hosts),
            list(self.sup.profiles),
            recent,
            host=selected.host if selected else None,
        )

        def done(result: NewSession | None) -> None:
            if result is not None:
                self.start_session(result)

        self.push_screen(screen, done)

    @work(group="actions", exit_on_error=False)
    async def start_session(self, request: NewSession) -> None:
        assert self.sup is not None
        self.notify(f"starting {request.agent} on {request.host}…", timeout=3)
        try:
            session = await self.sup.new_session(
                request.host, request.repo, agent=request.agent, task=request.task
            )
        except FleetError as exc:
            self.notify(str(exc), severity="error", timeout=12)
            return
        self.model.upsert_session(session)
        self._refresh_all()
        self.query_one(SessionGrid).select((session.host, session.id))
        self.notify(f"started {session.ref}", timeout=4)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    # -- review -------------------------------------------------------------------------

    def action_open_diff(self) -> None:
        card = self._selected()
        if card is None:
            return
        panel = self.query_one(DiffPanel)
        if panel.session_ref != card.session.ref:
            self.since_review = False
        # The fetch first: it is on its way while the panel opens and the grid relays out.
        self.load_diff(card.session)
        self.query_one("#body").add_class("-review")
        panel.clear(f"loading the diff of {card.session.ref}…")
        panel.focus()

    @work(group="diff", exclusive=True, exit_on_error=False)
    async def load_diff(self, session: Session) -> None:
        assert self.sup is not None
        panel = self.query_one(DiffPanel)
        since_review = self.since_review
        try:
            _, diff = await self.sup.diff(
                f"{session.host}/{session.id}", since_review, session=session
            )
        except FleetError as exc:
            panel.clear(f"cannot read the diff: {exc}")
            return
        if since_review != self.since_review:
            return  # the person switched views meanwhile: that load is the one to show
        panel.show(session.ref, diff, since_review)
        panel.focus()

    @on(DiffPanel.SinceReviewToggled)
    def _toggle_since_review(self, event: DiffPanel.SinceReviewToggled) -> None:
        card = next(
            (
                c
                for c in self.model.cards.values()
                if c.session.ref == self.query_one(DiffPanel).session_ref
            ),
            None,
        )
        if card is not None:
            self.since_review = event.since_review
            self.load_diff(card.session)

    @on(DiffPanel.Closed)
    def _close_diff(self) -> None:
        self.query_one("#body").remove_class("-review")
        self.query_one(SessionGrid).focus()

    @on(DiffPanel.Decide)
    def _decide(self, event: DiffPanel.Decide) -> None:
        card = self.query_one(SessionGrid).selected
        if card is None or card.session.ref != event.session_ref:
            card = next(
                (c for c in self.model.cards.values() if c.session.ref == event.session_ref),
                None,
            )
        if card is not None:
            self.review_decision(card.session, event)

    @work(group="review", exit_on_error=False)
    async def review_decision(self, session: Session, event: DiffPanel.Decide) -> None:
        assert self.sup is not None
        async with self._review_lock:  # one decision at a time, each on the diff it saw
            await self._review_decision(session, event)

    async def _review_decision(self, session: Session, event: DiffPanel.Decide) -> None:
        assert self.sup is not None
        ref = f"{session.host}/{session.id}"
        panel = self.query_one(DiffPanel)
        number = event.hunk.number if event.hunk is not None else None
        try:
            if event.action == "approve" and number is not None:
                await self.sup.approve(
                    ref, hunks=[number], expect=event.fingerprint, session=session
                )
                done = f"approved hunk {number}"
            elif event.action == "reject" and number is not None:
                await self.sup.reject(
                    ref, hunks=[number], note=event.text, expect=event.fingerprint, session=session
                )
                done = f"rejected hunk {number}; the agent was told"
            elif event.action == "approve-all":
                _, result = await self.sup.approve(
                    ref, message=event.text or None, expect=event.fingerprint, session=session
                )
                done = f"committed on {session.branch}: {result.get('message', '')}"
            elif event.action == "undo":
                await self.sup.undo(ref)
                done = "undid the last decision"
            else:
                return
        except review.StaleReview as exc:
            self.notify(f"{exc} — here is the diff as it is now", severity="warning", timeout=10)
            if exc.fresh is not None:
                panel.show(session.ref, exc.fresh)
            return
        except FleetError as exc:
            self.notify(str(exc), severity="error", timeout=10)
            self.load_diff(session)
            return
        self.notify(f"{session.ref}: {done}", timeout=4)
        self.load_diff(session)


def terminal_alert(mode: str, message: str) -> str:
    """The escape sequence for a desktop notification (OSC 9 or 777), "" for other modes."""
    text = inert(message).replace(";", ",")[:200]  # nothing that could end the sequence
    if mode == "osc9":
        return f"\x1b]9;{text}\x07"
    if mode == "osc777":
        return f"\x1b]777;notify;fleet;{text}\x07"
    return ""


def run_app(config: Config) -> int:
    app = FleetApp(config)
    return app.run() or 0
