"""boto3 answers mapped by error code (botocore's Stubber plays SageMaker), never by message text."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from llm_twin.config.credentials import Credentials
from llm_twin.control.aws import AwsClients
from llm_twin.errors import AwsError, EndpointNotFoundError


def describe_failing(code: str, message: str) -> Exception:
    clients = AwsClients(Credentials("AKIAEXAMPLE", "secret"), "eu-central-1", None)
    sagemaker = clients.client("sagemaker")
    clients.client = lambda service, config=None: sagemaker  # type: ignore[method-assign]
    with Stubber(sagemaker) as stub:
        stub.add_client_error("describe_endpoint", service_error_code=code, service_message=message)
        with pytest.raises(AwsError) as caught:
            clients.describe_endpoint("llm-twin-endpoint")
    return caught.value


def test_a_validation_exception_is_no_such_endpoint_whatever_its_text() -> None:
    error = describe_failing("ValidationException", "reworded by a later API version")
    assert isinstance(error, EndpointNotFoundError)
    assert str(error) == "no endpoint named 'llm-twin-endpoint'"


def test_a_denied_describe_is_an_aws_error_not_a_missing_endpoint() -> None:
    error = describe_failing("AccessDeniedException", "Could not find permission to describe")
    assert type(error) is AwsError
