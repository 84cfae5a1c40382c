"""The configured endpoint's client as the CLI builds it: as the inference identity."""

from __future__ import annotations

from typing import Any

from llm_twin.client.endpoint import LLMInferenceSagemakerEndpoint
from llm_twin.config import Settings
from llm_twin.control.identity import inference_credentials


def inference_endpoint(settings: Settings, **options: Any) -> LLMInferenceSagemakerEndpoint:
    """`from_settings` with the credentials `llm-twin infer` uses (the deployer's key on local)."""
    return LLMInferenceSagemakerEndpoint.from_settings(
        settings, credentials=inference_credentials(settings), **options
    )
