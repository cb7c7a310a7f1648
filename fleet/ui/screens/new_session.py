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

from fleet.core.textsafe import inert


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
        recent_agents: dict[str, str] | None = None,
        again: NewSession | None = None,
        problem: str = "",
    ) -> None:
        super().__init__()
        self.hosts = list(hosts)
        self.agents = list(agents)
        self.recent = recent_repos
        self.recent_agents = recent_agents or {}  # host -> the agent last started there
        if again is not None:
            host, agent = again.host, again.agent
        self.host = host if host in self.hosts else (self.hosts[0] if self.hosts else None)
        agent = self.recent_agents.get(self.host or "", agent) if again is None else agent
        self.agent = agent if agent in self.agents else self.agents[0]
        self.again = again  # a request that failed, shown again with why
        self.problem = problem
        self.agent_touched = again is not None
        self.missing: set[str] = set()  # agents the host said it does not have

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]New session[/b]  (enter starts it, escape cancels)")
            yield Label("Host")
            yield Select(
                [(h, h) for h in self.hosts], value=self.host, id="host", allow_blank=False
            )
            yield Label("Repository on that host")
            repo = self.again.repo if self.again else self._repo_hint(self.host)
            yield Input(repo, placeholder="~/src/app", id="repo")
            yield Label("Agent")
            yield Select(
                [(a, a) for a in self.agents], value=self.agent, id="agent", allow_blank=False
            )
            yield Label("Task")
            task = self.again.task if self.again else ""
            yield Input(task, placeholder="what should the agent do?", id="task")
            yield Label(inert(self.problem), id="problem", markup=False)
            # Cancel first: tab from the task reaches Start, the action, last.
            with Horizontal(id="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Start", variant="primary", id="start")

    def _repo_hint(self, host: str | None) -> str:
        repos = self.recent.get(host or "", [])
        return repos[0] if repos else ""

    @on(Select.Changed, "#host")
    def _host_changed(self, event: Select.Changed) -> None:
        repo = self.query_one("#repo", Input)
        offered = {r for repos in self.recent.values() for r in repos}
        if not repo.value or repo.value in offered:
            repo.value = self._repo_hint(str(event.value))
        last = self.recent_agents.get(str(event.value))
        if last in self.agents and not self.agent_touched:
            self._set_agent(last)

    @on(Select.Changed, "#agent")
    def _agent_changed(self, event: Select.Changed) -> None:
        if event.value != self.agent:
            self.agent_touched = True
            self.agent = str(event.value)

    def _set_agent(self, agent: str) -> None:
        self.agent = agent
        with self.prevent(Select.Changed):
            self.query_one("#agent", Select).value = agent

    def host_has(self, host: str, missing: set[str]) -> None:
        """What `host` said of its agents: the ones it lacks are marked, and the default
        moves to one it has (unless the person chose one)."""
        if str(self.query_one("#host", Select).value) != host:
            return
        self.missing = missing
        options = [(f"{a}  (not found on {host})" if a in missing else a, a) for a in self.agents]
        select = self.query_one("#agent", Select)
        with self.prevent(Select.Changed):
            select.set_options(options)
            select.value = self.agent
        if self.agent in missing and not self.agent_touched:
            have = [a for a in self.agents if a not in missing]
            if have:
                self._set_agent(have[0])

    @on(Input.Submitted)
    @on(Button.Pressed, "#start")
    def _start(self) -> None:
        repo = self.query_one("#repo", Input).value.strip()
        if not repo:
            self.query_one("#problem", Label).update("Which repository? A path on the host.")
            self.query_one("#repo", Input).focus()
            return
        agent = str(self.query_one("#agent", Select).value)
        if agent in self.missing:
            self.query_one("#problem", Label).update(
                f"{agent} is not installed on that host: choose another agent, or install it."
            )
            self.query_one("#agent", Select).focus()
            return
        self.dismiss(
            NewSession(
                host=str(self.query_one("#host", Select).value),
                repo=repo,
                agent=agent,
                task=self.query_one("#task", Input).value.strip(),
            )
        )

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
