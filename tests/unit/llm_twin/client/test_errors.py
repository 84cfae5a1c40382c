"""botocore's errors mapped by code: one test per mapping, on AWS's answers parsed by botocore.

sagemaker-runtime says ValidationError for a missing endpoint, a Failed one, one not yet
InService and a refused request alike; the messages below are never read by the mapping
(each test would pass with any message), DescribeEndpoint's answer decides.
"""

from __future__ import annotations

import json

import pytest

from llm_twin.client.async_ import async_bucket
from llm_twin.client.endpoint import LLMInferenceSagemakerEndpoint, runtime_config
from llm_twin.errors import (
    AwsError,
    EndpointFailedError,
    EndpointNotFoundError,
    EndpointNotReadyError,
    InferenceError,
    LlmTwinError,
    OverloadedError,
    ValidationError,
)
from tests.support.aws_answers import (
    ACCOUNT,
    ENDPOINT,
    ENDPOINT_ARN,
    Answer,
    Replay,
    control_error,
    described,
    generated,
    runtime_error,
)

NOT_FOUND = runtime_error(
    400, "ValidationError", {"message": f"Endpoint {ENDPOINT} of account {ACCOUNT} not found."}
)
REFUSED = runtime_error(
    400, "ValidationError", {"message": "1 validation error detected: Value at 'body' failed."}
)
NO_SUCH_ENDPOINT = control_error("ValidationException", f'Could not find endpoint "{ENDPOINT_ARN}".')
FAILURE_REASON = "The primary container for production variant AllTraffic did not pass the ping health check."


def model_error(original_status: int, original: str) -> Answer:
    return runtime_error(
        424,
        "ModelError",
        {
            "ErrorCode": "CLIENT_ERROR_FROM_MODEL",
            "LogStreamArn": f"arn:aws:logs:eu-central-1:{ACCOUNT}:log-group:/aws/sagemaker/Endpoints/{ENDPOINT}",
            "Message": f'Received client error ({original_status}) from primary with message "{original}". '
            f"See the logs in account {ACCOUNT} for more information.",
            "OriginalMessage": original,
            "OriginalStatusCode": original_status,
        },
    )


def raised(
    runtime: list[Answer], control: list[Answer] | None = None
) -> tuple[LlmTwinError, Replay, Replay | None]:
    """What `inference()` raises when sagemaker-runtime answers `runtime` (and, given, SageMaker `control`)."""
    runtime_replay = Replay("sagemaker-runtime", runtime, config=runtime_config())
    control_replay = None if control is None else Replay("sagemaker", control)
    endpoint = LLMInferenceSagemakerEndpoint(
        ENDPOINT,
        runtime_replay.client,
        sagemaker_client=None if control_replay is None else control_replay.client,
        throttle_backoff=0,
    )
    endpoint.set_payload("hi")
    with pytest.raises(LlmTwinError) as caught:
        endpoint.inference()
    return caught.value, runtime_replay, control_replay


def test_a_validation_error_for_an_endpoint_sagemaker_cannot_find_is_endpoint_not_found() -> None:
    error, _, control = raised([NOT_FOUND], [NO_SUCH_ENDPOINT])

    assert type(error) is EndpointNotFoundError
    assert (
        str(error) == f"no endpoint named {ENDPOINT!r}: Endpoint {ENDPOINT} of account {ACCOUNT} not found."
    )
    assert control is not None and control.operations == ["DescribeEndpoint"]


def test_a_validation_error_for_a_failed_endpoint_is_endpoint_failed_with_its_reason() -> None:
    error, _, _ = raised([REFUSED], [described("Failed", FAILURE_REASON)])

    assert type(error) is EndpointFailedError
    assert str(error) == f"endpoint {ENDPOINT!r} failed: {FAILURE_REASON}"


@pytest.mark.parametrize("status", ["Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"])
def test_a_validation_error_for_an_endpoint_not_in_service_is_endpoint_not_ready(status: str) -> None:
    error, _, _ = raised([REFUSED], [described(status)])

    assert type(error) is EndpointNotReadyError
    assert f"(status {status})" in str(error)


def test_a_validation_error_from_an_endpoint_in_service_is_the_request_refused() -> None:
    error, _, _ = raised([REFUSED], [described("InService")])

    assert type(error) is AwsError
    assert str(error) == (
        f"invoking endpoint {ENDPOINT!r} failed (ValidationError): 1 validation error detected: Value at 'body' failed."
    )


def test_without_a_control_plane_client_a_validation_error_stays_generic() -> None:
    error, _, _ = raised([NOT_FOUND])

    assert type(error) is AwsError
    assert "(ValidationError)" in str(error)


def test_when_describe_endpoint_is_denied_the_invocation_error_stands() -> None:
    denied = control_error(
        "AccessDeniedException", "User is not authorized to perform: sagemaker:DescribeEndpoint"
    )
    error, _, _ = raised([NOT_FOUND], [denied])

    assert type(error) is AwsError
    assert "(ValidationError)" in str(error)


@pytest.mark.parametrize(
    ("error_type", "expected"),
    [("validation", ValidationError), ("overloaded", OverloadedError)],
)
def test_a_model_error_carrying_tgis_error_is_tgis_error(error_type: str, expected: type) -> None:
    original = json.dumps(
        {"error": "Input validation error: `seed` must be positive", "error_type": error_type}
    )
    error, _, control = raised([model_error(422, original)], [])

    assert type(error) is expected
    assert str(error) == "Input validation error: `seed` must be positive"
    assert control is not None and control.operations == []  # a ModelError needs no DescribeEndpoint


def test_a_model_error_without_tgis_body_is_an_inference_error() -> None:
    error, _, _ = raised([model_error(500, "upstream connect error")])

    assert type(error) is InferenceError
    assert str(error).startswith("the model container answered an error: Received client error (500)")


def test_model_not_ready_is_endpoint_not_ready() -> None:
    error, _, _ = raised(
        [runtime_error(429, "ModelNotReadyException", {"message": "Model is not ready yet."})]
    )

    assert type(error) is EndpointNotReadyError
    assert str(error) == f"endpoint {ENDPOINT!r} is not ready: Model is not ready yet."


THROTTLED = runtime_error(400, "ThrottlingException", {"message": "Rate exceeded"})


def test_throttling_twice_is_an_aws_error_after_one_retry() -> None:
    error, runtime, _ = raised([THROTTLED, THROTTLED])

    assert type(error) is AwsError
    assert str(error).startswith(f"endpoint {ENDPOINT!r} is throttling requests (ThrottlingException)")
    assert runtime.operations == ["InvokeEndpoint", "InvokeEndpoint"]


def test_throttling_once_is_retried() -> None:
    runtime = Replay("sagemaker-runtime", [THROTTLED, generated("ok")], config=runtime_config())
    endpoint = LLMInferenceSagemakerEndpoint(ENDPOINT, runtime.client, throttle_backoff=0)

    assert endpoint.inference() == "ok"


def test_any_other_code_is_an_aws_error_naming_it() -> None:
    denied = runtime_error(400, "AccessDeniedException", {"message": "not authorized"})
    error, _, _ = raised([denied], [])

    assert type(error) is AwsError
    assert str(error) == f"invoking endpoint {ENDPOINT!r} failed (AccessDeniedException): not authorized"


def test_describing_an_endpoint_sagemaker_cannot_find_is_endpoint_not_found() -> None:
    control = Replay("sagemaker", [NO_SUCH_ENDPOINT])

    with pytest.raises(EndpointNotFoundError, match=f"no endpoint named {ENDPOINT!r}"):
        async_bucket(control.client, ENDPOINT)
