"""One finding of `fleet doctor`: what was checked, how it stands, and what to do about it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass(frozen=True)
class Check:
    """One finding: `status` is ok, warn or fail; `fix` says what to do when it is not ok."""

    name: str
    status: str
    detail: str
    fix: str = ""
    host: str | None = None  # None: this machine

    @property
    def where(self) -> str:
        return self.host or "local"

    def to_json(self) -> dict[str, Any]:
        return {
            "where": self.where,
            "host": self.host,
            "check": self.name,
            "status": self.status,
            "detail": self.detail,
            "fix": self.fix,
        }
