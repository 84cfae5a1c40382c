"""The one door from llm_twin to `llm_twin_local` (the [local] extra): the embedded local AWS,
and the stand-in's `.bin` -> safetensors converter.

`pip install llm-twin` deploys to real AWS without moto, torch or transformers, so no
module of llm_twin imports `llm_twin_local` at import time; this one imports it inside
each function, when TARGET=local (or `model push --convert`) needs it. Without the extra
the emulator's functions raise EmulatorError, the converter SettingsError, saying how to
install it.

    ensure_running(settings) -> EmulatorStatus   start it unless it runs (`started_now` says which)
    status(settings)         -> EmulatorStatus   whether it runs, and where
    stop(settings)           -> bool             stop it; False when it was not running
    convert_checkpoint(source, target) -> ConversionResult   `.bin` weights as safetensors (the
                                                 stand-in's converter; `model push --convert`)

The emulator belongs to the settings' state directory and LOCAL_AWS_PORT; LOCAL_ENFORCE_IAM
applies when it starts (one already running keeps its mode).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

from llm_twin.config import Settings
from llm_twin.errors import EmulatorError, SettingsError

if TYPE_CHECKING:
    from llm_twin_local.aws.daemon import EmulatorStatus, LocalAws
    from llm_twin_local.model_server.convert import ConversionResult

__all__ = [
    "CONVERTER_MODULES",
    "EMULATOR_MODULES",
    "INSTALL_HINT",
    "ConversionResult",
    "EmulatorStatus",
    "convert_checkpoint",
    "ensure_running",
    "status",
    "stop",
]

INSTALL_HINT = "the local target needs the [local] extra: pip install 'llm-twin[local]'"
EMULATOR_MODULES = ("moto", "werkzeug")
"""What the emulator's server process imports; checked before it is started, so a missing
extra is named here instead of in the emulator's log."""
CONVERTER_MODULES = ("torch", "safetensors")
"""What the `.bin` converter imports: checked first, so a missing extra is a usage error, not a traceback."""


def ensure_running(settings: Settings) -> EmulatorStatus:
    """Start the emulator unless it already runs; a fresh one holds nothing yet (`started_now`)."""
    missing = [name for name in EMULATOR_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise EmulatorError(f"{INSTALL_HINT} ({', '.join(missing)} is not installed)")
    return _emulator(settings).up()


def status(settings: Settings) -> EmulatorStatus:
    """Whether the emulator runs on LOCAL_AWS_PORT, with its pid, URL and log."""
    return _emulator(settings).status()


def stop(settings: Settings) -> bool:
    """Stop the emulator (everything it held is forgotten); False when it was not running."""
    return _emulator(settings).down()


def _emulator(settings: Settings) -> LocalAws:
    try:
        from llm_twin_local.aws.daemon import LocalAws
    except ImportError as exc:
        raise EmulatorError(f"{INSTALL_HINT} ({exc})") from exc
    return LocalAws(settings.state.dir, settings.local.port, enforce_iam=settings.local.enforce_iam)


def convert_checkpoint(source: Path, target: Path) -> ConversionResult:
    """Rewrite `source`'s pickle weights as safetensors in `target`, every tensor checked equal.

    The stand-in's converter (TGI converts `.bin` at boot, and so does the stand-in);
    SettingsError naming the [local] extra when torch is not installed.
    """
    missing = [name for name in CONVERTER_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise SettingsError(
            f"--convert needs torch, from the [local] extra: pip install 'llm-twin[local]' "
            f"({', '.join(missing)} is not installed)"
        )
    from llm_twin_local.model_server.convert import convert_checkpoint as convert

    return convert(source, target)
