"""The helper as it travels: a zipapp of the hostside package, named by its content hash."""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from functools import cache
from importlib import resources

PACKAGE = "fleethelper"
_FIXED_TIME = (2020, 1, 1, 0, 0, 0)
# The package's own __main__: it tells an agent's hook (light) from everything else.
_MAIN = f"import {PACKAGE}.__main__\n"


@dataclass(frozen=True)
class Bundle:
    digest: str  # first 16 hex digits of the sha256 of the sources
    data: bytes

    @property
    def remote_path(self) -> str:
        """Relative to the login directory, where SFTP and the remote shell both start."""
        return f".fleet/helper-{self.digest}.pyz"


def _sources() -> list[tuple[str, bytes]]:
    root = resources.files("fleet.core.remote.hostside")
    files = [
        (entry.name, entry.read_bytes())
        for entry in root.iterdir()
        if entry.name.endswith(".py") and entry.is_file()
    ]
    return sorted(files)


@cache
def bundle() -> Bundle:
    sources = _sources()
    h = hashlib.sha256()
    for name, data in sources:
        h.update(name.encode() + b"\0" + data + b"\0")
    buf = io.BytesIO()
    # Fixed timestamps and order: the same sources always give the same bytes.
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo("__main__.py", _FIXED_TIME), _MAIN)
        for name, data in sources:
            zf.writestr(zipfile.ZipInfo(f"{PACKAGE}/{name}", _FIXED_TIME), data)
    return Bundle(digest=h.hexdigest()[:16], data=buf.getvalue())
