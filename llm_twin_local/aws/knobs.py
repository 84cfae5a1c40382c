"""The emulator's environment knobs: a switch or a non-negative number, read when used.

Knobs are for tests and debugging, so a bad value never stops the emulator: it is
logged and ignored, as if unset.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TypeVar

log = logging.getLogger(__name__)

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
"""What turns a switch on; anything else (unset included) leaves it off."""

Number = TypeVar("Number", int, float)


def switch(environ: Mapping[str, str], name: str) -> bool:
    """True when `name` is set to one of TRUE_WORDS (any case, surrounding blanks ignored)."""
    return environ.get(name, "").strip().lower() in TRUE_WORDS


def number(environ: Mapping[str, str], name: str, kind: Callable[[str], Number]) -> Number | None:
    """A non-negative number from the environment; unset or invalid (logged) is None."""
    raw = environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or value < 0:
        log.warning("ignoring %s=%r: not a non-negative number", name, raw)
        return None
    return value
