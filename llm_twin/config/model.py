"""The validated settings, grouped the way Terraform's variables and the commands use them.

Each group is a frozen dataclass, so a value cannot change after validation, and the
renderer hands a group to the Terraform object of the same meaning instead of picking
fields out of one flat list. `llm_twin.config.spec` says which environment variable
fills which field; `llm_twin.config.loader` fills and checks them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from llm_twin.protocol.backends import Backend

Target = Literal["local", "aws"]
TERRAFORM_DIR = Path(__file__).resolve().parents[2] / "terraform"
"""The Terraform code beside the package (main stack; bootstrap/ beneath it)."""


@dataclass(frozen=True)
class Secret:
    """A value that must never be printed: its repr and str are masked."""

    value: str = field(repr=False)

    def __repr__(self) -> str:
        return "Secret('****')" if self.value else "Secret('')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self.value)


@dataclass(frozen=True)
class AdminAccess:
    """The admin identity of the bootstrap stage on TARGET=aws (keys, or a named profile)."""

    access_key_id: Secret = Secret("")
    secret_access_key: Secret = Secret("")
    session_token: Secret = Secret("")
    """Only for temporary credentials."""
    profile: str = ""


@dataclass(frozen=True)
class Names:
    """Every resource name starts with `prefix`; the deployer may touch nothing else."""

    prefix: str = "llm-twin"
    endpoint_name: str = ""
    """SAGEMAKER_ENDPOINT_NAME as given; empty means <prefix>-endpoint (see `endpoint`)."""

    @property
    def endpoint(self) -> str:
        return self.endpoint_name or f"{self.prefix}-endpoint"


DEFAULT_VLLM_VERSION = "0.29.0"
"""The newest `huggingface-vllm` in sagemaker-core's catalogue (a test holds it to that)."""


@dataclass(frozen=True)
class ModelSettings:
    """What the container serves, which container serves it, and how that container is told."""

    backend: Backend = "tgi"
    """SERVING_BACKEND: tgi (the book's TGI DLC) or vllm (the Hugging Face vLLM DLC)."""
    hf_model_id: str = "mlabonne/TwinLlama-3.1-8B-DPO"
    """Hub repo id, or a path inside the container such as /opt/ml/model."""
    hf_token: Secret = Secret("")
    """Token for gated models; reaches Terraform only as TF_VAR_hf_token."""
    tgi_version: str = "3.3.6"
    """TGI release, resolved to the full DLC tag through the SDK's catalogue."""
    image_uri: str = ""
    """Explicit image URI; overrides tgi_version."""
    quantize: str = ""
    messages_api_enabled: bool = False
    data_s3_uri: str = ""
    """s3://bucket/prefix/ of uncompressed safetensors weights, or empty."""
    revision: str = ""
    """HF_MODEL_REVISION: the Hub branch, tag or 40-hex commit both targets serve; empty is main."""
    vllm_version: str = DEFAULT_VLLM_VERSION
    """vLLM release of the huggingface-vllm DLC, resolved to its full tag through the catalogue."""
    vllm_image_uri: str = ""
    """Explicit vLLM image URI; overrides vllm_version."""


@dataclass(frozen=True)
class Variant:
    """The production variant: its instances and its start-up timeouts (which belong on it)."""

    instance_type: str = "ml.g5.2xlarge"
    instance_count: int = 1
    num_gpus: int | None = None
    """SM_NUM_GPUS; None derives it from the instance type's GPU count (llm_twin.protocol.gpus)."""
    health_check_timeout: int = 900
    """container_startup_health_check_timeout_in_seconds."""
    download_timeout: int = 1200
    """model_data_download_timeout_in_seconds."""


@dataclass(frozen=True)
class TokenLimits:
    """TGI's launcher limits (the rules between them live in `llm_twin.config.tokens`); vLLM reads
    max_total_tokens alone, as its max model length."""

    max_input_tokens: int = 2048
    max_total_tokens: int = 4096
    max_batch_total_tokens: int = 8192
    max_batch_prefill_tokens: int = 2048


