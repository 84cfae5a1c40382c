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
    container_environment(settings) -> dict      the local-only variables of the endpoint's container
    serving_model(settings, endpoint) -> ServingModel | None   what the endpoint serves, how far
                                                 its download has come (the emulator's local route)
    is_stand_in(image)       -> bool             whether a DeployedImages entry is the stand-in
    stand_in_notice(settings, endpoint, images) -> str | None   the one line saying the stand-in serves
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
    from llm_twin_local.aws.runtime.progress import ServingModel
    from llm_twin_local.model_server.convert import ConversionResult

__all__ = [
    "CONVERTER_MODULES",
    "EMULATOR_MODULES",
    "INSTALL_HINT",
    "ConversionResult",
    "EmulatorStatus",
    "ServingModel",
    "container_environment",
    "convert_checkpoint",
    "ensure_running",
    "is_stand_in",
    "stand_in_notice",
    "serving_model",
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


def container_environment(settings: Settings) -> dict[str, str]:
    """LOCAL_MODEL, LOCAL_DTYPE and, when it applies, LOCAL_MODEL_ID, as the local runtime reads them.

    LOCAL_MODEL_ID replaces HF_MODEL_ID only when HF_MODEL_ID is a Hub id and MODEL_DATA_S3_URI
    is empty: a path or pushed weights are the user's own choice of what to serve already.
    """
    try:
        from llm_twin_local.aws.runtime.choice import container_environment as render
    except ImportError as exc:
        raise EmulatorError(f"{INSTALL_HINT} ({exc})") from exc
    model = settings.model
    replaces_hub_id = not model.data_s3_uri and not model.hf_model_id.startswith("/")
    local_id = settings.local.served_model_id if replaces_hub_id else ""
    return render(local_id, settings.local.model, settings.local.dtype)


def serving_model(settings: Settings, endpoint: str) -> ServingModel | None:
    """What the local endpoint serves and how far its model has come; None when the emulator runs
    no model for it (or is not running)."""
    if not status(settings).running:
        return None
    from llm_twin_local.aws.runtime.progress import fetch_serving_model

    try:
        return fetch_serving_model(f"http://127.0.0.1:{settings.local.port}", endpoint)
    except OSError:
        return None


def is_stand_in(image: str) -> bool:
    """Whether a variant's ResolvedImage (DescribeEndpoint's DeployedImages) is the stand-in model."""
    try:
        from llm_twin_local.aws.runtime.sources import STAND_IN_IMAGES
    except ImportError:
        return False
    return image in STAND_IN_IMAGES


ASKED = "LOCAL_MODEL=stand-in"
"""The stand-in's reason when the settings asked for it (the runtime's ModelChoice says the same)."""


def stand_in_notice(settings: Settings, endpoint: str, images: tuple[str, ...] | None = None) -> str | None:
    """One line when the local endpoint serves the stand-in instead of its model; None otherwise.

    `images` are DescribeEndpoint's ResolvedImages when the caller has them (apply, status);
    without them (infer) the emulator's route says. The route also gives the reason.
    """
    if settings.target != "local":
        return None
    model = serving_model(settings, endpoint)
    if images is not None:
        if not any(is_stand_in(image) for image in images):
            return None
    elif model is None or not model.stand_in:
        return None
    what = "the stand-in, a tiny random model that prints word salad"
    if model is None or not model.stand_in:
        return f"endpoint {endpoint} serves {what}"
    if model.stand_in_reason == ASKED:
        return f"endpoint {endpoint} serves {what}, not {model.model_id}: {ASKED} asks for it"
    return (
        f"endpoint {endpoint} serves {what}, not {model.model_id}: {model.stand_in_reason}; "
        "`llm-twin apply` tries the Hub again"
    )


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
