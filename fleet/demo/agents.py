#!/usr/bin/env python3
"""fleet's scripted demo agent: one stdlib-only script, copied into the demo sandbox as is.

    demo_agent.py SCENARIO [--pace P] [--resumed] [TASK]

It runs in a fleet session's tmux pane, in the session's git worktree, and acts out a scenario
the way a coding agent looks from the outside:

- builder: prints progress and edits several files over time (so hunks appear), then waits
  at its prompt;
- asker: works a little, then stops at a `[y/N]` question (needs input) and carries on once
  answered;
- crasher: works, then fails with exit code 2 (resumed, it gets it right and exits 0);
- finisher: works, then completes and exits 0.

Every scenario answers steering messages on its screen (`ok, I'll <message>`): between steps
while it works, and at its `demo> ` prompt once it is done. Its output is plain ASCII so it
reads the same under any locale. WAITING / WORKING / IDLE are the patterns its fleet profile
uses (see fleet/demo/sandbox.py). `--pace` scales every pause (1.0: a person can follow it).
"""

from __future__ import annotations

import argparse
import os
import select
import sys
import time

SCENARIOS = ("builder", "asker", "crasher", "finisher")
PROMPT = "demo> "
# Patterns for the demo profiles (fleet.core.remote.hostside.classify: re.MULTILINE over the
# last non-blank lines; `\Z` is the end of the last one).
WAITING = (r"\[y/N\] ?\Z",)
WORKING = (r"^\[\d+/\d+\] [^\n]*\Z",)
IDLE = (r"^demo> ?\Z",)
STEP_PAUSE = 1.6  # seconds between steps at pace 1

# An edit: (path, anchor, replacement). The first occurrence of the anchor is replaced; an
# empty anchor creates the file; an edit whose replacement is already there is skipped (so a
# resumed agent does not apply it twice).
Edit = tuple[str, str, str]