@dataclass(frozen=True)
class VllmEngine:
    """vLLM's own engine knobs; its max model length is TokenLimits.max_total_tokens."""

    gpu_memory_utilization: float = 0.9
    """The share of each GPU's memory vLLM may take for weights, activations and KV cache."""
    max_num_seqs: int = 256
    """Sequences batched at most; caps concurrency, not the memory check (one request must fit)."""


@dataclass(frozen=True)
class Autoscaling:
    """Target tracking on invocations per instance; when on, it owns the instance count."""

    enabled: bool = False
    min_capacity: int = 1
    max_capacity: int = 2
    target_invocations: float = 5.0
    scale_in_cooldown: int = 600
    scale_out_cooldown: int = 300


@dataclass(frozen=True)
class ScheduledScaling:
    """Hold the variant at the autoscaling minimum outside working hours."""

    enabled: bool = False
    scale_in_cron: str = "cron(0 19 ? * MON-FRI *)"
    scale_out_cron: str = "cron(0 7 ? * MON-FRI *)"
    timezone: str = "UTC"


@dataclass(frozen=True)
class Rollout:
    """How an update reaches the endpoint: none (SageMaker's default) or blue/green."""

    mode: str = "all_at_once"
    canary_percent: int = 10
    linear_step_percent: int = 25
    wait_seconds: int = 300
    """Baking time between traffic steps, watched by the rollback alarms."""
    termination_wait_seconds: int = 0
    """How long the old fleet stays after the shift, for a fast manual way back."""


@dataclass(frozen=True)
class Alarms:
    """The three CloudWatch alarms on the variant, each switchable; they roll an update back."""

    errors_5xx_enabled: bool = True
    errors_5xx_threshold: int = 1
    """Invocation5XXErrors per minute that fire the alarm."""
    latency_p99_enabled: bool = True
    latency_p99_ms: int = 30000
    """p99 ModelLatency above this fires the alarm; generations are long, so the default is too."""
    setup_time_enabled: bool = True
    setup_time_seconds: int = 900


@dataclass(frozen=True)
class AsyncInference:
    """An async endpoint config writing to s3://<bucket>/async/output/, for generations over 60 s."""

    enabled: bool = False
    max_concurrent_invocations: int = 4


@dataclass(frozen=True)
class StateSettings:
    """Where llm-twin keeps its files and Terraform keeps its state."""

    dir: Path = Path(".llm-twin")
    """Emulator pid and log, terraform state per target, plans and the plugin cache."""
    credentials_file: Path = Path("sagemaker_user_credentials.json")
    """Where the deployer's key pair is written on the aws target (0600)."""
    backend: str = "local"
    """local files per target, or s3 (with a native S3 lock file)."""
    bucket: str = ""
    """The S3 state bucket; empty means <prefix>-tfstate-<account id>."""


@dataclass(frozen=True)
class CostSettings:
    """The worst-case estimate and the budget `apply` refuses to exceed on AWS."""

    hours_per_month: int = 730
    """AWS's own convention is 730."""
    monthly_budget: float = 0.0
    """USD; 0 means no limit."""
    storage_gb: float = 16.0
    """GB of model weights and state kept in S3, for the storage line."""
    pricing_source: str = "auto"
    """auto: AWS's Pricing API when it answers quickly, else the table; table: never ask."""


DEFAULT_LOCAL_MODEL_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
"""What the local target serves in place of a Hub HF_MODEL_ID unless told otherwise: a Llama
of a few hundred MB, so the first local apply downloads that much and not the 16 GB twin."""
LocalModelChoice = Literal["auto", "model", "stand-in"]
LocalDtype = Literal["auto", "bfloat16", "float32"]


