"""The demo sandbox: one temporary directory that holds everything `fleet demo` uses.

    <sandbox>/
      README.txt          what this is
      fleet.toml          [ssh] config, [hosts.*], [agents.demo-*]
      ssh/                ssh_config, known_hosts (the demo host keys, pinned), client_key
      bin/python3         the interpreter the demo hosts run (this one)
      agent/demo_agent.py the scripted demo agent (fleet/demo/agents.py, copied)
      hosts/<name>/       a demo host's HOME: .gitconfig, src/shop, src/docs, tmp/ (its tmux)
      state/              FLEET_HOME for the demo: fleet.db, fleet.log

Nothing here reads or writes the person's ~/.ssh, ~/.fleet or tmux; git runs with the sandbox's
own config (never the person's ~/.gitconfig, which might want to sign commits).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

from fleet.demo import agents

HOSTS = ("alpha", "beta", "gamma")
DEMO_USER = "demo"
GIT_NAME = "Demo Agent"
GIT_EMAIL = "demo-agent@fleet.invalid"
GIT_DATE = "2024-01-01T00:00:00+00:00"


@dataclass(frozen=True)
class DemoSession:
    host: str
    scenario: str
    repo: str  # under the host's ~/src
    name: str
    task: str

    @property
    def agent(self) -> str:
        return f"demo-{self.scenario}"


SESSIONS: tuple[DemoSession, ...] = (
    DemoSession("alpha", "builder", "shop", "discount-codes", "Add discount codes to the cart"),
    DemoSession("alpha", "asker", "shop", "toml-config", "Make config.toml the main config"),
    DemoSession("beta", "builder", "shop", "discounts-v2", "Add discount codes, second take"),
    DemoSession("beta", "crasher", "shop", "tax-rounding", "Round taxes half-up"),
    DemoSession("gamma", "finisher", "docs", "docs-refresh", "Refresh the user guide and FAQ"),
    DemoSession("gamma", "asker", "shop", "config-cleanup", "Clean up how settings load"),
)

SCENARIO_TEXT = {
    "builder": "works for a while, editing several files (hunks to review), then waits",
    "asker": "works a little, then asks a [y/N] question (needs input)",
    "crasher": "works, then fails with exit code 2 (fleet resume fixes it)",
    "finisher": "works, then completes and exits 0",
}


@dataclass
class Sandbox:
    root: Path
    host_keys: dict[str, asyncssh.SSHKey] = field(default_factory=dict, repr=False)
    client_key: asyncssh.SSHKey | None = field(default=None, repr=False)

    @property
    def ssh_dir(self) -> Path:
        return self.root / "ssh"

    @property
    def ssh_config(self) -> Path:
        return self.ssh_dir / "ssh_config"

    @property
    def known_hosts(self) -> Path:
        return self.ssh_dir / "known_hosts"

    @property
    def client_key_path(self) -> Path:
        return self.ssh_dir / "client_key"

    @property
    def fleet_toml(self) -> Path:
        return self.root / "fleet.toml"

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def bin_dir(self) -> Path:
        return self.root / "bin"

    @property
    def agent_script(self) -> Path:
        return self.root / "agent" / "demo_agent.py"

    def home(self, host: str) -> Path:
        return self.root / "hosts" / host

    def repo(self, host: str, repo: str) -> Path:
        return self.home(host) / "src" / repo


def tmp_parent() -> str:
    # tmux's socket lives under each host's tmp/: keep the path short (sun_path is ~104 bytes).
    if os.path.isdir("/tmp") and os.access("/tmp", os.W_OK | os.X_OK):
        return "/tmp"
    return tempfile.gettempdir()


def create_sandbox() -> Sandbox:
    """Make a fresh sandbox (keys, homes, repos, the agent); the client files come later,
    once the server knows its ports (see write_client_files)."""
    root = Path(tempfile.mkdtemp(prefix="fleet-demo-", dir=tmp_parent()))
    os.chmod(root, 0o700)
    box = Sandbox(root)
    try:
        _populate(box)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return box


def _populate(box: Sandbox) -> None:
    box.ssh_dir.mkdir(mode=0o700)
    box.state_dir.mkdir(mode=0o700)
    box.bin_dir.mkdir()
    box.agent_script.parent.mkdir()
    (box.root / "README.txt").write_text(README)
    # The demo hosts run this interpreter as their python3 (the helper and the agent).
    (box.bin_dir / "python3").symlink_to(os.path.realpath(sys.executable))
    shutil.copyfile(agents.__file__, box.agent_script)
    box.agent_script.chmod(0o755)

    box.client_key = asyncssh.generate_private_key("ssh-ed25519", comment="fleet-demo-client")
    box.client_key.write_private_key(box.client_key_path)
    box.client_key_path.chmod(0o600)
    box.client_key.write_public_key(f"{box.client_key_path}.pub")
    for name in HOSTS:
        key = asyncssh.generate_private_key("ssh-ed25519", comment=f"fleet-demo-{name}")
        path = box.ssh_dir / f"host_key_{name}"
        key.write_private_key(path)
        path.chmod(0o600)
        box.host_keys[name] = key

    template = box.root / "template"
    _make_repo(template / "shop", SHOP_FILES, template)
    _make_repo(template / "docs", DOCS_FILES, template)
    for name in HOSTS:
        home = box.home(name)
        (home / "tmp").mkdir(parents=True, mode=0o700)
        (home / ".gitconfig").write_text(GITCONFIG)
        shutil.copytree(template, home / "src", symlinks=True)
    shutil.rmtree(template)


def _git_env(home: Path) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH") or os.defpath,
        "HOME": str(home),
        "LANG": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": GIT_NAME,
        "GIT_AUTHOR_EMAIL": GIT_EMAIL,
        "GIT_COMMITTER_NAME": GIT_NAME,
        "GIT_COMMITTER_EMAIL": GIT_EMAIL,
        "GIT_AUTHOR_DATE": GIT_DATE,
        "GIT_COMMITTER_DATE": GIT_DATE,
    }
    return env


def _make_repo(path: Path, files: dict[str, str], home: Path) -> None:
    path.mkdir(parents=True)
    for rel, text in files.items():
        target = path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    env = _git_env(home)
    for argv in (
        ["git", "init", "-q"],
        ["git", "symbolic-ref", "HEAD", "refs/heads/main"],
        ["git", "add", "-A"],
        ["git", "-c", "commit.gpgsign=false", "commit", "-q", "-m", "Initial import"],
    ):
        subprocess.run(argv, cwd=path, env=env, check=True, capture_output=True)


def write_client_files(box: Sandbox, ports: dict[str, int], pace: float = 1.0) -> None:
    """ssh_config (one alias per host), known_hosts (their keys, pinned) and fleet.toml."""
    lines = []
    blocks = []
    for name in HOSTS:
        key = box.host_keys[name]
        public = key.export_public_key("openssh").decode("ascii").split()
        lines.append(f"[127.0.0.1]:{ports[name]} {public[0]} {public[1]}")
        blocks.append(
            f"Host {name}\n"
            f"  HostName 127.0.0.1\n"
            f"  Port {ports[name]}\n"
            f"  User {DEMO_USER}\n"
            f"  IdentityFile {box.client_key_path}\n"
            f"  IdentitiesOnly yes\n"
            f"  IdentityAgent none\n"
            f"  UserKnownHostsFile {box.known_hosts}\n"
            f"  GlobalKnownHostsFile /dev/null\n"
            f"  StrictHostKeyChecking yes\n"
            f"  ForwardAgent no\n"
            f"  ForwardX11 no\n"
        )
    box.known_hosts.write_text("\n".join(lines) + "\n")
    box.ssh_config.write_text(
        "# fleet demo: three hosts served by the `fleet demo` process on 127.0.0.1\n\n"
        + "\n".join(blocks)
    )
    box.fleet_toml.write_text(fleet_toml(box, pace))


def _q(text: str) -> str:
    return json.dumps(text)  # a JSON string is a TOML basic string


def _literal_list(patterns: tuple[str, ...]) -> str:
    return "[" + ", ".join(f"'{p}'" for p in patterns) + "]"


def fleet_toml(box: Sandbox, pace: float) -> str:
    python = shlex.quote(str(box.bin_dir / "python3"))
    script = shlex.quote(str(box.agent_script))
    out = [
        "# fleet demo: made by `fleet demo`; its hosts exist only while `fleet demo` runs.",
        "",
        "[ssh]",
        f"config = {_q(str(box.ssh_config))}",
        "connect_timeout = 5",
        "",
    ]
    for name in HOSTS:
        out += [f"[hosts.{name}]", f"ssh = {_q(name)}", ""]
    for scenario in agents.SCENARIOS:
        run = f"{python} {script} {scenario} --pace {pace:g}"
        out += [
            f"[agents.demo-{scenario}]",
            f"description = {_q('fleet demo agent: ' + SCENARIO_TEXT[scenario])}",
            f"command = {_q(run + ' {task}')}",
            f"resume = {_q(run + ' --resumed')}",
            f"waiting = {_literal_list(agents.WAITING)}",
            f"working = {_literal_list(agents.WORKING)}",
            f"idle = {_literal_list(agents.IDLE)}",
            "idle_after = 3",
            "enter_delay = 0.05",
            'interrupt = ["C-c"]',
            "prose = true",  # a stand-in for an agent CLI: it is told why a hunk was rejected
            "",
        ]
    return "\n".join(out)


README = """\
This directory is a `fleet demo` sandbox. Everything the demo uses lives here:

  fleet.toml   the demo's fleet config (three hosts, the demo agent profiles)
  ssh/         the ssh config, the pinned host keys (known_hosts) and the client key
  hosts/NAME/  the home directory of demo host NAME: its repos (src/), its ~/.fleet, its tmux
  state/       fleet's local state for the demo (FLEET_HOME)

