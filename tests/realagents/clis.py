"""The pinned agent CLIs of the real-agents tier and where each one is installed.

Each CLI lives in its own prefix `/opt/fleet-realagents/<name>-<version>/` (world-readable,
because the loopback hosts log in as other users): npm packages under `node_modules/`, aider in
a venv. `install.py` fills these prefixes; the tests only read them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(os.environ.get("FLEET_REALAGENTS_ROOT", "/opt/fleet-realagents"))


@dataclass(frozen=True)
class Cli:
    name: str  # the fleet agent profile it is tested under
    kind: str  # "npm" or "pip"
    package: str
    version: str
    # The executable, relative to the prefix. Native binaries that npm ships in a per-platform
    # package are run directly: their wrapper scripts need postinstall steps npm 11 may block.
    executable: str

    @property
    def prefix(self) -> Path:
        return ROOT / f"{self.name}-{self.version}"

    @property
    def path(self) -> Path:
        return self.prefix / self.executable

    @property
    def spec(self) -> str:
        return (
            f"{self.package}@{self.version}"
            if self.kind == "npm"
            else (f"{self.package}=={self.version}")
        )

    def installed(self) -> bool:
        return os.access(self.path, os.X_OK)


CLIS: dict[str, Cli] = {
    cli.name: cli
    for cli in (
        Cli("claude", "npm", "@anthropic-ai/claude-code", "2.1.328", "node_modules/.bin/claude"),
        Cli("codex", "npm", "@openai/codex", "0.169.0", "node_modules/.bin/codex"),
        Cli("gemini", "npm", "@google/gemini-cli", "0.61.0", "node_modules/.bin/gemini"),
        Cli(
            "opencode",
            "npm",
            "opencode-ai",
            "1.18.33",
            "node_modules/opencode-linux-x64/bin/opencode",
        ),
        Cli("aider", "pip", "aider-chat", "0.86.2", "bin/aider"),
    )
}
