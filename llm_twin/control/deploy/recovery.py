"""An endpoint that SageMaker marked Failed: `apply` replaces it, or names the one command that does.

A Failed endpoint accepts only DeleteEndpoint (botocore's EndpointStatus documentation:
"DeleteEndpoint is the only operation that can be performed on a failed endpoint"). So
Terraform cannot bring one back by itself: its refresh sees the same name and config and
plans nothing (the model server that died is not in any attribute), and an UpdateEndpoint
for a changed config would be refused. Replacing the resource (delete, then create from
the current config) is the one way back, on AWS as on the local target.
"""

from __future__ import annotations

from collections.abc import Callable

from llm_twin.control.aws import EndpointState
from llm_twin.errors import EndpointFailedError

ENDPOINT_ADDRESS = "module.sagemaker_endpoint.aws_sagemaker_endpoint.this"


def replaces(before: EndpointState | None, state_list: Callable[[], list[str]]) -> list[str]:
    """The addresses an apply must replace: the endpoint when it is Failed and the stack's own.

    `state_list` (a terraform run) is called only for a Failed endpoint; one of the same
    name that Terraform does not manage is left alone, and its create fails as it should.
    """
    if before is None or before.status != "Failed" or ENDPOINT_ADDRESS not in state_list():
        return []
    return [ENDPOINT_ADDRESS]


def replaces_stand_in(state_list: Callable[[], list[str]]) -> list[str]:
    """The endpoint's address when the stack manages it: a local endpoint that fell back to the
    stand-in (the Hub was unreachable) is replaced so its model is fetched again."""
    return [ENDPOINT_ADDRESS] if ENDPOINT_ADDRESS in state_list() else []


def announcement(before: EndpointState) -> str:
    """The one line `apply` says when it replaces a Failed endpoint."""
    return (
        f"endpoint {before.name} is Failed ({before.failure_reason or 'no reason given'}): "
        f"replacing it (terraform -replace={ENDPOINT_ADDRESS})"
    )


def remedy(as_admin: bool) -> str:
    """The exact command that replaces a Failed endpoint, as the user would type it."""
    command = "llm-twin apply --as-admin" if as_admin else "llm-twin apply"
    return f"once its cause is fixed, `{command}` replaces it (terraform apply -replace={ENDPOINT_ADDRESS})"


def failed(state: EndpointState, as_admin: bool) -> EndpointFailedError:
    """The error for an apply that ended with the endpoint Failed: SageMaker's reason, then the remedy."""
    return EndpointFailedError(
        f"endpoint {state.name!r} failed: {state.failure_reason or 'no reason given'}; {remedy(as_admin)}"
    )
