"""The two-stage deployment: bootstrap as admin, then the main stack as the deployer.

This is the orchestration layer: it joins settings, rendering, the terraform runner,
boto3 and the local emulator. It never prints; progress goes to the callbacks the CLI
passes in, so tests can capture it.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from llm_twin.config import Settings
from llm_twin.control import tfvars
from llm_twin.control.aws import AlarmState, AwsClients, Credentials, EndpointState, Identity
from llm_twin.control.cost import estimate as cost
from llm_twin.control.cost.pricing import live_hosting_price
from llm_twin.control.credentials import read_credentials, write_credentials
from llm_twin.control.deploy import recovery
from llm_twin.control.state import backend as state_backend
from llm_twin.control.state.bucket import StateBucketResult, ensure_state_bucket, state_bucket_exists
from llm_twin.control.tf.events import ProgressEvent
from llm_twin.control.tf.runner import OutputValue, PlanResult, Terraform, TerraformConfig
from llm_twin.errors import (
    AwsError,
    BootstrapRequiredError,
    EndpointFailedError,
    EndpointNotFoundError,
    RolloutRolledBackError,
    SettingsError,
    StateError,
    TerraformError,
)
from llm_twin_local.aws.daemon import LocalAws

# The emulator accepts any key; these name the admin identity on the local target.
LOCAL_ADMIN = Credentials(access_key_id="test", secret_access_key="test")
# Reading local state, outputs and validating need no AWS identity.
STATE_ONLY = Credentials()
ACCESS_KEY_ADDRESS = "module.iam.aws_iam_access_key.deployer[0]"
ENDPOINT_WAIT_SECONDS = 3600.0
ROLLOUTS_FILE = "rollouts.jsonl"
"""Config changes `apply` observed, next to the main stack's files: SageMaker keeps no history."""


@dataclass(frozen=True)
class StackPaths:
    """Where one stack keeps its files for one target."""

    root: Path

    @property
    def state(self) -> Path:
        return self.root / "terraform.tfstate"

    @property
    def tfvars(self) -> Path:
        return self.root / "terraform.tfvars.json"

    @property
    def plan(self) -> Path:
        return self.root / "tfplan"

    @property
    def data_dir(self) -> Path:
        return self.root / ".terraform"

    def make_private(self) -> None:
        """Owner-only stack files: state and plans carry every secret the stack knows.

        The runner's umask covers what terraform creates from now on; this fixes files an
        earlier version left 0644, since terraform keeps a file's mode when it rewrites it.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        for path in (self.state, self.state.with_name(self.state.name + ".backup"), self.plan, self.tfvars):
            if path.is_file():
                path.chmod(0o600)

    @property
    def backend_file(self) -> Path:
        return self.root / "backend.s3.tfbackend"


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


@dataclass(frozen=True)
class RolloutRecord:
    """One endpoint-config change an apply made, as it was observed."""

    previous_config: str
    """What served before the apply."""
    target_config: str
    """What Terraform built and asked SageMaker to switch to."""
    serving_config: str
    """What served once the endpoint was InService again."""
    outcome: str
    """completed, or rolled back (SageMaker went back to previous_config)."""
    at: str
    failure_reason: str | None = None


@dataclass(frozen=True)
class EndpointStatus:
    """What `llm-twin status` shows."""

    endpoint: EndpointState
    desired_config: str | None
    """Terraform's endpoint config; differs from endpoint.config_name after a rollback."""
    previous_config: str | None
    """The config that served before the last change `apply` made (SageMaker keeps no history)."""
    last_rollout: RolloutRecord | None
    alarms: tuple[AlarmState, ...]


Notify = Callable[[str], None]


