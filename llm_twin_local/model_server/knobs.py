"""What the model server reads from its environment besides the launcher's limits (flags in
`__main__`), read when the app is built:

    TGI_VERSION=3.3.6               the TGI release the endpoint was configured for (the
                                    container's environment, as the local runtime passes it):
                                    /info's `version`, the chat `system_fingerprint`, and which
                                    max_new_tokens rule applies (`protocol.tgi.length_problem`)
    LLM_TWIN_SERVER_FAULT=generation@N
                                    every generation fails after its Nth token with TGI's
                                    GenerationError, so clients are tested against a bad day
                                    (the emulator's own faults are `aws/runtime/faults.py`)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from llm_twin.protocol.tgi import DEFAULT_TGI_VERSION, parse_version

from .errors import SettingsError

TGI_VERSION_ENV = "TGI_VERSION"
FAULT_ENV = "LLM_TWIN_SERVER_FAULT"


@dataclass(frozen=True)
class GenerationFault:
    """Fail every generation once it has sent `after_tokens` tokens."""

    after_tokens: int

    @property
    def message(self) -> str:
        return (
            f"Request failed during generation: injected fault ({FAULT_ENV}=generation@{self.after_tokens})"
        )


def tgi_version(environ: Mapping[str, str]) -> str:
    """TGI_VERSION, else the default; SettingsError (exit 2, nothing served) when malformed."""
    version = environ.get(TGI_VERSION_ENV) or DEFAULT_TGI_VERSION
    try:
        parse_version(version)
    except ValueError as err:
        raise SettingsError(f"{TGI_VERSION_ENV}: {err}") from None
    return version


def generation_fault(environ: Mapping[str, str]) -> GenerationFault | None:
    """LLM_TWIN_SERVER_FAULT, parsed; SettingsError when it is not `generation@N` (N >= 0)."""
    value = environ.get(FAULT_ENV)
    if not value:
        return None
    match = re.fullmatch(r"generation@(\d+)", value)
    if match is None:
        raise SettingsError(f"{FAULT_ENV}={value!r}: expected generation@N, N a number of tokens")
    return GenerationFault(int(match.group(1)))
