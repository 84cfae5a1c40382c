"""Every error llm-twin raises, under one root so the CLI catches exactly one type.

LlmTwinError
├── SettingsError            a setting or option is invalid (exit 2, nothing ran)
├── StateError               local project state is missing or unsafe
│   └── BootstrapRequiredError   the main stack needs the bootstrap first
├── TerraformError           terraform exited unexpectedly (keeps stderr)
├── EmulatorError            the embedded local AWS could not start or answer
├── AwsError                 an AWS call failed
│   ├── EndpointFailedError      the endpoint reached Failed (carries FailureReason)
│   ├── EndpointNotFoundError    no endpoint of that name
│   └── EndpointNotReadyError    the endpoint exists but is not InService
└── InferenceError           generation failed
    ├── StreamParseError         bytes that are not a TGI event stream
    ├── StreamTimeoutError       no byte arrived within the read timeout
    ├── ModelStreamError         the endpoint reported an error mid-stream
    └── GenerationError          TGI's own error payload ({"error", "error_type"})
        ├── ValidationError          error_type "validation" (HTTP 422)
        ├── OverloadedError          error_type "overloaded"
        └── IncompleteGenerationError error_type "incomplete_generation"
"""

from __future__ import annotations


class LlmTwinError(Exception):
    """Root of the hierarchy; `exit_code` is what the CLI exits with."""

    exit_code = 1


class SettingsError(LlmTwinError):
    """Raised before anything runs, so nothing is created (usage error: exit 2)."""

    exit_code = 2


class StateError(LlmTwinError):
    """Local files (credentials, state) are missing or unsafe."""


class BootstrapRequiredError(StateError):
    """The main stack reads the bootstrap's outputs, so it cannot run first."""


class TerraformError(LlmTwinError):
    """Terraform exited with a code the caller did not expect."""

    def __init__(self, message: str, *, returncode: int | None = None, stderr: str = "") -> None:
        super().__init__(message)
        self.returncode = returncode
        self.stderr = stderr


class EmulatorError(LlmTwinError):
    """The embedded local AWS is not usable."""


class AwsError(LlmTwinError):
    """An AWS API call failed; the botocore error is chained with `from`."""


class EndpointFailedError(AwsError):
    """SageMaker gave up on the endpoint; the message carries its FailureReason."""


class EndpointNotFoundError(AwsError):
    """No endpoint has that name in this account and region."""


class EndpointNotReadyError(AwsError):
    """The endpoint exists but cannot serve yet (Creating, Updating, Failed...)."""


class InferenceError(LlmTwinError):
    """Generation did not complete; `partial_text` keeps what already arrived."""

    def __init__(self, message: str, *, partial_text: str = "") -> None:
        super().__init__(message)
        self.partial_text = partial_text


class StreamParseError(InferenceError):
    """The stream held bytes that are not a TGI server-sent event."""


class StreamTimeoutError(InferenceError):
    """The endpoint went silent for longer than the read timeout."""


class ModelStreamError(InferenceError):
    """SageMaker's ModelStreamError / InternalStreamFailure event."""


class GenerationError(InferenceError):
    """TGI reported an error in its own payload."""


class ValidationError(GenerationError):
    """TGI rejected the request's parameters (HTTP 422)."""


class OverloadedError(GenerationError):
    """TGI's queue is full."""


class IncompleteGenerationError(GenerationError):
    """TGI stopped a generation before it finished."""


GENERATION_ERRORS: dict[str, type[GenerationError]] = {
    "validation": ValidationError,
    "overloaded": OverloadedError,
    "incomplete_generation": IncompleteGenerationError,
}


def generation_error(message: str, error_type: str | None, *, partial_text: str = "") -> GenerationError:
    """Map TGI's `error_type` to its subclass; unknown types stay generic."""
    cls = GENERATION_ERRORS.get(error_type or "", GenerationError)
    return cls(message, partial_text=partial_text)
