"""The part of the person's ssh config that can apply to one host, for asyncssh to parse.

asyncssh tokenizes every line of the config on every connect, matching or not: a config with
one `Host` block per machine (as cloud tools write them) makes 500 connects cost 500 passes
over 500 blocks (about 0.2 s each here), minutes of the supervisor's CPU before the fleet is
live. So the file is split once into sections; a `Host` section whose patterns are all plain
names, none of them this host, cannot apply and is left out of the copy asyncssh reads.
Anything else (`Match`, wildcards, negations, quoting, `key=value`, Include) is kept as
written: leaving a section in is always safe, only a section that cannot match is dropped.

The copies live in a private directory (0700, files 0600) removed when the process ends.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

_PLAIN = re.compile(r"[A-Za-z0-9._:@\[\]-]+")
_lock = threading.Lock()
_cache: dict[tuple[str, int, int], _Sections] = {}
_dir: Path | None = None


@dataclass(frozen=True)
class _Section:
    names: frozenset[str] | None  # lower-cased plain names; None: may apply to any host
    text: str


@dataclass(frozen=True)
class _Sections:
    items: tuple[_Section, ...]
    droppable: bool  # some section names plain hosts only


def split_sections(text: str) -> _Sections:
    """The config's sections: what comes before the first Host/Match line, then one per
    Host or Match line with the lines under it."""
    items: list[_Section] = []
    names: frozenset[str] | None = None
    lines: list[str] = []
    for line in text.splitlines(keepends=True):
        words = line.split()
        if words and words[0].lower() in ("host", "match"):
            items.append(_Section(names, "".join(lines)))
            names, lines = _plain_names(words), []
        lines.append(line)
    items.append(_Section(names, "".join(lines)))
    return _Sections(tuple(items), any(s.names is not None for s in items))


def _plain_names(words: list[str]) -> frozenset[str] | None:
    if words[0].lower() != "host" or len(words) < 2:
        return None
    if not all(_PLAIN.fullmatch(w) for w in words[1:]):
        return None
    return frozenset(w.lower() for w in words[1:])


def for_host(text: str, host: str) -> str:
    """The config with every section that cannot apply to `host` left out."""
    return _for_host(split_sections(text), host)


def _for_host(sections: _Sections, host: str) -> str:
    name = host.lower()
    return "".join(s.text for s in sections.items if s.names is None or name in s.names)


def config_for(path: Path, host: str) -> Path:
    """A file asyncssh can read for `host`: the person's own when nothing can be left out,
    else a private copy without the sections that cannot apply. OSError as reading raises."""
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    with _lock:
        sections = _cache.get(key)
    if sections is None:
        sections = split_sections(path.read_text(encoding="utf-8", errors="replace"))
        with _lock:
            _cache.clear()  # one config in use at a time: keep only its latest version
            _cache[key] = sections
    if not sections.droppable:
        return path
    target = _private_dir() / f"{abs(hash((key, host))):x}.conf"
    if not target.exists():
        fd = os.open(target.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(_for_host(sections, host))
        os.replace(target.with_suffix(".tmp"), target)
    return target


def _private_dir() -> Path:
    global _dir
    with _lock:
        if _dir is None:
            _dir = Path(tempfile.mkdtemp(prefix="fleet-ssh-config-"))
            atexit.register(shutil.rmtree, _dir, True)
        return _dir