The hosts are served by the `fleet demo` process itself; they go away when it ends.
"""

GITCONFIG = f"""\
[user]
\tname = {GIT_NAME}
\temail = {GIT_EMAIL}
[init]
\tdefaultBranch = main
[commit]
\tgpgsign = false
[advice]
\tdetachedHead = false
"""

CART_PY = '''\
"""A shopping cart for the demo shop."""

from dataclasses import dataclass, field

from pricing import line_total, tax_for


@dataclass
class Item:
    sku: str
    name: str
    price_cents: int
    quantity: int = 1


@dataclass
class Cart:
    owner: str
    items: list[Item] = field(default_factory=list)

    def add(self, item: Item) -> None:
        for existing in self.items:
            if existing.sku == item.sku:
                existing.quantity += item.quantity
                return
        self.items.append(item)

    def remove(self, sku: str) -> None:
        self.items = [i for i in self.items if i.sku != sku]

    def count(self) -> int:
        return sum(i.quantity for i in self.items)

    def subtotal_cents(self) -> int:
        return sum(line_total(i.price_cents, i.quantity) for i in self.items)

    def total_cents(self, region: str) -> int:
        subtotal = self.subtotal_cents()
        return subtotal + tax_for(subtotal, region)

    def is_empty(self) -> bool:
        return not self.items

    def clear(self) -> None:
        self.items.clear()


def describe(cart: Cart) -> str:
    lines = [f"cart of {cart.owner}: {cart.count()} items"]
    for item in cart.items:
        lines.append(f"  {item.quantity} x {item.name}")
    return "\\n".join(lines)
'''

PRICING_PY = '''\
"""Prices, taxes and rounding for the demo shop."""

TAX_RATES = {
    "eu": 0.20,
    "uk": 0.20,
    "us": 0.07,
    "ca": 0.13,
}

DEFAULT_REGION = "eu"


def line_total(price_cents: int, quantity: int) -> int:
    if quantity < 0:
        raise ValueError("quantity must not be negative")
    return price_cents * quantity


def tax_rate(region: str) -> float:
    return TAX_RATES.get(region, TAX_RATES[DEFAULT_REGION])


def tax_for(amount_cents: int, region: str) -> int:
    return round(amount_cents * tax_rate(region))


def format_cents(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def parse_price(text: str) -> int:
    text = text.strip().lstrip("$")
    if "." not in text:
        return int(text) * 100
    whole, frac = text.split(".", 1)
    frac = (frac + "00")[:2]
    return int(whole) * 100 + int(frac)
'''

CONFIG_PY = '''\
"""Settings for the demo shop: config.yaml or config.toml, whichever is found first."""

import os
import tomllib

SEARCH_ORDER = ("config.yaml", "config.toml")
DEFAULTS = {"region": "eu", "currency": "EUR", "debug": False}


def load_yaml(path: str) -> dict:
    """Very small YAML subset: `key: value` lines."""
    settings = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            key, sep, value = line.partition(":")
            if sep:
                settings[key.strip()] = value.strip()
    return settings


def load_toml(path: str) -> dict:
    with open(path, "rb") as f:
        return tomllib.load(f)


def load(directory: str = ".") -> dict:
    settings = dict(DEFAULTS)
    for name in SEARCH_ORDER:
        path = os.path.join(directory, name)
        if os.path.exists(path):
            loader = load_toml if name.endswith(".toml") else load_yaml
            settings.update(loader(path))
            break
    return settings
'''

TEST_CART_PY = """\
from cart import Cart, Item, describe