class Agent:
    def __init__(self, scenario: str, task: str, pace: float, resumed: bool) -> None:
        self.scenario = scenario
        self.task = task
        self.pace = max(0.0, pace)
        self.resumed = resumed
        self.pending = b""
        self.eof = False

    # -- the screen --------------------------------------------------------------------

    def say(self, text: str = "") -> None:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def step(self, n: int, total: int, text: str, edits: tuple[Edit, ...] = ()) -> None:
        self.say(f"[{n}/{total}] {text}")
        for path, anchor, new in edits:
            edit(path, anchor, new)
        self.pause(STEP_PAUSE)

    # -- input -------------------------------------------------------------------------

    def _line(self, timeout: float | None) -> str | None:
        """One line from stdin within `timeout` seconds (None: wait); None when there is none."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self.pending and not self.eof:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                ready, _, _ = select.select([0], [], [], left)
            except InterruptedError:
                continue
            if not ready:
                return None
            try:
                data = os.read(0, 4096)
            except OSError:
                data = b""
            if not data:
                self.eof = True
            self.pending += data
        if not self.pending:
            return None
        line, _, rest = self.pending.partition(b"\n")
        self.pending = rest
        return line.decode("utf-8", "replace").strip("\r")

    def pause(self, seconds: float) -> None:
        """Wait, answering any steering message that arrives meanwhile."""
        deadline = time.monotonic() + seconds * self.pace
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            line = self._line(left)
            if line is None:
                if self.eof:
                    time.sleep(max(0.0, deadline - time.monotonic()))
                continue
            self.answer(line)

    def answer(self, message: str) -> None:
        message = " ".join(message.split())
        if not message:
            return
        if message.startswith("fleet review:"):
            self.say("ok, I'll leave that change out and keep going.")
            return
        shown = message if len(message) <= 160 else message[:157] + "..."
        self.say(f"ok, I'll {shown.rstrip('.')}.")

    def ask(self, question: str) -> str:
        sys.stdout.write(f"? {question} [y/N] ")
        sys.stdout.flush()
        line = self._line(None)
        if line is None:  # stdin closed: take the default
            self.say()
            return ""
        return line.strip()

    def prompt(self) -> int:
        """Wait at the prompt for steering messages until stdin closes."""
        while True:
            sys.stdout.write(PROMPT)
            sys.stdout.flush()
            line = self._line(None)
            if line is None:
                self.say()
                return 0
            if line.strip() in ("exit", "quit", "/exit"):
                self.say("bye!")
                return 0
            self.answer(line)
            if line.strip():
                self.pause(0.6)
                self.say("done. anything else?")

    # -- the scenarios -----------------------------------------------------------------

    def run(self) -> int:
        self.say(f"demo agent ({self.scenario}) - a scripted stand-in for a coding agent")
        if self.task:
            self.say(f"task: {self.task}")
        if self.resumed:
            self.say("resumed: picking up where I left off")
        self.say()
        self.pause(0.5)
        return {
            "builder": self.builder,
            "asker": self.asker,
            "crasher": self.crasher,
            "finisher": self.finisher,
        }[self.scenario]()

    def builder(self) -> int:
        steps: list[tuple[str, tuple[Edit, ...]]] = [
            ("reading cart.py, pricing.py and the tests", ()),
            ("adding discounts.py: Discount and apply_discount()", (DISCOUNTS,)),
            ("cart.py: import the discount helpers", (CART_IMPORT,)),
            ("cart.py: a cart may carry a discount", (CART_FIELD,)),
            ("cart.py: apply the discount in total_cents()", (CART_TOTAL,)),
            ("cart.py: show the discount in describe()", (CART_DESCRIBE,)),
            ("pricing.py: Australian tax rate and percent_of()", PRICING_EDITS),
            ("tests/test_cart.py: a test for discount codes", (TEST_DISCOUNT,)),
            ("README.md: document discount codes", (README_DISCOUNTS,)),
        ]
        for n, (text, edits) in enumerate(steps, 1):
            self.step(n, len(steps), text, edits)
        self.say("running tests: 14 passed in 0.41s")
        self.say("done: discount codes work (5 files changed). what next?")
        return self.prompt()

    def asker(self) -> int:
        self.step(1, 3, "reading config.py")
        self.step(2, 3, "config.py: read config.toml first", (CONFIG_TOML_FIRST,))
        self.step(3, 3, "looking for code that still reads config.yaml")
        answer = self.ask("Nothing reads config.yaml any more. Delete the YAML loader?")
        if answer.lower() in ("y", "yes"):
            self.say("ok, deleting it.")
            self.step(4, 5, "config.py: remove load_yaml()", (CONFIG_NO_YAML,))
            self.step(5, 5, "README.md: config.toml is the only config file", (README_TOML,))
        elif answer.lower() in ("", "n", "no"):
            self.say("ok, keeping the YAML loader.")
            self.step(4, 4, "README.md: mention config.toml", (README_TOML,))
        else:
            self.answer(answer)
            self.step(4, 4, "README.md: mention config.toml", (README_TOML,))
        self.say("done: config.toml comes first now. anything else?")
        return self.prompt()

    def crasher(self) -> int:
        if self.resumed:
            self.step(1, 2, "tests/test_cart.py: expect half-up rounding", (TEST_ROUNDING,))
            self.step(2, 2, "running the test suite")
            self.say("14 passed in 0.39s")
            self.say("fixed: taxes round half-up and the tests agree. bye!")
            return 0
        self.step(1, 4, "reading pricing.py")
        self.step(2, 4, "pricing.py: round taxes half-up", (PRICING_ROUNDING,))
        self.step(3, 4, "pricing.py: reject negative prices", (PRICING_NEGATIVE,))
        self.step(4, 4, "running the test suite")
        self.say("FAILED tests/test_cart.py::test_total_with_tax - assert 1199 == 1200")
        self.say("error: 1 test failed and I am out of ideas (exit 2)")
        return 2

    def finisher(self) -> int:
        self.step(1, 4, "reading guide.md and faq.md")
        self.step(2, 4, "guide.md: fix the install command", (GUIDE_INSTALL,))
        self.step(3, 4, "guide.md: add a troubleshooting section", (GUIDE_TROUBLE,))
        self.step(4, 4, "faq.md: answer 'can I use it offline?'", (FAQ_OFFLINE,))
        self.say("all done: 2 files changed. bye!")
        return 0


def edit(path: str, anchor: str, new: str) -> None:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        text = None
    if text is not None and new in text:
        return
    if not anchor or text is None:
        text = (text or "") + new
    elif anchor in text:
        text = text.replace(anchor, new, 1)
    else:
        text = text + ("" if text.endswith("\n") else "\n") + new
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


# -- the edits (against the repos fleet/demo/sandbox.py creates) ---------------------------

DISCOUNTS: Edit = (
    "discounts.py",
    "",
    '''"""Discount codes for the demo shop."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Discount:
    code: str
    percent: int

    def __post_init__(self) -> None:
        if not 0 < self.percent <= 100:
            raise ValueError("percent must be in 1..100")


CODES = {
    "WELCOME10": Discount("WELCOME10", 10),
    "SPRING25": Discount("SPRING25", 25),
}


def find(code: str) -> Discount | None:
    return CODES.get(code.strip().upper())


def apply_discount(amount_cents: int, discount: Discount | None) -> int:
    if discount is None:
        return amount_cents
    return amount_cents - amount_cents * discount.percent // 100
