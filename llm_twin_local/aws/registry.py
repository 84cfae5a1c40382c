"""One registry for the emulator's run-time patches to moto: each applies once per process.

A patch replaces methods on moto's classes in this process only (the emulator's own),
never the installed files. Applied twice, it would wrap its own wrapper: two locks, two
tag stores, a runtime hook that starts two model servers per endpoint. So every patch is
registered here with `once`, which makes calling it again a no-op, and `apply_all`
applies the ones the emulator always wants, in the order they were registered.

    @PATCHES.once("s3.conditional_writes")
    def apply() -> None:
        '''Make conditional PutObject / DeleteObject atomic.'''

Registration happens when a patch's module is imported: `llm_twin_local.aws.patches`
imports every module that holds one.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec

Params = ParamSpec("Params")


@dataclass(frozen=True)
class Patch:
    """One registered patch."""

    name: str
    """Unique, `<service>.<what>`, e.g. `s3.conditional_writes`."""
    apply: Callable[..., None]
    """The once-only callable: the first call applies the patch, later calls do nothing."""
    why: str
    """The first line of the patch function's docstring."""
    by_default: bool
    """Applied by `apply_all`; False for a patch its caller applies (IAM enforcement, the runtime's hooks)."""


class PatchRegistry:
    """Patches by name, and which of them this process has applied."""

    def __init__(self) -> None:
        self._patches: dict[str, Patch] = {}
        self._applied: set[str] = set()
        # Re-entrant: a patch may apply another one while it is being applied.
        self._lock = threading.RLock()

    def once(
        self, name: str, *, by_default: bool = True
    ) -> Callable[[Callable[Params, None]], Callable[Params, None]]:
        """Register the decorated function as patch `name`; calls after the first one do nothing.

        A patch whose function raises is not marked applied, so a later call tries again.
        """

        def register(function: Callable[Params, None]) -> Callable[Params, None]:
            if name in self._patches:
                raise ValueError(f"a patch named {name!r} is already registered")

            @functools.wraps(function)
            def apply_once(*args: Params.args, **kwargs: Params.kwargs) -> None:
                with self._lock:
                    if name in self._applied:
                        return
                    function(*args, **kwargs)
                    self._applied.add(name)

            why = (function.__doc__ or "").strip().partition("\n")[0]
            self._patches[name] = Patch(name, apply_once, why, by_default)
            return apply_once

        return register

    def applied(self, name: str) -> bool:
        """True once patch `name` has been applied in this process."""
        with self._lock:
            return name in self._applied

    def patches(self) -> tuple[Patch, ...]:
        """Every registered patch, in registration order."""
        return tuple(self._patches.values())

    def apply_all(self) -> None:
        """Apply every `by_default` patch not applied yet, in registration order."""
        for patch in self.patches():
            if patch.by_default:
                patch.apply()


PATCHES = PatchRegistry()
"""The emulator's patches to moto."""
