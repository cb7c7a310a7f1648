"""The fleet TUI: a live grid of every session on every host, steering, and review.

The app only calls the core: a Supervisor (which owns SSH) and the Store (fleet's memory).
Host events arrive through `Supervisor.mirror` in one worker per host and land in a plain
FleetModel; the grid redraws only what changed. Nothing here blocks the event loop.

This module lays the screen out and owns the app's life (the wiring, the cached fleet, the
top line). Every key and message goes to the controller of its context
(:mod:`fleet.ui.controllers`): hosts, sessions, review, view.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import TYPE_CHECKING

from textual import events as events_
from textual import on
from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.notifications import Notify, SeverityLevel
from textual.screen import Screen
from textual.widgets import Input, Static
from textual.worker import Worker

from fleet.core import events
from fleet.core.config import Config
from fleet.core.errors import UsageError
from fleet.core.models import Session, Status
from fleet.core.store import Store
from fleet.core.textsafe import inert
from fleet.core.usage import local_day, merged_prices
from fleet.presentation import header_line, host_summary, today_label
from fleet.ui.bindings import BINDINGS, effective_keys, keymap_from_config
from fleet.ui.controllers import (
    AnswerController,
    HostsController,
    ReapingController,
    ReviewController,
    SessionsController,
    ViewController,
)
from fleet.ui.diff import DiffPanel
from fleet.ui.heap import Heap
from fleet.ui.model import FleetModel
from fleet.ui.palette import FleetCommands
from fleet.ui.screens.help import HelpScreen
from fleet.ui.themes import (
    DEFAULT_THEME,
    register_all,
    save_theme,
    saved_theme,
    status_variable_defaults,
)
from fleet.ui.widgets.bars import CommandBar, FilterBar
from fleet.ui.widgets.grid import SessionGrid
from fleet.ui.widgets.keybar import Context, KeyBar

if TYPE_CHECKING:
    from fleet.core.supervisor import Supervisor

MAX_TOASTS = 2


class MainScreen(Screen[None]):
    """The grid's screen: toasts wait while a dialog is over it, and come back after."""

    def on_screen_suspend(self) -> None:
        if isinstance(self.app, FleetApp):
            self.app.park_toasts()

    def on_screen_resume(self) -> None:
        if isinstance(self.app, FleetApp):
            self.app.call_after_refresh(self.app.show_held_toasts)


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
        self.heap = Heap(len(config.hosts))
        self.model.prices = merged_prices(config.prices)
        self.store: Store | None = None
        self.sup: Supervisor | None = None
        self._session_grid: SessionGrid | None = None
        self._wiring = contextlib.AsyncExitStack()  # the store, hooks and supervisor, open
        self._hosts_text = ""
        self._today_cache: tuple[object, str] = (None, "")
        self._held_toasts: list[tuple[str, str, SeverityLevel, float | None]] = []
        self.keys = effective_keys()  # binding id -> the keys in effect, for the key bar
        self.hosts = HostsController(self)
        self.sessions = SessionsController(self)
        self.answers = AnswerController(self)
        self.review = ReviewController(self)
        self.view = ViewController(self)
        self.reaping = ReapingController(self)

    # -- layout -------------------------------------------------------------------------

    @property
    def session_grid(self) -> SessionGrid:
        # Looked up once: the grid lives as long as the app, and a DOM query for every
        # event a host sends was a few per cent of the supervisor's CPU with 100 printing.
        if self._session_grid is None:
            self._session_grid = self.query_one(SessionGrid)
        return self._session_grid

    def compose(self) -> ComposeResult:
        yield Static("", id="hosts", markup=False)
        with Horizontal(id="body"):
            yield SessionGrid(self.model, id="grid")
            yield Static(self._empty_text(), id="empty", markup=False)
            yield DiffPanel(id="diff")
        yield FilterBar()
        yield CommandBar()
        yield KeyBar()

    def _empty_text(self) -> str:
        if self.model.filter_text and self.model.cards:
            shown = " ".join(inert(self.model.filter_text).split())[:80]
            return (
                f"No session matches the filter {shown!r}.\n\n"
                f"{len(self.model.cards)} sessions are hidden by it: esc clears the filter, "
                "/ changes it."
            )
        if not self.config.hosts:
            return (
                "No hosts yet.\n\n"
                f"Add one to {self.config.path}:\n\n"
                '    [hosts.devbox]\n    ssh = "devbox"        # a Host in ~/.ssh/config\n\n'
                "then run `fleet hosts` to check it, or try `fleet demo` first.\n"
                "Press q to quit."
            )
        return "No sessions yet: start one with `fleet new HOST --repo PATH TASK`."

    # -- life -----------------------------------------------------------------------------

    async def on_mount(self) -> None:
        for warning in register_all(self):
            self.notify(warning, severity="warning")
        self.theme = saved_theme() or DEFAULT_THEME
        keymap, problems = keymap_from_config(self.config)
        self.set_keymap(keymap)
        self.keys = effective_keys(keymap)
        for problem in problems:  # run_app refuses these first; an app made otherwise says so
            self.notify(str(problem), severity="warning", timeout=10)
        for host in self.config.hosts:
            self.model.mark_host(host, "connecting")
        from fleet.core.wiring import wired  # SSH loads here, not with the command line

        self.sup = await self._wiring.enter_async_context(wired(self.config))
        self.store = self.sup.require_store()
        await self.hosts.load_cached(self.store)
        self._refresh_all()
        if self.config.budgets:  # crossed while no fleet ran; paused by another fleet
            self.hosts.check_budgets(set(self.model.cards))
            await self.hosts.show_held()
        # The cached fleet is painted first; connecting (ssh config parsing, key exchange)
        # begins after that frame, so a large fleet shows at once, before any host answers.
        self.call_after_refresh(self._follow_hosts)
        self.set_interval(1.0, self._tick)
        self.reaping.start()

    def _follow_hosts(self) -> None:
        self.heap.settle()  # the cached fleet is painted: keep it out of later collections
        for host in self.config.hosts:
            self.follow_host(host)

    async def on_unmount(self) -> None:
        await self._wiring.aclose()
        self.heap.release()

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
        a toast quotes what hosts and agents said, and `[/]` in a file name must stay text.

        At most MAX_TOASTS show at once (the newest), so they never fill a small terminal;
        while a dialog is up they wait, so none covers it or its question."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def _on_notify(self, event: Notify) -> None:
        # Textual adds a toast when this message arrives, after notify() returned: the
        # dialog check and the cap belong here. It runs every class's handler up the MRO, so
        # App's is prevented (it would add the toast again) and called here instead.
        event.prevent_default()
        toast = event.notification
        if len(self.screen_stack) > 1:
            self._held_toasts.append((str(toast.message), toast.title, toast.severity, None))
            del self._held_toasts[:-MAX_TOASTS]
            return
        super()._on_notify(event)
        live = list(self._notifications)
        if len(live) > MAX_TOASTS:
            for old in live[:-MAX_TOASTS]:
                self._unnotify(old, refresh=False)
            self._refresh_notifications()

    def get_default_screen(self) -> Screen[None]:
        return MainScreen(id="_default")

    def park_toasts(self) -> None:
        """A dialog opens: the toasts showing wait with the ones that come meanwhile."""
        for toast in self._notifications:
            self._held_toasts.append((str(toast.message), toast.title, toast.severity, None))
        del self._held_toasts[:-MAX_TOASTS]
        self.clear_notifications()

    def show_held_toasts(self) -> None:
        held, self._held_toasts = self._held_toasts, []
        for message, title, severity, timeout in held:
            self.notify(message, title=title, severity=severity, timeout=timeout)

    def get_theme_variable_defaults(self) -> dict[str, str]:
        # Textual's own themes know nothing of fleet's status colours.
        return status_variable_defaults()

    def watch_theme(self, theme: str) -> None:
        save_theme(theme)

    # -- what is on screen ----------------------------------------------------------------

    def _tick(self) -> None:
        if self.is_running and self.query("#hosts"):  # not while the app shuts down
            self._refresh_hosts()  # "reconnecting in Ns" counts down

    def _refresh_all(self) -> None:
        grid = self.query_one(SessionGrid)
        grid.update_cards(list(self.model.cards))
        has_cards = bool(self.model.visible())
        grid.display = has_cards
        empty = self.query_one("#empty", Static)
        empty.display = not has_cards
        if not has_cards:
            empty.update(self._empty_text())
        if has_cards and self.focused is None and self.screen is self.screen_stack[0]:
            grid.focus()
        self._refresh_hosts()
        self._show_keys()

    def _refresh_hosts(self) -> None:
        parts = host_summary(self.model.hosts.values(), time.time())
        if not self.config.hosts:
            parts = [f"no hosts configured ({self.config.path})"]
        trouble = self.store.trouble if self.store is not None else None
        if trouble is not None:  # a full disk: say so where the person looks, every second
            parts.insert(0, f"local store: {inert(str(trouble))[:120]}")
        counts = self.model.counts()
        summary = "  ".join(f"{n} {s}" for s, n in counts.items())
        today = self._today()
        summary = f"{today}  ·  {summary}" if today and summary else summary or today
        if self.model.filter_text:  # what the filter hides, where the counts are
            shown = " ".join(inert(self.model.filter_text).split())[:40]
            summary = f"filter {shown!r}: {len(self.model.visible())} of {len(self.model.cards)}"
        width = self.query_one("#hosts").size.width or self.size.width
        text = header_line(parts, summary, width + 2)
        if text != self._hosts_text:
            self._hosts_text = text
            # One fixed-height line: a relayout would repaint the whole screen every second.
            self.query_one("#hosts", Static).update(text, layout=False)

    def _today(self) -> str:
        """The fleet's day, worked out again only when what a session spent moved."""
        version = (self.model.usage_version, local_day(time.time()))
        if self._today_cache[0] != version:
            self._today_cache = (version, today_label(self.model.today()))
        return self._today_cache[1]

    def _focus_context(self) -> Context:
        focused = self.focused
        if isinstance(focused, FilterBar):
            return "filter"
        if isinstance(focused, CommandBar):
            return "command"
        if self.query_one(DiffPanel).has_focus_within:
            return "diff"
        return "grid" if self.query_one(SessionGrid).display else "none"

    @on(events_.DescendantFocus)
    @on(events_.DescendantBlur)
    def _focus_moved(self) -> None:
        # After the focus settles: a blur comes before the next widget's focus.
        self.call_after_refresh(self._show_keys)

    def _show_keys(self) -> None:
        if self.is_running and self.query(KeyBar):
            context = self._focus_context()
            options = self._selected_options() if context == "grid" else 0
            self.query_one(KeyBar).show_context(context, self.keys, options)

    def _selected_options(self) -> int:
        """How many options the selected session's dialog offers (0: it waits for none)."""
        card = self.query_one(SessionGrid).selected
        waiting = card.session.waiting if card is not None else None
        if card is None or card.session.status is not Status.NEEDS_INPUT or waiting is None:
            return 0
        return len(waiting.options)

    # -- keys, each to its context's controller -----------------------------------------

    def action_move(self, dx: int, dy: int) -> None:
        self.sessions.move(dx, dy)

    def action_message(self) -> None:
        self.sessions.message()

    def action_stop(self) -> None:
        self.sessions.stop()

    def action_resume(self) -> None:
        self.sessions.resume()

    def action_attach(self) -> None:
        self.sessions.attach()

    def action_allow(self) -> None:
        self.answers.allow()

    def action_deny(self) -> None:
        self.answers.deny()

    def action_answer_option(self, n: int) -> None:
        self.answers.option(n)

    def action_new_session(self) -> None:
        self.sessions.new_session()

    def action_open_diff(self) -> None:
        self.review.open_diff()

    def action_filter(self) -> None:
        self.view.open_filter()

    def action_command(self) -> None:
        self.view.open_command()

    async def action_back(self) -> None:
        self.view.back()

    def deliver_screenshot(
        self, filename: str | None = None, path: str | None = None, time_format: str | None = None
    ) -> str | None:
        """An SVG of the screen (the palette's Screenshot, the screenshot action), saved where
        it can be: Textual's default, ~/Downloads, is missing on most servers, and its save
        then fails with no reason given."""
        downloads = Path.home() / "Downloads"
        where = Path(path) if path else (downloads if downloads.is_dir() else Path.cwd())
        try:
            saved = self.save_screenshot(filename, str(where), time_format)
        except OSError as exc:
            self.notify(f"cannot save a screenshot in {where}: {exc}", severity="error")
            return None
        self.notify(f"saved a screenshot: {saved}", title="Screenshot")
        return None

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    # -- messages, each to its context's controller -------------------------------------

    @on(SessionGrid.Selected)
    def _on_selected(self, event: SessionGrid.Selected) -> None:
        self.sessions.selection_changed(event.card)
        self._show_keys()

    @on(SessionGrid.Shown)
    def _on_shown(self, event: SessionGrid.Shown) -> None:
        if self.sup is not None:  # hosts stream full-rate screens for these cards only
            self.sup.show_only(event.keys)

    # FilterBar.Changed is Input.Changed: without the selector every text box (the steering
    # box too) would filter the grid as the person types.
    @on(FilterBar.Changed, "FilterBar")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.view.filter_changed(event.value)

    @on(FilterBar.Submitted, "FilterBar")
    def _filter_done(self, event: Input.Submitted) -> None:
        self.view.filter_done(event.value)

    @on(CommandBar.Submitted, "CommandBar")
    def _command(self, event: Input.Submitted) -> None:
        self.view.command_submitted(event.value)

    @on(DiffPanel.ModeChanged)
    def _change_mode(self, event: DiffPanel.ModeChanged) -> None:
        self.review.change_mode(event)

    @on(DiffPanel.Closed)
    def _close_diff(self) -> None:
        self.review.close()

    @on(DiffPanel.Decide)
    def _decide(self, event: DiffPanel.Decide) -> None:
        self.review.decide(event)

    # -- the app's face for tests, the bench and tools: what each controller does -----------

    def follow_host(self, host: str) -> Worker[None]:
        return self.hosts.follow(host)

    def _apply(self, event: events.Event) -> None:
        self.hosts.apply(event)

    def send_message_to(
        self, session: Session, text: str, force: bool = False, over_budget: bool = False
    ) -> Worker[None]:
        return self.sessions.send_message_to(session, text, force=force, over_budget=over_budget)

    def load_diff(self, session: Session) -> Worker[None]:
        return self.review.load_diff(session)

    def review_decision(self, session: Session, event: DiffPanel.Decide) -> Worker[None]:
        return self.review.review_decision(session, event)

    @property
    def diff_mode(self) -> str:
        """The view of the diff panel (review.VIEWS) every reload honours."""
        return self.review.mode

    @diff_mode.setter
    def diff_mode(self, value: str) -> None:
        self.review.mode = value

    def run_command(self, line: str) -> None:
        self.view.run_command(line)


def run_app(config: Config) -> int:
    """The TUI; it does not start on a wrong [keys] entry (UsageError: each one, with its
    file and line), since a keymap applied in part would have keys do what the person moved
    elsewhere."""
    _, problems = keymap_from_config(config)
    if problems:
        after = (
            f"the TUI starts once [keys] in {config.path} is fixed (`fleet doctor` lists "
            "the same; `?` in the TUI shows every action and its keys)"
        )
        raise UsageError("\nfleet: ".join([*(str(p) for p in problems), after]))
    app = FleetApp(config)
    return app.run() or 0