''',
)
CART_IMPORT: Edit = (
    "cart.py",
    "from pricing import line_total, tax_for\n",
    "from discounts import Discount, apply_discount\nfrom pricing import line_total, tax_for\n",
)
CART_FIELD: Edit = (
    "cart.py",
    "    items: list[Item] = field(default_factory=list)\n",
    "    items: list[Item] = field(default_factory=list)\n    discount: Discount | None = None\n",
)
CART_TOTAL: Edit = (
    "cart.py",
    "        subtotal = self.subtotal_cents()\n",
    "        subtotal = apply_discount(self.subtotal_cents(), self.discount)\n",
)
CART_DESCRIBE: Edit = (
    "cart.py",
    '        lines.append(f"  {item.quantity} x {item.name}")\n',
    '        lines.append(f"  {item.quantity} x {item.name}")\n'
    "    if cart.discount is not None:\n"
    '        lines.append(f"  discount {cart.discount.code}: -{cart.discount.percent}%")\n',
)
PRICING_EDITS: tuple[Edit, ...] = (
    ("pricing.py", '    "ca": 0.13,\n', '    "ca": 0.13,\n    "au": 0.10,\n'),
    (
        "pricing.py",
        "",
        "\n\ndef percent_of(amount_cents: int, percent: int) -> int:\n"
        "    return amount_cents * percent // 100\n",
    ),
)
TEST_DISCOUNT: Edit = (
    "tests/test_cart.py",
    "",
    "\n\ndef test_discount_code():\n"
    "    from discounts import find\n\n"
    '    cart = Cart("ann", discount=find("welcome10"))\n'
    '    cart.add(Item("b1", "book", 2000))\n'
    '    assert cart.total_cents("us") == 1926\n',
)
README_DISCOUNTS: Edit = (
    "README.md",
    "",
    "\n## Discount codes\n\n"
    "A cart may carry one discount code (see `discounts.py`). The discount applies to the\n"
    "subtotal, before tax. Codes are case-insensitive.\n",
)
CONFIG_TOML_FIRST: Edit = (
    "config.py",
    'SEARCH_ORDER = ("config.yaml", "config.toml")\n',
    'SEARCH_ORDER = ("config.toml", "config.yaml")\n',
)
CONFIG_NO_YAML: Edit = (
    "config.py",
    "def load_yaml(path: str) -> dict:\n"
    '    """Very small YAML subset: `key: value` lines."""\n'
    "    settings = {}\n"
    '    with open(path, encoding="utf-8") as f:\n'
    "        for line in f:\n"
    '            key, sep, value = line.partition(":")\n'
    "            if sep:\n"
    "                settings[key.strip()] = value.strip()\n"
    "    return settings\n",
    "def load_yaml(path: str) -> dict:\n"
    '    raise RuntimeError("config.yaml is no longer read: use config.toml")\n',
)
README_TOML: Edit = (
    "README.md",
    "Settings live in config.yaml.\n",
    "Settings live in config.toml (config.yaml is read only when there is no config.toml).\n",
)
PRICING_ROUNDING: Edit = (
    "pricing.py",
    "    return round(amount_cents * tax_rate(region))\n",
    "    return int(amount_cents * tax_rate(region) + 0.5)\n",
)
PRICING_NEGATIVE: Edit = (
    "pricing.py",
    '    text = text.strip().lstrip("$")\n',
    '    text = text.strip().lstrip("$")\n'
    '    if text.startswith("-"):\n'
    '        raise ValueError("prices are never negative")\n',
)
TEST_ROUNDING: Edit = (
    "tests/test_cart.py",
    "",
    "\n\ndef test_tax_rounds_half_up():\n"
    "    from pricing import tax_for\n\n"
    '    assert tax_for(250, "us") == 18\n',
)
GUIDE_INSTALL: Edit = (
    "guide.md",
    "    pip install demo-shop==0.1\n",
    "    pip install demo-shop\n",
)
GUIDE_TROUBLE: Edit = (
    "guide.md",
    "",
    "\n## Troubleshooting\n\n"
    "- `ModuleNotFoundError: pricing`: run the shop from the repository root.\n"
    "- Totals look off by a cent: taxes round half-up since 0.3.\n",
)
FAQ_OFFLINE: Edit = (
    "faq.md",
    "## Does it need a database?\n",
    "## Can I use it offline?\n\n"
    "Yes: the shop keeps everything in memory and needs no network.\n\n"
    "## Does it need a database?\n",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="fleet's scripted demo agent")
    parser.add_argument("scenario", choices=SCENARIOS)
    parser.add_argument("--pace", type=float, default=1.0, help="scale every pause")
    parser.add_argument("--resumed", action="store_true", help="started again by fleet resume")
    parser.add_argument("task", nargs="*")
    args = parser.parse_intermixed_args(argv)
    agent = Agent(args.scenario, " ".join(args.task), args.pace, args.resumed)
    try:
        return agent.run()
    except KeyboardInterrupt:
        agent.say()
        agent.say("interrupted. tell me what to do instead.")
    while True:
        try:
            return agent.prompt()
        except KeyboardInterrupt:
            agent.say()


if __name__ == "__main__":
    sys.exit(main())
