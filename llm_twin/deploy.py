"""The two-stage deployment: bootstrap as admin, then the main stack as the deployer.

This is the orchestration layer: it joins settings, rendering, the terraform runner,
boto3 and the local emulator. It never prints; progress goes to the callbacks the CLI
passes in, so tests can capture it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm_twin import render
from llm_twin.aws import AwsClients, Credentials, EndpointState, Identity
from llm_twin.credentials import read_credentials, write_credentials
from llm_twin.errors import BootstrapRequiredError, SettingsError, StateError, TerraformError
from llm_twin.local.daemon import LocalAws
from llm_twin.progress import ProgressEvent
from llm_twin.settings import Settings
from llm_twin.terraform import OutputValue, PlanResult, Terraform, TerraformConfig

# The emulator accepts any key; these name the admin identity on the local target.
LOCAL_ADMIN = Credentials(access_key_id="test", secret_access_key="test")
# Reading local state, outputs and validating need no AWS identity.
STATE_ONLY = Credentials()
ACCESS_KEY_ADDRESS = "module.iam.aws_iam_access_key.deployer[0]"
ENDPOINT_WAIT_SECONDS = 3600.0


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

    # -- identities ------------------------------------------------------------

    @property
    def credentials_path(self) -> Path:
        if self.settings.target == "local":
            return self.settings.target_dir() / self.settings.credentials_file.name
        return self.settings.credentials_file

    def admin_credentials(self) -> Credentials:
        s = self.settings
        if s.target == "local":
            return LOCAL_ADMIN
        return Credentials(
            access_key_id=s.aws_access_key_id.value,
            secret_access_key=s.aws_secret_access_key.value,
            session_token=s.aws_session_token.value,
            profile=s.aws_profile,
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
        status = LocalAws(s.state_dir, s.local_port, enforce_iam=s.local_enforce_iam).up()
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
        env = {"AWS_REGION": s.region, **credentials.as_env(), **render.secret_env(s)}
        if s.endpoint_url:
            env["AWS_ENDPOINT_URL"] = s.endpoint_url
        working_dir = s.terraform_dir / "bootstrap" if stack == "bootstrap" else s.terraform_dir
        config = TerraformConfig(
            binary=s.terraform_binary,
            working_dir=working_dir,
            data_dir=paths.data_dir,
            plugin_dir=s.tf_plugin_dir,
            plugin_cache_dir=s.plugin_cache_dir,
            env=env,
        )
        terraform = Terraform(config, on_event=self._on_event)
        paths.root.mkdir(parents=True, exist_ok=True)
        terraform.init(backend_config={"path": str(paths.state.resolve())})
        return terraform

    def _plan(
        self, terraform: Terraform, paths: StackPaths, variables: dict[str, Any], **options: Any
    ) -> PlanResult:
        render.write_tfvars(paths.tfvars, variables)
        try:
            return terraform.plan(var_file=paths.tfvars, out=paths.plan, **options)
        except TerraformError as exc:
            # Terraform's own variable validation is a usage error, like ours: exit 2.
            if "Invalid value for variable" in str(exc) or "Invalid value for input variable" in str(exc):
                raise SettingsError(f"terraform rejected a setting: {exc}") from exc
            raise

    def bootstrapped(self) -> bool:
        return self.bootstrap_paths.state.is_file() and self.credentials_path.is_file()

    def bootstrap_outputs(self) -> dict[str, Any]:
        """The bootstrap's outputs the main stack needs; BootstrapRequiredError before it ran."""
        if not self.bootstrap_paths.state.is_file():
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
            render.bootstrap_vars(self.settings),
            replace=[ACCESS_KEY_ADDRESS] if rotate_key and self.bootstrap_paths.state.is_file() else [],
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
        return self._terraform("main", credentials), render.main_vars(self.settings, outputs), credentials

    def plan(self, *, as_admin: bool = False, detailed_exitcode: bool = False) -> PlanResult:
        terraform, variables, _ = self._main(as_admin)
        return self._plan(terraform, self.main_paths, variables, detailed_exitcode=detailed_exitcode)

    def apply(self, *, as_admin: bool = False, wait: bool = True) -> ApplyResult:
        """Plan to a file, apply exactly that plan, then wait for InService."""
        terraform, variables, credentials = self._main(as_admin)
        plan = self._plan(terraform, self.main_paths, variables)
        if plan.changes:
            terraform.apply(plan.plan_file or self.main_paths.plan)
        else:
            self._say("no changes: the stack already matches the settings")
        outputs = _output_values(terraform)
        endpoint = None
        if wait:
            clients = self.clients(credentials)
            endpoint = clients.wait_in_service(
                self.settings.endpoint,
                timeout=ENDPOINT_WAIT_SECONDS,
                on_status=lambda state: self._say(f"endpoint {state.name}: {state.status}"),
            )
        return ApplyResult(changed=plan.changes, endpoint=endpoint, outputs=outputs)

    def destroy(self, *, as_admin: bool = False) -> bool:
        """Destroy the main stack; False when there was nothing to destroy."""
        if not self.main_paths.state.is_file():
            self._say("the main stack has no state on this target: nothing to destroy")
            return False
        terraform, variables, _ = self._main(as_admin)
        render.write_tfvars(self.main_paths.tfvars, variables)
        terraform.destroy(var_file=self.main_paths.tfvars)
        return True

    def main_resources(self) -> list[str]:
        """Addresses still in the main stack's state (empty when it has none)."""
        if not self.main_paths.state.is_file():
            return []
        terraform = self._terraform("main", STATE_ONLY)
        return [a for a in terraform.state_list() if not (a.startswith("data.") or ".data." in a)]

    def destroy_bootstrap(self) -> bool:
        """Destroy the admin stage, but never while the main stack still exists."""
        if not self.bootstrap_paths.state.is_file():
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
        render.write_tfvars(self.bootstrap_paths.tfvars, render.bootstrap_vars(self.settings))
        terraform.destroy(var_file=self.bootstrap_paths.tfvars)
        self.credentials_path.unlink(missing_ok=True)
        return True

    def outputs(self) -> dict[str, OutputValue]:
        if not self.main_paths.state.is_file():
            return {}
        return self._terraform("main", STATE_ONLY).output()

    def endpoint_state(self) -> EndpointState:
        self.ensure_local()
        credentials, _ = read_credentials(self.credentials_path)
        return self.clients(credentials).describe_endpoint(self.settings.endpoint)

    def validate(self) -> list[tuple[str, Any]]:
        """`terraform validate` of both stacks (init without credentials or backend access)."""
        results = []
        for stack in ("bootstrap", "main"):
            results.append((stack, self._terraform(stack, STATE_ONLY).validate()))
        return results


def _output_values(terraform: Terraform) -> dict[str, Any]:
    """`terraform output` reduced to plain values (sensitive ones included, never printed)."""
    return {name: output.value for name, output in terraform.output().items()}