@dataclass(frozen=True)
class LocalSettings:
    """The embedded local AWS on loopback, and the model its endpoint serves."""

    port: int = 4566
    """LocalStack's edge port, so its tools work."""
    enforce_iam: bool = False
    """Enforce IAM policies, so the deployer's narrowness is real."""
    model_id: str | None = None
    """LOCAL_MODEL_ID as given: None (unset) is DEFAULT_LOCAL_MODEL_ID, "" serves HF_MODEL_ID itself."""
    model: LocalModelChoice = "auto"
    """LOCAL_MODEL: auto (the model; the stand-in when the Hub cannot be reached), model (Failed
    instead of the stand-in), stand-in (a Hub model is never downloaded)."""
    dtype: LocalDtype = "auto"
    """LOCAL_DTYPE: the weights' dtype in memory; auto is the checkpoint's own, as TGI does."""

    @property
    def served_model_id(self) -> str:
        """LOCAL_MODEL_ID with its default filled in; "" means HF_MODEL_ID."""
        return DEFAULT_LOCAL_MODEL_ID if self.model_id is None else self.model_id


@dataclass(frozen=True)
class Tooling:
    """The terraform binary and where it finds providers."""

    terraform_dir: Path = TERRAFORM_DIR
    terraform_binary: str = "terraform"
    """TF_CLI: terraform, tofu, or a path."""
    plugin_dir: Path | None = None
    """Offline provider mirror for `terraform init -plugin-dir`; None uses the registry."""
    plugin_cache_dir: Path | None = None
    """Provider cache shared by every stack and target; None means under the state directory."""


@dataclass(frozen=True)
class GatewaySettings:
    """`llm-twin serve`: who may call it, and how much a client may hold."""

    token: Secret = Secret("")
    """Bearer token; empty on a loopback host means one is generated per run."""
    cors_origins: tuple[str, ...] = ()
    """Origins (scheme://host[:port]) whose pages may call it; ("*",) any; () same-origin only."""
    max_body_bytes: int = 262144
    """A larger body is answered 413 while it is still arriving."""
    host: str = "127.0.0.1"
    """Anything but loopback needs a token."""
    port: int = 8080
    header_timeout: int = 10
    """Seconds for the request line and headers; then 408 and the socket is closed."""
    body_timeout: int = 30
    """Seconds for the whole body (a total, so a slow trickle is cut too)."""
    max_connections: int = 256
    """Client sockets held at most; one more is answered 503 and closed."""


@dataclass(frozen=True)
class Settings:
    """Everything the CLI needs, typed and already validated."""

    target: Target = "local"
    """local: the embedded AWS on loopback; aws: real AWS."""
    region: str = "eu-central-1"
    force_destroy: bool | None = None
    """Destroy may empty the bucket/repository; None means true locally, false on AWS."""
    admin: AdminAccess = AdminAccess()
    names: Names = Names()
    model: ModelSettings = ModelSettings()
    variant: Variant = Variant()
    tokens: TokenLimits = TokenLimits()
    vllm: VllmEngine = VllmEngine()
    autoscaling: Autoscaling = Autoscaling()
    schedule: ScheduledScaling = ScheduledScaling()
    rollout: Rollout = Rollout()
    alarms: Alarms = Alarms()
    async_inference: AsyncInference = AsyncInference()
    state: StateSettings = StateSettings()
    cost: CostSettings = CostSettings()
    local: LocalSettings = LocalSettings()
    tooling: Tooling = Tooling()
    gateway: GatewaySettings = GatewaySettings()

    @property
    def endpoint_url(self) -> str | None:
        """The emulator's URL on the local target; None means AWS's own endpoints."""
        return f"http://127.0.0.1:{self.local.port}" if self.target == "local" else None

    @property
    def destroy_force(self) -> bool:
        return self.force_destroy if self.force_destroy is not None else self.target == "local"

    @property
    def plugin_cache_dir(self) -> Path:
        return self.tooling.plugin_cache_dir or self.state.dir / "plugin-cache"

    def target_dir(self) -> Path:
        """Per-target state, so a local run never touches the aws state and back."""
        return self.state.dir / self.target
