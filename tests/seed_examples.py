"""The example blocks of the W&B reference pages in ``shared/seeds/``, as runnable scripts.

A block is an example when it is Python that uses ``wandb``, ``run`` or ``api`` (the method
signatures the pages also fence are not). Seed 002 leaves one fence open (``link_model``'s
wrong-usage example): an opening fence with a language inside a block closes the block and
opens the next. Seed 001 fences nothing; its examples are named by line range.
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass

# A copy of the W&B reference pages of ``shared/seeds/`` (kept with the tests, so that a clean
# clone runs every block wherever it is checked out).
SEEDS = os.environ.get("TRACKER_SEEDS_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "seeds"
)
# Seed 001 (a plain-text page) has no fences: its four examples, by 1-based line range.
_UNFENCED = {"001": [(160, 172), (263, 280), (301, 303), (348, 357)]}
_USES = re.compile(r"\b(wandb|run|api)\.")


@dataclass(frozen=True)
class Example:
    """One example block: the seed (``"000"``...), its first line and its code."""

    seed: str
    line: int
    code: str

    @property
    def id(self) -> str:
        return f"seed{self.seed}-L{self.line}"


def _fenced(text: str) -> list[tuple[int, str]]:
    blocks: list[tuple[int, str]] = []
    lines = text.splitlines()
    start: int | None = None
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped.startswith("```"):
            continue
        if start is not None:
            blocks.append((start + 2, "\n".join(lines[start + 1 : i])))
            start = None
            if stripped == "```":
                continue
        start = i
    return blocks


def _unfenced(seed: str, text: str) -> list[tuple[int, str]]:
    lines = text.splitlines()
    out = []
    for first, last in _UNFENCED.get(seed, []):
        out.append((first, "\n".join(lines[first - 1 : last]).rstrip()))
    return out


def _is_example(code: str) -> bool:
    try:
        ast.parse(code)
    except SyntaxError:
        return False
    return bool(_USES.search(code)) or "import wandb" in code


def examples(seeds_dir: str = SEEDS) -> list[Example]:
    """Every example block of every seed page, in page order."""
    found = []
    for fname in sorted(os.listdir(seeds_dir)):
        if not fname.endswith(".txt"):
            continue
        seed = fname[:3]
        with open(os.path.join(seeds_dir, fname), encoding="utf-8") as fh:
            text = fh.read()
        blocks = _unfenced(seed, text) if seed in _UNFENCED else _fenced(text)
        for line, code in blocks:
            if _is_example(code):
                found.append(Example(seed, line, code))
    return found


def as_script(code: str) -> str:
    """The block as a W&B user runs it with tracker: one import changed."""
    return re.sub(r"^import wandb$", "import tracker as wandb", code, flags=re.M)
