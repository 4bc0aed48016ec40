"""Run ids and readable run names."""

from __future__ import annotations

import re
import secrets

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

_ADJECTIVES = (
    "amber",
    "bold",
    "brisk",
    "calm",
    "clever",
    "cosmic",
    "crisp",
    "daring",
    "deft",
    "eager",
    "fancy",
    "fearless",
    "gentle",
    "golden",
    "hardy",
    "honest",
    "jolly",
    "keen",
    "lively",
    "lucky",
    "mellow",
    "misty",
    "noble",
    "polished",
    "proud",
    "quiet",
    "rapid",
    "royal",
    "rustic",
    "silent",
    "smooth",
    "snowy",
    "solar",
    "stellar",
    "sunny",
    "swift",
    "tidy",
    "upbeat",
    "vivid",
    "warm",
    "wild",
    "wise",
    "young",
    "zesty",
)
_NOUNS = (
    "aurora",
    "badger",
    "breeze",
    "brook",
    "canyon",
    "cedar",
    "comet",
    "cosmos",
    "dawn",
    "delta",
    "dune",
    "ember",
    "falcon",
    "fern",
    "field",
    "fjord",
    "forest",
    "galaxy",
    "glade",
    "harbor",
    "haze",
    "lake",
    "lantern",
    "meadow",
    "mesa",
    "moon",
    "nebula",
    "oasis",
    "ocean",
    "orbit",
    "otter",
    "pine",
    "planet",
    "prairie",
    "river",
    "sky",
    "sound",
    "spark",
    "star",
    "summit",
    "thunder",
    "tide",
    "valley",
    "violet",
    "wave",
    "willow",
    "wind",
)


def generate_id() -> str:
    """Eight random characters of ``[a-z0-9]``."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(8))


def check_id(run_id: str) -> str:
    """Return ``run_id`` if it is a valid id, else raise ``ValueError`` saying why."""
    if not isinstance(run_id, str) or not _ID_RE.match(run_id):
        raise ValueError(f"run id {run_id!r} is invalid: it must match [A-Za-z0-9_.-]{{1,64}}")
    return run_id


def generate_name() -> str:
    """A readable name: adjective-noun-number."""
    return f"{secrets.choice(_ADJECTIVES)}-{secrets.choice(_NOUNS)}-{secrets.randbelow(1000) + 1}"
