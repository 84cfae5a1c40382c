"""One target's two Terraform stacks: where their files are, how each is initialised, and its state.

The bootstrap (admin) and the main stack (deployer) each keep state, tfvars and plans
under `<state dir>/<target>/<stack>/`, on a local backend or in the S3 state bucket.
`Stacks` builds a ready `Terraform` runner for either, and answers what their state
holds; `Deployment` (deployment.py) orchestrates the two stages on top of it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from llm_twin.config import Settings
from llm_twin.config.credentials import Credentials
from llm_twin.control import identity, local_target, tfvars
from llm_twin.control.aws import AwsClients, Identity
from llm_twin.control.deploy.watch import OnModel
from llm_twin.control.state import backend as state_backend
from llm_twin.control.state.bucket import StateBucketResult, ensure_state_bucket, state_bucket_exists
from llm_twin.control.tf.failures import rejects_a_variable
from llm_twin.control.tf.messages import ProgressEvent
from llm_twin.control.tf.results import OutputValue, PlanResult, ValidateResult
from llm_twin.control.tf.runner import Terraform, TerraformConfig
from llm_twin.errors import BootstrapRequiredError, SettingsError, StateError, TerraformError

Notify = Callable[[str], None]


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


class Stacks:
    """The bootstrap and main stacks of the target `settings` name."""

    def __init__(
        self,
        settings: Settings,
        *,
        on_event: Callable[[ProgressEvent], None] | None = None,
        on_message: Notify | None = None,
        on_model: OnModel | None = None,
    ) -> None:
        self.settings = settings
        self._on_event = on_event
        self._say = on_message or (lambda _message: None)
        self._on_model = on_model
        """Told what the local endpoint's model is doing while `apply` waits (a download's bytes)."""
        self.bootstrap_paths = StackPaths(settings.target_dir() / "bootstrap")
        self.main_paths = StackPaths(settings.target_dir() / "main")
        self._state_bucket: str | None = None

    # -- identities (chosen in llm_twin.control.identity) ------------------------

    @property
    def credentials_path(self) -> Path:
        return identity.credentials_path(self.settings)

    def admin_credentials(self) -> Credentials:
        return identity.admin_credentials(self.settings)

    def clients(self, credentials: Credentials) -> AwsClients:
        return AwsClients(credentials, self.settings.region, self.settings.endpoint_url)

    def identify(self, stage: str, credentials: Credentials) -> Identity:
        found = self.clients(credentials).identity()
        self._say(f"{stage} runs as {found.arn} (account {found.account})")
        return found

    # -- local emulator --------------------------------------------------------

    def ensure_local(self) -> None:
        """Start the embedded AWS on the local target; a fresh one forgets old local state."""
        if self.settings.target != "local":
            return
        status = local_target.ensure_running(self.settings)
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

    def _plan(
        self, terraform: Terraform, paths: StackPaths, variables: dict[str, Any], **options: Any
    ) -> PlanResult:
        tfvars.write_tfvars(paths.tfvars, variables)
        try:
            return terraform.plan(var_file=paths.tfvars, out=paths.plan, **options)
        except TerraformError as exc:
            # Terraform's own variable validation is a usage error, like ours: exit 2.
            if rejects_a_variable(exc):
                raise SettingsError(f"terraform rejected a setting: {exc}") from exc
            raise

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

    # -- what the stacks hold ----------------------------------------------------

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
        terraform = self._terraform("bootstrap", identity.STATE_ONLY)
        outputs = output_values(terraform)
        if "execution_role_arn" not in outputs:
            raise BootstrapRequiredError("the bootstrap state holds no outputs: run `make bootstrap` again")
        return outputs

    def main_resources(self) -> list[str]:
        """Addresses still in the main stack's state (empty when it has none)."""
        if not self.has_state(self.main_paths):
            return []
        terraform = self._terraform("main", identity.STATE_ONLY)
        return [a for a in terraform.state_list() if not (a.startswith("data.") or ".data." in a)]

    def outputs(self) -> dict[str, OutputValue]:
        if not self.has_state(self.main_paths):
            return {}
        return self._terraform("main", identity.STATE_ONLY).output()

    def validate(self) -> list[tuple[str, ValidateResult]]:
        """`terraform validate` of both stacks (init without credentials or backend access)."""
        results = []
        for stack in ("bootstrap", "main"):
            results.append((stack, self._terraform(stack, identity.STATE_ONLY).validate()))
        return results


def output_values(terraform: Terraform) -> dict[str, Any]:
    """`terraform output` reduced to plain values (sensitive ones included, never printed)."""
    return {name: output.value for name, output in terraform.output().items()}