class Deployment:
    """One target's deployment, as configured by `settings`."""

    def __init__(
        self,
        settings: Settings,
        *,
        on_event: Callable[[ProgressEvent], None] | None = None,
        on_message: Notify | None = None,
    ) -> None:
        self.settings = settings
        self._on_event = on_event
        self._say = on_message or (lambda _message: None)
        self.bootstrap_paths = StackPaths(settings.target_dir() / "bootstrap")
        self.main_paths = StackPaths(settings.target_dir() / "main")
        self._state_bucket: str | None = None

    # -- identities ------------------------------------------------------------

    @property
    def credentials_path(self) -> Path:
        if self.settings.target == "local":
            return self.settings.target_dir() / self.settings.state.credentials_file.name
        return self.settings.state.credentials_file

    def admin_credentials(self) -> Credentials:
        s = self.settings
        if s.target == "local":
            return LOCAL_ADMIN
        return Credentials(
            access_key_id=s.admin.access_key_id.value,
            secret_access_key=s.admin.secret_access_key.value,
            session_token=s.admin.session_token.value,
            profile=s.admin.profile,
        )

    def clients(self, credentials: Credentials) -> AwsClients:
        return AwsClients(credentials, self.settings.region, self.settings.endpoint_url)

    def identify(self, stage: str, credentials: Credentials) -> Identity:
        identity = self.clients(credentials).identity()
        self._say(f"{stage} runs as {identity.arn} (account {identity.account})")
        return identity

    # -- local emulator --------------------------------------------------------

    def ensure_local(self) -> None:
        """Start the embedded AWS on the local target; a fresh one forgets old local state."""
        if self.settings.target != "local":
            return
        s = self.settings
        status = LocalAws(s.state.dir, s.local.port, enforce_iam=s.local.enforce_iam).up()
        if status.reaped:
            pids = ", ".join(map(str, status.reaped))
            self._say(
                f"stopped {len(status.reaped)} model server(s) an earlier local AWS left running (pid {pids})"
            )
        if status.started_now:
            self._say(f"started the embedded local AWS on {status.url} (log: {status.log_path})")
            stale = [p for p in (self.bootstrap_paths.root, self.main_paths.root) if p.exists()]
            if stale:
                self._say("the emulator starts empty: cleared local state left from its previous run")
                for path in stale:
                    shutil.rmtree(path)
                self.credentials_path.unlink(missing_ok=True)

    # -- terraform plumbing ----------------------------------------------------

    def _terraform(self, stack: str, credentials: Credentials) -> Terraform:
        s = self.settings
        paths = self.bootstrap_paths if stack == "bootstrap" else self.main_paths
        env = {"AWS_REGION": s.region, **credentials.as_env(), **tfvars.secret_env(s)}
        if s.endpoint_url:
            env["AWS_ENDPOINT_URL"] = s.endpoint_url
        working_dir = (
            s.tooling.terraform_dir / "bootstrap" if stack == "bootstrap" else s.tooling.terraform_dir
        )
        data_dir = paths.data_dir
        backend: dict[str, str] | Path = {"path": str(paths.state.resolve())}
        if s.state.backend == "s3":
            if not (credentials.access_key_id or credentials.profile):
                credentials = self.admin_credentials()  # reading remote state needs an identity
                env.update(credentials.as_env())
            working_dir, backend = self._stage_s3(stack, paths)
            data_dir = paths.root / ".terraform-s3"  # never mixed with a local backend's data dir
        config = TerraformConfig(
            binary=s.tooling.terraform_binary,
            working_dir=working_dir,
            data_dir=data_dir,
            plugin_dir=s.tooling.plugin_dir,
            plugin_cache_dir=s.plugin_cache_dir,
            env=env,
        )
        terraform = Terraform(config, on_event=self._on_event)
        paths.make_private()
        terraform.init(backend_config=backend)
        return terraform

    # -- remote state ----------------------------------------------------------

    def state_bucket(self) -> str:
        """The S3 state bucket's name (asks STS for the account when STATE_BUCKET is empty)."""
        if self.settings.state.bucket:
            return self.settings.state.bucket
        if self._state_bucket is None:
            account = self.clients(self.admin_credentials()).identity().account
            self._state_bucket = state_backend.state_bucket_name(self.settings, account)
        return self._state_bucket

    def bootstrap_state(self) -> StateBucketResult:
        """Create or converge the state bucket (idempotent), then write each stack's backend file."""
        self.ensure_local()
        admin = self.admin_credentials()
        self.identify("bootstrap-state", admin)
        s3 = self.clients(admin).client("s3")
        result = ensure_state_bucket(
            s3, self.state_bucket(), self.settings.region, tfvars.tags(self.settings)
        )
        for stack, paths in (("bootstrap", self.bootstrap_paths), ("main", self.main_paths)):
            self.write_backend_file(stack, paths)
        return result

    def write_backend_file(self, stack: str, paths: StackPaths) -> Path:
        config = state_backend.backend_config(self.settings, stack, self.state_bucket())
        paths.root.mkdir(parents=True, exist_ok=True)
        paths.backend_file.write_text(state_backend.render_tfbackend(config))
        return paths.backend_file

    def _stage_s3(self, stack: str, paths: StackPaths) -> tuple[Path, Path]:
        """The staged root with the S3 override, and its backend file; see `state_backend`."""
        bucket = self.state_bucket()
        if not state_bucket_exists(self.clients(self.admin_credentials()).client("s3"), bucket):
            raise StateError(
                f"STATE_BACKEND=s3 but the state bucket {bucket} does not exist: run `llm-twin bootstrap-state` first"
            )
        root = state_backend.stage_stack(self.settings.tooling.terraform_dir, stack, paths.root / "source")
        return root, self.write_backend_file(stack, paths)

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

    def has_state(self, paths: StackPaths) -> bool:
        """True once the stack has state: a local file, or the object in the state bucket."""
        if self.settings.state.backend != "s3":
            return paths.state.is_file()
        stack = "bootstrap" if paths == self.bootstrap_paths else "main"
        s3 = self.clients(self.admin_credentials()).client("s3")
        try:
            s3.head_object(Bucket=self.state_bucket(), Key=state_backend.state_key(self.settings, stack))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise StateError(
                f"reading the {stack} stack's state in {self.state_bucket()} failed: {exc}"
            ) from exc
        return True

    def _plan(
        self, terraform: Terraform, paths: StackPaths, variables: dict[str, Any], **options: Any
    ) -> PlanResult:
        tfvars.write_tfvars(paths.tfvars, variables)
        try:
            return terraform.plan(var_file=paths.tfvars, out=paths.plan, **options)
        except TerraformError as exc:
            # Terraform's own variable validation is a usage error, like ours: exit 2.
            if "Invalid value for variable" in str(exc) or "Invalid value for input variable" in str(exc):
                raise SettingsError(f"terraform rejected a setting: {exc}") from exc
            raise

    def _bootstrap_vars(self) -> dict[str, Any]:
        """The bootstrap's variables, with the one state object the deployer may use (S3 backend)."""
        bucket = self.state_bucket() if self.settings.state.backend == "s3" else ""
        return {
            **tfvars.bootstrap_vars(self.settings),
            "main_state": state_backend.main_state(self.settings, bucket),
        }

    def bootstrapped(self) -> bool:
        return self.has_state(self.bootstrap_paths) and self.credentials_path.is_file()

    def bootstrap_outputs(self) -> dict[str, Any]:
        """The bootstrap's outputs the main stack needs; BootstrapRequiredError before it ran."""
        if not self.has_state(self.bootstrap_paths):
            raise BootstrapRequiredError(
                "the main stack needs the bootstrap's outputs: run `make bootstrap` (llm-twin bootstrap) first"
            )
        terraform = self._terraform("bootstrap", STATE_ONLY)
        outputs = _output_values(terraform)
        if "execution_role_arn" not in outputs:
            raise BootstrapRequiredError("the bootstrap state holds no outputs: run `make bootstrap` again")
        return outputs

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
        outputs = _output_values(terraform)
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
            credentials, _ = read_credentials(self.credentials_path)
        except StateError:
            return False
        return credentials.access_key_id == key_id

    # -- stage 2 ---------------------------------------------------------------

    def _deployer(self, as_admin: bool) -> Credentials:
        """The identity for the main stack; refuses admin keys unless explicitly allowed."""
        if as_admin:
            admin = self.admin_credentials()
            self.identify("main stack (--as-admin)", admin)
            return admin
        credentials, deployer_arn = read_credentials(self.credentials_path)
        identity = self.identify("main stack", credentials)
        if deployer_arn and identity.arn != deployer_arn:
            raise StateError(
                f"the main stack must run as the deployer {deployer_arn}, but the credentials in "
                f"{self.credentials_path} are {identity.arn}; run `llm-twin bootstrap --rotate-key`, "
                "or pass --as-admin if you mean it"
            )
        return credentials

    def _main(self, as_admin: bool) -> tuple[Terraform, dict[str, Any], Credentials]:
        """The main stack's runner, its variables, and the identity it runs as."""
        self.ensure_local()
        if self.settings.target == "local" and not self.bootstrapped():
            self._say("the bootstrap has not run on the local target yet: running it first")
            self.bootstrap()
        outputs = self.bootstrap_outputs()
        credentials = self._deployer(as_admin)
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
        plan = self._plan(terraform, self.main_paths, variables, replace=replace)
        serving_before = before.config_name if before is not None and not replace and plan.changes else None
        if plan.changes:
            try:
                terraform.apply(plan.plan_file or self.main_paths.plan)
            except TerraformError as exc:
                self._raise_if_failed(credentials, as_admin, exc)
                raise
        else:
            self._say("no changes: the stack already matches the settings")
        outputs = _output_values(terraform)
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
            self._check_rollout(serving_before, outputs, endpoint)
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

    def main_resources(self) -> list[str]:
        """Addresses still in the main stack's state (empty when it has none)."""
        if not self.has_state(self.main_paths):
            return []
        terraform = self._terraform("main", STATE_ONLY)
        return [a for a in terraform.state_list() if not (a.startswith("data.") or ".data." in a)]

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

    def outputs(self) -> dict[str, OutputValue]:
        if not self.has_state(self.main_paths):
            return {}
        return self._terraform("main", STATE_ONLY).output()

    def endpoint_state(self) -> EndpointState:
        self.ensure_local()
        credentials, _ = read_credentials(self.credentials_path)
        return self.clients(credentials).describe_endpoint(self.settings.names.endpoint)

    # -- rollouts and status ---------------------------------------------------

    @property
    def rollouts_path(self) -> Path:
        return self.main_paths.root / ROLLOUTS_FILE

    def _endpoint_before(self, credentials: Credentials) -> EndpointState | None:
        """The endpoint before an apply; None when there is none yet."""
        try:
            return self.clients(credentials).describe_endpoint(self.settings.names.endpoint)
        except EndpointNotFoundError:
            return None

    def _check_rollout(
        self, serving_before: str | None, outputs: dict[str, Any], endpoint: EndpointState
    ) -> None:
        """Record a config change, and fail when SageMaker rolled it back.

        A rolled-back update ends InService on the old config, so Terraform's waiter sees
        success; only comparing what serves with what Terraform built tells the two apart.
        """
        desired = outputs.get("endpoint_config_name")
        if serving_before is None or desired is None or serving_before == desired:
            return
        rolled_back = endpoint.config_name != desired
        record = RolloutRecord(
            previous_config=serving_before,
            target_config=desired,
            serving_config=endpoint.config_name,
            outcome="rolled back" if rolled_back else "completed",
            at=datetime.now(UTC).isoformat(timespec="seconds"),
            failure_reason=endpoint.failure_reason,
        )
        self.rollouts_path.parent.mkdir(parents=True, exist_ok=True)
        # 0600 like the state beside it: config names are not secret, but the directory is private.
        descriptor = os.open(self.rollouts_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(descriptor, "a") as handle:
            handle.write(json.dumps(asdict(record), sort_keys=True) + "\n")
        if rolled_back:
            raise RolloutRolledBackError(
                f"the update of {endpoint.name} to {desired} was rolled back and it still serves "
                f"{endpoint.config_name}: {endpoint.failure_reason or 'no reason given'}; "
                "fix the model and apply again"
            )

    def last_rollout(self) -> RolloutRecord | None:
        """The newest config change `apply` saw on this target, or None."""
        if not self.rollouts_path.is_file():
            return None
        lines = [line for line in self.rollouts_path.read_text().splitlines() if line.strip()]
        return RolloutRecord(**json.loads(lines[-1])) if lines else None

    def status(self) -> EndpointStatus:
        """The endpoint as SageMaker shows it, Terraform's config, the last rollout, and the alarms."""
        endpoint = self.endpoint_state()
        outputs = {name: output.value for name, output in self.outputs().items()}
        credentials, _ = read_credentials(self.credentials_path)
        alarm_names = list(outputs.get("alarm_names") or endpoint.rollback_alarms)
        last = self.last_rollout()
        return EndpointStatus(
            endpoint=endpoint,
            desired_config=outputs.get("endpoint_config_name"),
            previous_config=last.previous_config if last is not None else None,
            last_rollout=last,
            alarms=tuple(self.clients(credentials).describe_alarms(alarm_names)),
        )

    def validate(self) -> list[tuple[str, Any]]:
        """`terraform validate` of both stacks (init without credentials or backend access)."""
        results = []
        for stack in ("bootstrap", "main"):
            results.append((stack, self._terraform(stack, STATE_ONLY).validate()))
        return results


def _output_values(terraform: Terraform) -> dict[str, Any]:
    """`terraform output` reduced to plain values (sensitive ones included, never printed)."""
    return {name: output.value for name, output in terraform.output().items()}