def make_cart() -> Cart:
    cart = Cart("ann")
    cart.add(Item("b1", "book", 1200))
    cart.add(Item("p1", "pen", 150, quantity=2))
    return cart


def test_count():
    assert make_cart().count() == 3


def test_add_same_sku_merges():
    cart = make_cart()
    cart.add(Item("b1", "book", 1200))
    assert cart.count() == 4
    assert len(cart.items) == 2


def test_remove():
    cart = make_cart()
    cart.remove("p1")
    assert cart.count() == 1


def test_total_with_tax():
    assert make_cart().total_cents("eu") == 1800


def test_describe():
    text = describe(make_cart())
    assert text.startswith("cart of ann: 3 items")
    assert "2 x pen" in text
"""

SHOP_README = """\
# demo shop

A tiny shop used by `fleet demo`: a cart, prices and taxes, and settings.
Nothing here is real; agents may change anything.

## Layout

- `cart.py`: the cart and its items
- `pricing.py`: line totals, tax rates, rounding and price parsing
- `config.py`: settings
- `tests/`: the tests (run `python -m pytest`)

## Running

    python -c "from cart import *; print(describe(Cart('ann')))"

## Settings

Settings live in config.yaml.
Keys: region (eu, uk, us, ca), currency, debug.

## Taxes

