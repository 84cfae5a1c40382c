"""Every error llm-twin raises, under one root so the CLI catches exactly one type.

Each class states its `exit_code`: 2 when nothing ran (a usage or settings error), 1
when something ran and failed. The CLI's root handler (`llm_twin.cli.root`) prints
`Name: message` and exits with it; Ctrl-C is not an error of ours and exits 130.

LlmTwinError                     exit 1  root
├── SettingsError                exit 2  a setting or option is invalid (nothing ran)
│   ├── CheckpointError              exit 2  a path that is not a usable checkpoint
│   ├── ConfirmationRequiredError    exit 2  apply on aws needs --yes or a terminal
│   └── BudgetExceededError          exit 2  the cost estimate is above COST_MONTHLY_BUDGET_USD
├── StateError                   exit 1  local project state is missing or unsafe
│   └── BootstrapRequiredError       exit 1  the main stack needs the bootstrap first
├── TerraformError               exit 1  terraform exited unexpectedly (keeps stderr)
│   └── StateLockedError             exit 1  another run holds the state lock
├── EmulatorError                exit 1  the embedded local AWS could not start or answer
├── PreflightFailedError         exit 1  a preflight check FAILed (the table printed says which, and the fix)
├── GatewayRequestError          exit 1  `llm-twin serve` refused a request (carries its HTTP status)
├── AwsError                     exit 1  an AWS call failed
│   ├── EndpointFailedError          exit 1  the endpoint reached Failed (carries FailureReason)
│   ├── EndpointNotFoundError        exit 1  no endpoint of that name
│   ├── EndpointNotReadyError        exit 1  the endpoint exists but is not InService
│   ├── RolloutRolledBackError       exit 1  an update was rolled back; the old config still serves
│   └── ModelStoreError              exit 1  a model push/list/rm in the bucket failed
│       └── ModelConflictError           exit 1  the prefix already holds a different model
└── InferenceError               exit 1  generation failed
    ├── StreamParseError             exit 1  bytes that are not a TGI event stream
    ├── StreamTimeoutError           exit 1  no byte arrived within the read timeout
    ├── ModelStreamError             exit 1  the endpoint reported an error mid-stream
    ├── AsyncInferenceError          exit 1  an async invocation wrote its failure object
    │   └── AsyncTimeoutError            exit 1  no output or failure object within the timeout
    └── GenerationError              exit 1  TGI's own error payload ({"error", "error_type"})
        ├── ValidationError              exit 1  error_type "validation" (HTTP 422)
        ├── OverloadedError              exit 1  error_type "overloaded"
        └── IncompleteGenerationError    exit 1  error_type "incomplete_generation"
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

    exit_code = 1


class BootstrapRequiredError(StateError):
    """The main stack reads the bootstrap's outputs, so it cannot run first."""

    exit_code = 1


class TerraformError(LlmTwinError):
    """Terraform exited with a code the caller did not expect."""

    exit_code = 1

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

    exit_code = 1


class EmulatorError(LlmTwinError):
    """The embedded local AWS is not usable."""

    exit_code = 1


class PreflightFailedError(LlmTwinError):
    """A check found a failure the endpoint would only reach after 10-60 minutes; nothing was applied."""

    exit_code = 1


class GatewayRequestError(LlmTwinError):
    """A browser's request to the gateway was refused; `status` is the HTTP answer (400, 401, 413...)."""

    exit_code = 1

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class AwsError(LlmTwinError):
    """An AWS API call failed; the botocore error is chained with `from`."""

    exit_code = 1


class EndpointFailedError(AwsError):
    """SageMaker gave up on the endpoint; the message carries its FailureReason."""

    exit_code = 1


class EndpointNotFoundError(AwsError):
    """No endpoint has that name in this account and region."""

    exit_code = 1


class EndpointNotReadyError(AwsError):
    """The endpoint exists but cannot serve yet (Creating, Updating, Failed...)."""

    exit_code = 1


class RolloutRolledBackError(AwsError):
    """SageMaker went back to the old config: Terraform's waiter sees InService and calls it success."""

    exit_code = 1


class ConfirmationRequiredError(SettingsError):
    """`apply` on AWS costs money: it needs an interactive yes or `--yes`."""

    exit_code = 2


class BudgetExceededError(SettingsError):
    """The estimate is above the configured monthly budget, so nothing is applied."""

    exit_code = 2


class CheckpointError(SettingsError):
    """The path given is not a checkpoint we can store (no config.json, no weights, mixed formats)."""

    exit_code = 2


class ModelStoreError(AwsError):
    """A model upload, listing or removal failed; nothing half-done is marked complete."""

    exit_code = 1


class ModelConflictError(ModelStoreError):
    """The target prefix holds another model; overwriting it needs --force."""

    exit_code = 1


class InferenceError(LlmTwinError):
    """Generation did not complete; `partial_text` keeps what already arrived."""

    exit_code = 1

    def __init__(self, message: str, *, partial_text: str = "") -> None:
        super().__init__(message)
        self.partial_text = partial_text


class StreamParseError(InferenceError):
    """The stream held bytes that are not a TGI server-sent event."""

    exit_code = 1


class StreamTimeoutError(InferenceError):
    """The endpoint went silent for longer than the read timeout."""

    exit_code = 1


class ModelStreamError(InferenceError):
    """SageMaker's ModelStreamError / InternalStreamFailure event."""

    exit_code = 1


class AsyncInferenceError(InferenceError):
    """The async invocation failed: SageMaker wrote its failure object instead of an output."""

    exit_code = 1


class AsyncTimeoutError(AsyncInferenceError):
    """Neither the output nor the failure object appeared in time; the job may still finish."""

    exit_code = 1


class GenerationError(InferenceError):
    """TGI reported an error in its own payload."""

    exit_code = 1


class ValidationError(GenerationError):
    """TGI rejected the request's parameters (HTTP 422)."""

    exit_code = 1


class OverloadedError(GenerationError):
    """TGI's queue is full."""

    exit_code = 1


class IncompleteGenerationError(GenerationError):
    """TGI stopped a generation before it finished."""

    exit_code = 1


GENERATION_ERRORS: dict[str, type[GenerationError]] = {
    "validation": ValidationError,
    "overloaded": OverloadedError,
    "incomplete_generation": IncompleteGenerationError,
}


def generation_error(message: str, error_type: str | None, *, partial_text: str = "") -> GenerationError:
    """Map TGI's `error_type` to its subclass; unknown types stay generic."""
    cls = GENERATION_ERRORS.get(error_type or "", GenerationError)
    return cls(message, partial_text=partial_text)
