"""moto's endpoint calls routed through a `LocalRuntime`: create and delete start and stop servers.

UpdateEndpoint is answered here in full, because moto's own switches the config at once
and refuses nothing: AWS refuses an update of an endpoint that is Failed (it can only
be deleted) or still in progress, and keeps serving the old config until the new one answers.
"""

from __future__ import annotations

from moto.core.responses import ActionResult
from moto.sagemaker import models as sm_models
from moto.sagemaker import responses as sm_responses
from moto.sagemaker.exceptions import ValidationError as SageMakerValidationError

from llm_twin_local.aws import patches
from llm_twin_local.aws.registry import PATCHES
from llm_twin_local.aws.runtime.lifecycle import LocalRuntime

UPDATE_ENDPOINT = "update_endpoint"
"""The handler moto's SageMakerResponse looks up for UpdateEndpoint (by the action's name)."""


@PATCHES.once("sagemaker.runtime_hooks", by_default=False)
def install(runtime: LocalRuntime) -> None:
    """Route moto's endpoint lifecycle through `runtime` (once per process; the first runtime wins)."""
    backend_cls = sm_models.SageMakerModelBackend
    create = backend_cls.create_endpoint
    delete = backend_cls.delete_endpoint

    def create_endpoint(
        self: sm_models.SageMakerModelBackend,
        endpoint_name: str,
        endpoint_config_name: str,
        tags: list[dict[str, str]],
    ) -> sm_models.FakeEndpoint:
        endpoint = create(self, endpoint_name, endpoint_config_name, tags)
        runtime.create(self, endpoint)
        return endpoint

    def delete_endpoint(self: sm_models.SageMakerModelBackend, endpoint_name: str) -> None:
        endpoint = self.endpoints.get(endpoint_name)
        delete(self, endpoint_name)
        if endpoint is not None:
            runtime.delete(endpoint.arn)

    def update_endpoint(self: sm_responses.SageMakerResponse) -> ActionResult:
        backend = self.sagemaker_backend
        name = self._get_param("EndpointName")
        config_name = self._get_param("EndpointConfigName")
        endpoint = backend.endpoints.get(name)
        if endpoint is None:
            arn = sm_models.FakeEndpoint.arn_formatter(name, backend.account_id, backend.region_name)
            raise SageMakerValidationError(message=f"Could not find endpoint '{arn}'.")
        backend.describe_endpoint_config(config_name)  # raises AWS's error for an unknown config
        if endpoint.endpoint_status == "Failed":
            # AWS: "DeleteEndpoint is the only operation that can be performed on a failed
            # endpoint" (botocore's EndpointStatus); `llm-twin apply` replaces one instead.
            raise SageMakerValidationError(
                message=f"Cannot update endpoint '{endpoint.arn}' in status Failed: it can only be deleted."
            )
        if endpoint.endpoint_status != "InService":
            raise SageMakerValidationError(
                message=f"Cannot update in-progress endpoint '{endpoint.arn}' (status {endpoint.endpoint_status})."
            )
        patches.record_deployment_config(endpoint, self._get_param("DeploymentConfig"))
        runtime.update(backend, endpoint, config_name)
        return ActionResult({"EndpointArn": endpoint.arn})

    backend_cls.create_endpoint = create_endpoint
    backend_cls.delete_endpoint = delete_endpoint
    # An action moto's SageMakerResponse does not have: added by name.
    setattr(sm_responses.SageMakerResponse, UPDATE_ENDPOINT, update_endpoint)