Tax rates are per region, in `pricing.TAX_RATES`. Unknown regions
use the default region's rate.

## Contributing

Keep functions small, add a test for every change,
and describe what you changed in the commit message.
"""

GUIDE_MD = """\
# demo shop: user guide

## Install

    pip install demo-shop==0.1

The shop needs Python 3.11 or newer.

## First steps

1. Create a cart: `Cart("ann")`.
2. Add items: `cart.add(Item("b1", "book", 1200))`.
3. Ask for the total: `cart.total_cents("eu")`.

Prices are whole cents everywhere, so totals never drift.

## Regions

Each region has its own tax rate. The default region is "eu".
Use `pricing.tax_rate(region)` to see the rate in force.

## Settings

The shop reads its settings from the current directory.
See the README for the keys it knows.

## Printing a cart

`describe(cart)` gives a short text summary, one line per item,
ready to print or to log.

## Getting help

Open an issue in the repository, with the output of
`python -c "import cart, pricing"` if the shop does not start.
"""

FAQ_MD = """\
# FAQ

## Why cents and not floats?

Floats cannot hold most decimal prices exactly; cents are integers.

## Which regions are supported?

eu, uk, us and ca. Others fall back to eu.

## Does it need a database?

No. Carts live in memory for the length of a session.

## Can I change the tax rates?

Yes: edit `pricing.TAX_RATES`. Rates are fractions, 0.20 means 20 %.

## Is there a web interface?

Not yet. The shop is a library; a web front end is on the wish list.

## Can two carts share items?

No: each cart holds its own items; adding the same SKU twice merges them.

## How are totals rounded?

Taxes are rounded to whole cents once per cart, never per item.

## How do I report a bug?

Open an issue with the steps to reproduce it.
"""

SHOP_FILES = {
    "README.md": SHOP_README,
    "cart.py": CART_PY,
    "pricing.py": PRICING_PY,
    "config.py": CONFIG_PY,
    "tests/test_cart.py": TEST_CART_PY,
}
DOCS_FILES = {"guide.md": GUIDE_MD, "faq.md": FAQ_MD}
