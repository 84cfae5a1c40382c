"""The bad-input matrix: each row is one bad input, the line it must produce, and its exit code.

Rows cover settings (environment and `.env`), CLI options, Terraform variables and
inference requests. Usage errors exit 2, runtime errors 1. Every row runs against a live
emulator and checks afterwards that it still matches the snapshot taken before the first
row: the project's resources, the endpoint (config, status, last change), the Terraform
state files and the deployer's credentials file.

CLI rows run against the session's applied stack, since nothing may change it. Terraform
rows feed values that skip the Python checks (as a bug there would) straight to the
module's own `validation` blocks, on a private bootstrapped emulator whose main stack has
no state yet, so a missed validation would plan creations and still apply nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from llm_twin.cli import main
from llm_twin.deploy import Deployment
from llm_twin.errors import LlmTwinError
from llm_twin.local.daemon import free_port
from tests.conftest import client, private_target, settings_for
from tests.project_resources import project_resources

LONG_PROMPT = "hello " * 1000  # about 3000 tokens: over MAX_INPUT_TOKENS, under MAX_TOTAL_TOKENS


@dataclass(frozen=True)
class Row:
    """One bad input: the CLI arguments, the settings around them, what must come out."""

    id: str
    args: tuple[str, ...]
    message: str
    exit_code: int
    env: dict[str, str | None] = field(default_factory=dict)
    dotenv: str | None = None
    """Contents of the --env-file, when the bad value comes from `.env`."""
    stdin: str | None = None
    one_line: bool = True
    """Our errors are one line on stderr; Click's usage errors add a Usage: header."""


def option_row(id: str, args: tuple[str, ...], message: str, stdin: str | None = None) -> Row:
    return Row(id, args, message, 2, stdin=stdin, one_line=False)


def settings_row(id: str, env: dict[str, str | None], message: str, command: str = "apply") -> Row:
    return Row(id, (command,), message, 2, env=env)


def infer_row(id: str, args: tuple[str, ...], message: str, exit_code: int, **env: str) -> Row:
    return Row(id, ("infer", *args), message, exit_code, env=dict(env))


