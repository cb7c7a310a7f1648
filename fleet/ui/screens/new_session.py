"""The new-session form: host, repo, agent and task in one small box."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select


@dataclass(frozen=True)
class NewSession:
    host: str
    repo: str
    agent: str
    task: str


class NewSessionScreen(ModalScreen[NewSession | None]):
    """Enter in the task starts it; escape cancels. Hosts, recent repos and agents are offered."""

    DEFAULT_CSS = """
    NewSessionScreen { align: center middle; }
    NewSessionScreen > Vertical {
        width: 80; height: auto; padding: 1 2; border: round $accent; background: $panel;
    }
    NewSessionScreen Label { margin-top: 1; }
    NewSessionScreen #buttons { height: auto; margin-top: 1; align-horizontal: right; }
    NewSessionScreen #problem { color: $error; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [("escape", "cancel", "cancel")]
    AUTO_FOCUS = "#task"

    def __init__(
        self,
        hosts: Sequence[str],
        agents: Sequence[str],
        recent_repos: dict[str, list[str]],
        host: str | None = None,
        agent: str = "claude",
    ) -> None:
        super().__init__()
        self.hosts = list(hosts)
        self.agents = list(agents)
        self.recent = recent_repos
        self.host = host if host in self.hosts else (self.hosts[0] if self.hosts else None)
        self.agent = agent if agent in self.agents else self.agents[0]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]New session[/b]  (enter starts it, escape cancels)")
            yield Label("Host")
            yield Select(
                [(h, h) for h in self.hosts], value=self.host, id="host", allow_blank=False
            )
            yield Label("Repository on that host")
            yield Input(self._repo_hint(self.host), placeholder="~/src/app", id="repo")
            yield Label("Agent")
            yield Select(
                [(a, a) for a in self.agents], value=self.agent, id="agent", allow_blank=False
            )
            yield Label("Task")
            yield Input(placeholder="what should the agent do?", id="task")
            yield Label("", id="problem")
            with Horizontal(id="buttons"):
                yield Button("Start", variant="primary", id="start")
                yield Button("Cancel", id="cancel")

    def _repo_hint(self, host: str | None) -> str:
        repos = self.recent.get(host or "", [])
        return repos[0] if repos else ""

    @on(Select.Changed, "#host")
    def _host_changed(self, event: Select.Changed) -> None:
        repo = self.query_one("#repo", Input)
        offered = {r for repos in self.recent.values() for r in repos}
        if not repo.value or repo.value in offered:
            repo.value = self._repo_hint(str(event.value))

    @on(Input.Submitted)
    @on(Button.Pressed, "#start")
    def _start(self) -> None:
        repo = self.query_one("#repo", Input).value.strip()
        if not repo:
            self.query_one("#problem", Label).update("Which repository? A path on the host.")
            self.query_one("#repo", Input).focus()
            return
        self.dismiss(
            NewSession(
                host=str(self.query_one("#host", Select).value),
                repo=repo,
                agent=str(self.query_one("#agent", Select).value),
                task=self.query_one("#task", Input).value.strip(),
            )
        )

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
