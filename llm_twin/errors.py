"""Every error llm-twin raises, under one root so the CLI catches exactly one type.

LlmTwinError
├── SettingsError            a setting or option is invalid (exit 2, nothing ran)
│   ├── CheckpointError          a path that is not a usable checkpoint (exit 2)
│   ├── ConfirmationRequiredError  apply on aws needs --yes or a terminal (exit 2)
│   └── BudgetExceededError      the cost estimate is above COST_MONTHLY_BUDGET_USD (exit 2)
├── StateError               local project state is missing or unsafe
│   └── BootstrapRequiredError   the main stack needs the bootstrap first
├── TerraformError           terraform exited unexpectedly (keeps stderr)
│   └── StateLockedError         another run holds the state lock
├── EmulatorError            the embedded local AWS could not start or answer
├── PreflightFailedError     a preflight check FAILed (the table printed says which, and the fix)
├── GatewayRequestError      `llm-twin serve` refused a request (carries its HTTP status)
├── AwsError                 an AWS call failed
│   ├── EndpointFailedError      the endpoint reached Failed (carries FailureReason)
│   ├── EndpointNotFoundError    no endpoint of that name
│   ├── EndpointNotReadyError    the endpoint exists but is not InService
│   ├── RolloutRolledBackError   an update was rolled back; the old config still serves
│   └── ModelStoreError          a model push/list/rm in the bucket failed
│       └── ModelConflictError       the prefix already holds a different model
└── InferenceError           generation failed
    ├── StreamParseError         bytes that are not a TGI event stream
    ├── StreamTimeoutError       no byte arrived within the read timeout
    ├── ModelStreamError         the endpoint reported an error mid-stream
    ├── AsyncInferenceError      an async invocation wrote its failure object
    │   └── AsyncTimeoutError        no output or failure object within the timeout
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

    def __init__(
        self, message: str, *, returncode: int | None = None, stderr: str = "", summary: str | None = None
    ) -> None:
        super().__init__(message)
        self.returncode = returncode
        self.stderr = stderr
        self.summary = summary
        """The summary of terraform's first error diagnostic (its closest thing to an error
        code, e.g. "Invalid value for variable"); None when terraform gave no diagnostic."""


class StateLockedError(TerraformError):
    """Another terraform run holds the stack's state lock; waiting is the fix, not retrying blindly."""


class EmulatorError(LlmTwinError):
    """The embedded local AWS is not usable."""


class PreflightFailedError(LlmTwinError):
    """A check found a failure the endpoint would only reach after 10-60 minutes; nothing was applied."""


class GatewayRequestError(LlmTwinError):
    """A browser's request to the gateway was refused; `status` is the HTTP answer (400, 401, 413...)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class AwsError(LlmTwinError):
    """An AWS API call failed; the botocore error is chained with `from`."""


class EndpointFailedError(AwsError):
    """SageMaker gave up on the endpoint; the message carries its FailureReason."""


class EndpointNotFoundError(AwsError):
    """No endpoint has that name in this account and region."""


class EndpointNotReadyError(AwsError):
    """The endpoint exists but cannot serve yet (Creating, Updating, Failed...)."""


class RolloutRolledBackError(AwsError):
    """SageMaker went back to the old config: Terraform's waiter sees InService and calls it success."""


class ConfirmationRequiredError(SettingsError):
    """`apply` on AWS costs money: it needs an interactive yes or `--yes`."""


class BudgetExceededError(SettingsError):
    """The estimate is above the configured monthly budget, so nothing is applied."""


class CheckpointError(SettingsError):
    """The path given is not a checkpoint we can store (no config.json, no weights, mixed formats)."""


class ModelStoreError(AwsError):
    """A model upload, listing or removal failed; nothing half-done is marked complete."""


class ModelConflictError(ModelStoreError):
    """The target prefix holds another model; overwriting it needs --force."""


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


class AsyncInferenceError(InferenceError):
    """The async invocation failed: SageMaker wrote its failure object instead of an output."""


class AsyncTimeoutError(AsyncInferenceError):
    """Neither the output nor the failure object appeared in time; the job may still finish."""


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
