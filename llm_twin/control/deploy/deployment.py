"""The two-stage deployment: bootstrap as admin, then the main stack as the deployer.

This is the orchestration layer: it joins settings, rendering, the terraform runner,
boto3 and the local emulator. It never prints; progress goes to the callbacks the CLI
passes in, so tests can capture it. Which identity each step runs as is decided in
`llm_twin.control.identity`; how each stack is initialised, in `stacks`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm_twin.config.credentials import Credentials
from llm_twin.control import identity, local_target, tfvars
from llm_twin.control.aws import AwsClients, EndpointState
from llm_twin.control.cost import estimate as cost
from llm_twin.control.cost.pricing import live_hosting_price
from llm_twin.control.credentials import write_credentials
from llm_twin.control.deploy import recovery, rollouts
from llm_twin.control.deploy.rollouts import ROLLOUTS_FILE, RolloutRecord
from llm_twin.control.deploy.stacks import Notify, StackPaths, Stacks, output_values
from llm_twin.control.deploy.status import EndpointStatus, endpoint_status
from llm_twin.control.deploy.watch import ModelWatch
from llm_twin.control.identity import LOCAL_ADMIN, STATE_ONLY
from llm_twin.control.models.store import ModelStore, open_store
from llm_twin.control.tf.results import PlanResult
from llm_twin.control.tf.runner import Terraform
from llm_twin.errors import AwsError, EndpointFailedError, EndpointNotFoundError, StateError, TerraformError

__all__ = [
    "LOCAL_ADMIN",
    "STATE_ONLY",
    "ApplyResult",
    "BootstrapResult",
    "Deployment",
    "EndpointStatus",
    "Notify",
    "RolloutRecord",
    "StackPaths",
]

ACCESS_KEY_ADDRESS = "module.iam.aws_iam_access_key.deployer[0]"
ENDPOINT_WAIT_SECONDS = 3600.0


@dataclass(frozen=True)
class BootstrapResult:
    execution_role_arn: str
    deployer_arn: str
    access_key_id: str
    credentials_written: bool


@dataclass(frozen=True)
class ApplyResult:
    changed: bool
    endpoint: EndpointState | None
    outputs: dict[str, Any]


class Deployment(Stacks):
    """One target's deployment, as configured by `settings`."""

    def cost_estimate(self) -> cost.CostEstimate:
        """The worst-case estimate; live instance prices only on AWS with credentials, else the table."""
        s = self.settings
        live = None
        if s.target == "aws" and s.cost.pricing_source == "auto":
            admin = self.admin_credentials()
            live = live_hosting_price(
                lambda region: AwsClients(admin, region, None), s.region, s.variant.instance_type
            )
        return cost.estimate(s, cost.load_price_table(), live_instance_price=live)

    # -- stage 1 ---------------------------------------------------------------

    def bootstrap(self, *, rotate_key: bool = False) -> BootstrapResult:
        """Apply the admin stage; the key is rotated only when asked."""
        self.ensure_local()
        admin = self.admin_credentials()
        self.identify("bootstrap", admin)
        terraform = self._terraform("bootstrap", admin)
        plan = self._plan(
            terraform,
            self.bootstrap_paths,
            self._bootstrap_vars(),
            replace=[ACCESS_KEY_ADDRESS] if rotate_key and self.has_state(self.bootstrap_paths) else [],
        )
        if plan.changes:
            terraform.apply(plan.plan_file or self.bootstrap_paths.plan)
        outputs = output_values(terraform)
        key_id = outputs.get("deployer_access_key_id") or ""
        written = False
        if key_id and (rotate_key or not self._credentials_match(key_id)):
            write_credentials(
                self.credentials_path,
                key_id,
                outputs["deployer_secret_access_key"],
                outputs["deployer_user_arn"],
            )
            written = True
            self._say(f"wrote the deployer's key {key_id} to {self.credentials_path} (mode 0600)")
        return BootstrapResult(
            execution_role_arn=outputs["execution_role_arn"],
            deployer_arn=outputs["deployer_user_arn"],
            access_key_id=key_id,
            credentials_written=written,
        )

    def _credentials_match(self, key_id: str) -> bool:
        try:
            credentials, _ = identity.deployer_credentials(self.settings)
        except StateError:
            return False
        return credentials.access_key_id == key_id

    # -- stage 2 ---------------------------------------------------------------

    def _main(self, as_admin: bool) -> tuple[Terraform, dict[str, Any], Credentials]:
        """The main stack's runner, its variables, and the identity it runs as."""
        self.ensure_local()
        if self.settings.target == "local" and not self.bootstrapped():
            self._say("the bootstrap has not run on the local target yet: running it first")
            self.bootstrap()
        outputs = self.bootstrap_outputs()
        credentials = identity.main_stack_credentials(
            self.settings, as_admin=as_admin, identify=self.identify
        )
        return self._terraform("main", credentials), tfvars.main_vars(self.settings, outputs), credentials

    def plan(self, *, as_admin: bool = False, detailed_exitcode: bool = False) -> PlanResult:
        terraform, variables, _ = self._main(as_admin)
        return self._plan(terraform, self.main_paths, variables, detailed_exitcode=detailed_exitcode)

    def apply(self, *, as_admin: bool = False, wait: bool = True) -> ApplyResult:
        """Plan to a file, apply exactly that plan, then wait for InService; a Failed endpoint is replaced."""
        terraform, variables, credentials = self._main(as_admin)
        before = self._endpoint_before(credentials)
        replace = recovery.replaces(before, terraform.state_list)
        if before is not None and replace:
            self._say(recovery.announcement(before))
        elif before is not None and (fallback := self._fell_back_to_stand_in(before)):
            replace = recovery.replaces_stand_in(terraform.state_list)
            if replace:
                self._say(fallback)
        plan = self._plan(terraform, self.main_paths, variables, replace=replace)
        serving_before = before.config_name if before is not None and not replace and plan.changes else None
        with ModelWatch(self.settings, self._on_model if wait else None):
            return self._apply_and_wait(terraform, plan, credentials, as_admin, serving_before, wait)

    def _fell_back_to_stand_in(self, before: EndpointState) -> str | None:
        """The announcement when the local endpoint serves the stand-in only because the Hub was
        unreachable then: replacing it fetches the model now (Terraform sees nothing to change)."""
        if self.settings.target != "local" or not any(map(local_target.is_stand_in, before.resolved_images)):
            return None
        model = local_target.serving_model(self.settings, before.name)
        if model is None or model.stand_in_reason in (None, local_target.ASKED):
            return None
        return (
            f"endpoint {before.name} serves the stand-in because {model.stand_in_reason}: "
            f"replacing it to fetch {model.model_id} again (terraform -replace={recovery.ENDPOINT_ADDRESS})"
        )

    def _apply_and_wait(
        self,
        terraform: Terraform,
        plan: PlanResult,
        credentials: Credentials,
        as_admin: bool,
        serving_before: str | None,
        wait: bool,
    ) -> ApplyResult:
        if plan.changes:
            try:
                terraform.apply(plan.plan_file or self.main_paths.plan)
            except TerraformError as exc:
                self._raise_if_failed(credentials, as_admin, exc)
                raise
        else:
            self._say("no changes: the stack already matches the settings")
        outputs = output_values(terraform)
        endpoint = None
        if wait:
            clients = self.clients(credentials)
            try:
                endpoint = clients.wait_in_service(
                    self.settings.names.endpoint,
                    timeout=ENDPOINT_WAIT_SECONDS,
                    on_status=lambda state: self._say(f"endpoint {state.name}: {state.status}"),
                )
            except EndpointFailedError as exc:
                raise EndpointFailedError(f"{exc}; {recovery.remedy(as_admin)}") from exc
            desired = outputs.get("endpoint_config_name")
            rollouts.check_rollout(self.rollouts_path, serving_before, desired, endpoint)
        return ApplyResult(changed=plan.changes, endpoint=endpoint, outputs=outputs)

    def _raise_if_failed(self, credentials: Credentials, as_admin: bool, exc: TerraformError) -> None:
        """Terraform stopped because the endpoint went Failed: SageMaker's reason and the remedy instead."""
        try:
            state = self.clients(credentials).describe_endpoint(self.settings.names.endpoint)
        except AwsError:
            return
        if state.status == "Failed":
            raise recovery.failed(state, as_admin) from exc

    def destroy(self, *, as_admin: bool = False) -> bool:
        """Destroy the main stack; False when there was nothing to destroy."""
        if not self.has_state(self.main_paths):
            self._say("the main stack has no state on this target: nothing to destroy")
            return False
        terraform, variables, _ = self._main(as_admin)
        tfvars.write_tfvars(self.main_paths.tfvars, variables)
        terraform.destroy(var_file=self.main_paths.tfvars)
        return True

    def destroy_bootstrap(self) -> bool:
        """Destroy the admin stage, but never while the main stack still exists."""
        if not self.has_state(self.bootstrap_paths):
            self._say("the bootstrap has no state on this target: nothing to destroy")
            return False
        self.ensure_local()
        remaining = self.main_resources()
        if remaining:
            raise StateError(
                f"the main stack still has {len(remaining)} resources in state "
                f"({', '.join(remaining[:3])}...): run `make destroy` first"
            )
        admin = self.admin_credentials()
        self.identify("bootstrap", admin)
        terraform = self._terraform("bootstrap", admin)
        tfvars.write_tfvars(self.bootstrap_paths.tfvars, self._bootstrap_vars())
        terraform.destroy(var_file=self.bootstrap_paths.tfvars)
        self.credentials_path.unlink(missing_ok=True)
        return True

    # -- the endpoint and its bucket ---------------------------------------------

    def endpoint_state(self) -> EndpointState:
        self.ensure_local()
        credentials, _ = identity.deployer_credentials(self.settings)
        return self.clients(credentials).describe_endpoint(self.settings.names.endpoint)

    def _endpoint_before(self, credentials: Credentials) -> EndpointState | None:
        """The endpoint before an apply; None when there is none yet."""
        try:
            return self.clients(credentials).describe_endpoint(self.settings.names.endpoint)
        except EndpointNotFoundError:
            return None

    @property
    def rollouts_path(self) -> Path:
        return self.main_paths.root / ROLLOUTS_FILE

    def last_rollout(self) -> RolloutRecord | None:
        """The newest config change `apply` saw on this target, or None."""
        return rollouts.last_rollout(self.rollouts_path)

    def status(self) -> EndpointStatus:
        """The endpoint as SageMaker shows it, Terraform's config, the last rollout, and the alarms."""
        endpoint = self.endpoint_state()
        outputs = {name: output.value for name, output in self.outputs().items()}
        credentials, _ = identity.deployer_credentials(self.settings)
        return endpoint_status(endpoint, outputs, self.last_rollout(), self.clients(credentials))

    def model_store(self, *, as_admin: bool = False) -> ModelStore:
        """The artifact bucket (named by the bootstrap), as the deployer unless `as_admin`."""
        self.ensure_local()
        bucket = self.bootstrap_outputs()["artifact_bucket_name"]
        credentials = identity.store_credentials(self.settings, as_admin=as_admin)
        return open_store(self.clients(credentials), bucket, path_style=self.settings.target == "local")