CLI_ROWS = [
    # -- settings, from the environment: SettingsError before anything runs (exit 2)
    settings_row(
        "region",
        {"AWS_REGION": "moon-1"},
        "SettingsError: AWS_REGION='moon-1' is invalid: expected an AWS region",
    ),
    settings_row(
        "region-on-destroy",
        {"AWS_REGION": "moon-1"},
        "SettingsError: AWS_REGION='moon-1' is invalid",
        "destroy",
    ),
    settings_row(
        "instance-type",
        {"SAGEMAKER_INSTANCE_TYPE": "g5.2xlarge"},
        "SAGEMAKER_INSTANCE_TYPE='g5.2xlarge' is invalid: expected a SageMaker instance type starting with 'ml.'",
    ),
    settings_row(
        "total-below-input",
        {"MAX_TOTAL_TOKENS": "1024"},
        "SettingsError: MAX_TOTAL_TOKENS=1024 must be greater than MAX_INPUT_TOKENS=2048",
    ),
    settings_row(
        "prefill-below-input",
        {"MAX_BATCH_PREFILL_TOKENS": "1000"},
        "SettingsError: MAX_BATCH_PREFILL_TOKENS=1000 must be >= MAX_INPUT_TOKENS=2048",
        "plan",
    ),
    settings_row(
        "batch-below-total",
        {"MAX_BATCH_TOTAL_TOKENS": "4000"},
        "SettingsError: MAX_BATCH_TOTAL_TOKENS=4000 must be >= MAX_TOTAL_TOKENS=4096",
    ),
    settings_row(
        "autoscaling-max-below-min",
        {"AUTOSCALING_MIN_CAPACITY": "3", "AUTOSCALING_MAX_CAPACITY": "2"},
        "SettingsError: AUTOSCALING_MAX_CAPACITY=2 must be >= AUTOSCALING_MIN_CAPACITY=3",
    ),
    settings_row(
        "gpus", {"SM_NUM_GPUS": "9"}, "SM_NUM_GPUS='9' is invalid: expected a whole number from 1 to 8"
    ),
    settings_row(
        "instance-count-word",
        {"SAGEMAKER_INSTANCE_COUNT": "two"},
        "SAGEMAKER_INSTANCE_COUNT='two' is invalid: expected a whole number from 1 up",
    ),
    settings_row(
        "quantize",
        {"HF_MODEL_QUANTIZE": "int4"},
        "HF_MODEL_QUANTIZE='int4' is invalid: allowed: (empty), awq",
    ),
    settings_row(
        "endpoint-outside-prefix",
        {"SAGEMAKER_ENDPOINT_NAME": "other-endpoint"},
        "SAGEMAKER_ENDPOINT_NAME='other-endpoint' must start with 'llm-twin-'",
    ),
    settings_row(
        "prefix",
        {"LLM_TWIN_PREFIX": "LLM"},
        "LLM_TWIN_PREFIX='LLM' is invalid: expected 3-24 lowercase letters",
    ),
    settings_row(
        "model-id-space", {"HF_MODEL_ID": "owner/has space"}, "HF_MODEL_ID='owner/has space' is invalid"
    ),
    settings_row(
        "s3-prefix-no-slash",
        {"MODEL_DATA_S3_URI": "s3://bucket/models"},
        "MODEL_DATA_S3_URI='s3://bucket/models' is invalid: expected empty or an S3 prefix ending in '/'",
    ),
    settings_row(
        "health-check-timeout",
        {"HEALTH_CHECK_TIMEOUT": "10"},
        "HEALTH_CHECK_TIMEOUT='10' is invalid: expected a whole number from 60 to 3600",
    ),
    settings_row("target", {"TARGET": "gcp"}, "TARGET='gcp' is invalid: allowed: local, aws"),
    settings_row(
        "tgi-version", {"TGI_VERSION": "9.9.9"}, "TGI_VERSION='9.9.9' is not in the DLC catalogue; allowed:"
    ),
    settings_row(
        "autoscaling-target",
        {"AUTOSCALING_TARGET_INVOCATIONS": "0"},
        "AUTOSCALING_TARGET_INVOCATIONS='0' is invalid: expected a number > 0",
    ),
    settings_row(
        "aws-without-credentials",
        {"TARGET": "aws", "AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None, "AWS_PROFILE": None},
        "SettingsError: TARGET=aws needs admin credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
    ),
    # -- settings, from .env (the environment still wins for what it sets)
    Row(
        "dotenv-bool",
        ("apply",),
        "SettingsError: MESSAGES_API_ENABLED='maybe' is invalid: expected true or false",
        2,
        dotenv="MESSAGES_API_ENABLED=maybe\n",
    ),
    Row(
        "dotenv-cooldown",
        ("plan",),
        "AUTOSCALING_SCALE_IN_COOLDOWN='-5' is invalid: expected a whole number from 0 to 86400",
        2,
        dotenv="# a comment\nAUTOSCALING_SCALE_IN_COOLDOWN=-5\n",
    ),
    # -- CLI options: Click's usage errors (exit 2), before any call
    option_row("unknown-option", ("apply", "--bogus"), "Error: No such option '--bogus'"),
    option_row("unknown-command", ("deploy",), "No such command 'deploy'"),
    option_row("extra-argument", ("output", "--json", "extra"), "Got unexpected extra argument (extra)"),
    option_row("empty-prompt", ("infer", ""), "Invalid value for 'PROMPT': the prompt is empty"),
    option_row(
        "blank-stdin-prompt", ("infer", "-"), "Invalid value for 'PROMPT': the prompt is empty", stdin="   \n"
    ),
    option_row(
        "max-new-tokens-zero",
        ("infer", "--max-new-tokens", "0", "hi"),
        "'--max-new-tokens': must be at least 1",
    ),
    option_row(
        "max-new-tokens-word", ("infer", "--max-new-tokens", "many", "hi"), "'many' is not a valid integer"
    ),
    option_row(
        "negative-temperature",
        ("infer", "--temperature", "-0.5", "hi"),
        "must be >= 0 (0 means greedy decoding)",
    ),
    option_row("top-p-above-one", ("infer", "--top-p", "1.5", "hi"), "'--top-p': must be in (0, 1]"),
    option_row("read-timeout-zero", ("infer", "--read-timeout", "0", "hi"), "'--read-timeout': must be > 0"),
    option_row("serve-read-timeout-zero", ("serve", "--read-timeout", "0"), "'--read-timeout': must be > 0"),
    # -- inference requests the endpoint refuses: runtime errors (exit 1)
    infer_row(
        "unknown-endpoint",
        ("--endpoint", "llm-twin-missing", "hi"),
        "EndpointNotFoundError: no endpoint named 'llm-twin-missing'",
        1,
    ),
    infer_row(
        "max-new-tokens-over-total",
        ("--max-new-tokens", "5000", "hi"),
        "ValidationError: Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096",
        1,
    ),
    infer_row(
        "max-new-tokens-over-total-no-stream",
        ("--no-stream", "--max-new-tokens", "5000", "hi"),
        "ValidationError: Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096",
        1,
    ),
    infer_row(
        "prompt-over-max-input",
        ("--max-new-tokens", "1", LONG_PROMPT),
        "ValidationError: Input validation error: `inputs` must have less than 2048 tokens",
        1,
    ),
    infer_row(
        "five-stop-sequences",
        ("--stop", "a", "--stop", "b", "--stop", "c", "--stop", "d", "--stop", "e", "hi"),
        "ValidationError: Input validation error: `stop` supports up to 4 stop sequences. Given: 5",
        1,
    ),
    infer_row(
        "negative-seed",
        ("--seed", "-1", "hi"),
        "ValidationError: Input validation error: `seed` must be positive",
        1,
    ),
    infer_row(
        "json-with-a-bad-payload",
        ("--json", "--max-new-tokens", "5000", "hi"),
        '{"event": "error", "error": "ValidationError", "message": "Input validation error:',
        1,
    ),
]


def _sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def snapshot(env: dict[str, str]) -> dict[str, Any]:
    """What a bad input must leave alone: the project's resources, the endpoint, the state."""
    port = env["LOCAL_AWS_PORT"]
    deployment = Deployment(settings_for(env))
    taken: dict[str, Any] = {"resources": project_resources(port)}
    if taken["resources"]["endpoints"]:
        endpoint = client(port, "sagemaker").describe_endpoint(EndpointName=deployment.settings.endpoint)
        taken["endpoint"] = {
            key: endpoint.get(key) for key in ("EndpointConfigName", "EndpointStatus", "LastModifiedTime")
        }
    for stack in (deployment.bootstrap_paths, deployment.main_paths):
        taken[str(stack.state)] = _sha256(stack.state)
    taken["credentials"] = _sha256(deployment.credentials_path)
    return taken


@pytest.fixture(scope="module")
def shared_baseline(applied_stack: Deployment, shared_env: dict[str, str]) -> dict[str, Any]:
    """The applied stack before any row ran; after each row it must still look exactly so."""
    return snapshot(shared_env)


@pytest.mark.stack
@pytest.mark.parametrize("row", CLI_ROWS, ids=[row.id for row in CLI_ROWS])
def test_bad_cli_input(
    row: Row, shared_baseline: dict[str, Any], shared_env: dict[str, str], tmp_path: Path
) -> None:
    env_file = tmp_path / ".env"
    if row.dotenv is not None:
        env_file.write_text(row.dotenv)
    env = {**shared_env, **row.env}

    result = CliRunner().invoke(main, ["--env-file", str(env_file), *row.args], env=env, input=row.stdin)

    assert result.exit_code == row.exit_code, result.output
    assert row.message in result.stdout + result.stderr, result.output
    if row.one_line:
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert snapshot(shared_env) == shared_baseline


def test_an_emulator_that_is_not_running_is_named(tmp_path: Path) -> None:
    """Inference with nothing to talk to: a runtime error naming the port (exit 1), nothing started."""
    port = free_port()
    env = {"LLM_TWIN_STATE_DIR": str(tmp_path / "state"), "LOCAL_AWS_PORT": str(port)}
    result = CliRunner().invoke(main, ["--env-file", str(tmp_path / ".env"), "infer", "hi"], env=env)
    assert result.exit_code == 1, result.output
    assert result.stderr.strip() == (
        f"EmulatorError: the local AWS is not running on port {port}: run `make apply` first"
    )
    assert not (tmp_path / "state").exists()


# Values that pass nothing in Python (the dataclass is built directly), so only the
# module's validation stands between them and AWS. Each must still be a usage error.
TERRAFORM_ROWS = [
    (
        "instance-type",
        {"instance_type": "g5.2xlarge"},
        "instance_type must be a SageMaker instance type starting with 'ml.'",
    ),
    (
        "total-below-input",
        {"max_total_tokens": 1024},
        "token_limits.max_total_tokens must be greater than max_input_tokens.",
    ),
    (
        "endpoint-name",
        {"endpoint_name": "llm-twin_bad"},
        "endpoint.name must be 1-63 letters, digits or hyphens",
    ),
]


@pytest.fixture(scope="module")
def bootstrapped_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A private emulator with the bootstrap applied and no main stack yet."""
    with private_target(tmp_path_factory.mktemp("bad-terraform") / "state") as env:
        Deployment(settings_for(env)).bootstrap()
        yield env


@pytest.fixture(scope="module")
def bootstrapped_baseline(bootstrapped_env: dict[str, str]) -> dict[str, Any]:
    return snapshot(bootstrapped_env)


@pytest.mark.stack
@pytest.mark.parametrize(
    ("values", "message"), [r[1:] for r in TERRAFORM_ROWS], ids=[r[0] for r in TERRAFORM_ROWS]
)
def test_terraform_validation_catches_what_python_missed(
    bootstrapped_env: dict[str, str],
    bootstrapped_baseline: dict[str, Any],
    values: dict[str, Any],
    message: str,
) -> None:
    settings = dataclasses.replace(settings_for(bootstrapped_env), **values)
    with pytest.raises(LlmTwinError) as caught:
        Deployment(settings).plan()
    assert caught.value.exit_code == 2
    assert str(caught.value).startswith("terraform rejected a setting: terraform plan exited with code 1: ")
    assert f"Invalid value for variable: {message}" in str(caught.value)
    assert snapshot(bootstrapped_env) == bootstrapped_baseline


@pytest.mark.stack
def test_terraform_validation_through_the_cli(
    bootstrapped_env: dict[str, str], bootstrapped_baseline: dict[str, Any], tmp_path: Path
) -> None:
    """TGI_IMAGE_URI passes the Python pattern (something:tag) but not the module's."""
    env = {**bootstrapped_env, "TGI_IMAGE_URI": ":repo:tag"}
    result = CliRunner().invoke(main, ["--env-file", str(tmp_path / ".env"), "plan"], env=env)
    assert result.exit_code == 2, result.output
    assert "SettingsError: terraform rejected a setting: " in result.stderr
    assert "image_uri must be null or an image reference" in result.stderr
    assert snapshot(bootstrapped_env) == bootstrapped_baseline
