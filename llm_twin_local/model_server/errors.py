"""The TGI stand-in's own errors: what the server answers, apart from what a client raises.

The client's tree (`llm_twin.errors`) is what a caller of an endpoint sees; this one is
what the server says on the wire, so each request error carries TGI's HTTP status and
`error_type`, answered as `{"error": message, "error_type": ...}`:

ModelServerError                 root; `exit_code` is what `python -m llm_twin_local.model_server` exits with
├── SettingsError                a model directory or limit the server cannot serve (exit 2, nothing served)
└── RequestError                 one request refused or failed (`status`, `error_type`)
    ├── BadRequestError              400 validation      the body is not JSON at all (axum's JSON extractor)
    ├── ValidationError              422 validation      parameters TGI refuses
    │   └── ShapeError                   422 validation  JSON, but not of the request's shape
    ├── TemplateError                422 template_error  the chat template failed to render
    ├── ToolError                    422 tool_error      tools the request cannot have (with response_format)
    ├── CompletionsError             422 (its own)       /v1/completions' refusals: a suffix, too many prompts
    ├── OverloadedError              429 overloaded      the queue is full
    ├── GenerationError              424 generation      the generation failed
    └── IncompleteGenerationError    500 incomplete_generation  it ended before its last token

Inside a Messages API or /v1/completions stream every error is one event of OpenAI's shape,
`{"error": {"message", "http_status_code": 422}}`, then `data: [DONE]` (`protocol.tgi`).
"""

from __future__ import annotations


class ModelServerError(Exception):
    """Root of the stand-in's errors; `exit_code` is what its command exits with."""

    exit_code = 1


class SettingsError(ModelServerError):
    """Raised before serving: an unusable model directory, checkpoint or set of limits (usage error: exit 2)."""

    exit_code = 2


class RequestError(ModelServerError):
    """A request the server answers with an error payload; the class says the HTTP status and `error_type`."""

    status = 500
    error_type = "generation"


class BadRequestError(RequestError):
    """The body is not JSON at all (HTTP 400, like axum's JSON extractor)."""

    status = 400
    error_type = "validation"


class ValidationError(RequestError):
    """TGI refuses the request's parameters (HTTP 422, before any generation)."""

    status = 422
    error_type = "validation"


class ShapeError(ValidationError):
    """The body is JSON but not of the request's shape (HTTP 422, before any generation)."""


class TemplateError(RequestError):
    """The model's chat template failed on the messages (TGI answers 422 template_error)."""

    status = 422
    error_type = "template_error"


class ToolError(RequestError):
    """The request's tools cannot be served as asked (TGI answers 422 tool_error)."""

    status = 422
    error_type = "tool_error"


class CompletionsError(RequestError):
    """A /v1/completions body TGI refuses before validating; its `error_type` is the instance's
    ("suffix not supported", "batch size exceeded"), as TGI names them."""

    status = 422

    def __init__(self, message: str, error_type: str) -> None:
        super().__init__(message)
        self.error_type = error_type


class OverloadedError(RequestError):
    """The queue holds MAX_CONCURRENT_REQUESTS already (HTTP 429)."""

    status = 429
    error_type = "overloaded"


class GenerationError(RequestError):
    """The generation failed or ended before its last token (HTTP 424)."""

    status = 424
    error_type = "generation"


class IncompleteGenerationError(RequestError):
    """The generation's events ended without a last token or an error (TGI answers 500)."""

    status = 500
    error_type = "incomplete_generation"
