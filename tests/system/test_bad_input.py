"""The bad-input matrix: each row is one bad input, the line it must produce, and its exit code.

Rows cover settings (environment and `.env`), CLI options, Terraform variables and
inference requests. Usage errors exit 2, runtime errors 1.

Setting rows (tests/system/bad_settings_rows.py, at least two for every setting in
`.env.example`) stop in validation, so they need no emulator: each runs in a scratch
directory and checks that nothing appeared in it, nothing listens on the local AWS port
and its one line on stderr is exactly the expected one.

CLI rows run against the session's applied stack, since nothing may change it: every row
checks afterwards that it still matches the snapshot taken before the first row, the
project's resources, the endpoint (config, status, last change), the Terraform state
files and the deployer's credentials file. Terraform
rows feed values that skip the Python checks (as a bug there would) straight to the
module's own `validation` blocks, on a private bootstrapped emulator whose main stack has
no state yet, so a missed validation would plan creations and still apply nothing.
"""

from __future__ import annotations

import hashlib
import re
import socket
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from llm_twin.cli.main import main
from llm_twin.config import build_settings
from llm_twin.config.rules import terraform_platform
from llm_twin.config.spec import SPEC
from llm_twin.control.deploy.deployment import Deployment
from llm_twin.errors import LlmTwinError
from llm_twin_local.aws.daemon import LocalAws, free_port
from tests.conftest import REPO, client, private_target, settings_for
from tests.support.project_resources import project_resources
from tests.system.bad_settings_rows import SETTING_ROWS, SettingRow

LONG_PROMPT = "hello " * 3000  # 3000 tokens (the stand-in's vocabulary has the word): over MAX_INPUT_TOKENS
OVER_TOTAL = ("--max-new-tokens", "1000", "hello " * 3500)
"""3500 + 1000 tokens > MAX_TOTAL_TOKENS: TGI 3.x counts max_new_tokens up to one chunk (1024), so a
short prompt asking 5000 is accepted and the total is only refused with a long prompt."""


@dataclass(frozen=True)
class Row:
    """One bad input: the CLI arguments, the settings around them, what must come out."""

    id: str
    args: tuple[str, ...]
    message: str
    exit_code: int
    env: dict[str, str | None] = field(default_factory=dict)
    stdin: str | None = None
    one_line: bool = True
    """Our errors are one line on stderr; Click's usage errors add a Usage: header."""


def option_row(id: str, args: tuple[str, ...], message: str, stdin: str | None = None) -> Row:
    return Row(id, args, message, 2, stdin=stdin, one_line=False)


def infer_row(id: str, args: tuple[str, ...], message: str, exit_code: int, **env: str) -> Row:
    return Row(id, ("infer", *args), message, exit_code, env=dict(env))


CLI_ROWS = [
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
        OVER_TOTAL,
        "ValidationError: Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096",
        1,
    ),
    infer_row(
        "max-new-tokens-over-total-no-stream",
        ("--no-stream", *OVER_TOTAL),
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
        "ValidationError: Failed to deserialize the JSON body into the target type: `seed` must be an integer from 0 to 2^64 - 1, got -1",
        1,
    ),
    infer_row(
        "json-with-a-bad-payload",
        ("--json", *OVER_TOTAL),
        '{"event": "error", "error": "ValidationError", "message": "Input validation error:',
        1,
    ),
]


def _listing(root: Path) -> dict[str, str]:
    """Every path under root with its kind and size: what a row must not change."""
    return {
        str(p.relative_to(root)): "dir" if p.is_dir() else f"file {p.stat().st_size}"
        for p in sorted(root.rglob("*"))
    }


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("row", SETTING_ROWS, ids=[row.id for row in SETTING_ROWS])
def test_bad_setting(row: SettingRow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Exit 2 with exactly the expected line, and nothing created: no state, no emulator, no file."""
    (tmp_path / "a-file").write_text("in the way\n")
    (tmp_path / "empty-dir").mkdir()
    (tmp_path / "aws-config").write_text("[profile admin]\nregion = eu-central-1\n")
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")  # relative defaults (.llm-twin, the credentials file) land here
    port = free_port()
    scratch = str(tmp_path)
    value = row.value.replace("{tmp}", scratch)
    env: dict[str, str | None] = {name: None for name in SPEC}  # never the developer's settings
    env.update(
        LLM_TWIN_STATE_DIR=str(tmp_path / "state"),
        LOCAL_AWS_PORT=str(port),
        TF_PLUGIN_CACHE_DIR=str(tmp_path / "plugin-cache"),
        AWS_CONFIG_FILE=str(tmp_path / "aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "aws-credentials"),
    )
    env.update(row.env)
    env_file = tmp_path / "settings.env"
    if row.dotenv:
        env_file.write_text(f"{row.setting}={value}\n")
    else:
        env[row.setting] = value
    before = _listing(tmp_path)

    try:
        result = CliRunner().invoke(main, ["--env-file", str(env_file), *row.command], env=env)
    finally:
        listening = _listening(port)
        if listening:  # a value let through must not leave its emulator behind
            LocalAws(tmp_path / "state", port).down()

    expected = row.line.replace("{tmp}", scratch).replace("{platform}", terraform_platform())
    assert (result.exit_code, result.stderr) == (2, expected + "\n"), result.output
    assert result.stdout == ""
    assert _listing(tmp_path) == before
    assert not listening


def test_every_setting_in_env_example_has_two_hostile_rows() -> None:
    """A setting added to `.env.example` fails here until it has its rows in the matrix."""
    example = (REPO / ".env.example").read_text()
    names = re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", example, re.MULTILINE)
    rows = Counter(row.setting for row in SETTING_ROWS)
    assert {name: rows[name] for name in names if rows[name] < 2} == {}
    assert set(rows) <= set(names), "a row names a setting that .env.example does not have"


def _sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def snapshot(env: dict[str, str]) -> dict[str, Any]:
    """What a bad input must leave alone: the project's resources, the endpoint, the state."""
    port = env["LOCAL_AWS_PORT"]
    deployment = Deployment(settings_for(env))
    taken: dict[str, Any] = {"resources": project_resources(port)}
    if taken["resources"]["endpoints"]:
        endpoint = client(port, "sagemaker").describe_endpoint(
            EndpointName=deployment.settings.names.endpoint
        )
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
    env = {**shared_env, **row.env}

    result = CliRunner().invoke(main, ["--env-file", str(env_file), *row.args], env=env, input=row.stdin)

    assert result.exit_code == row.exit_code, result.output
    assert row.message in result.stdout + result.stderr, result.output
    if row.one_line:
        # The stand-in's notice ("» endpoint ... serves the stand-in") is a remark, not a second problem.
        problems = [line for line in result.stderr.strip().splitlines() if not line.startswith("» ")]
        assert len(problems) == 1, result.stderr
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
        {"variant.instance_type": "g5.2xlarge"},
        "instance_type must be a SageMaker instance type starting with 'ml.'",
    ),
    (
        "total-below-input",
        {"tokens.max_total_tokens": 1024},
        "token_limits.max_total_tokens must be greater than max_input_tokens.",
    ),
    (
        "endpoint-name",
        {"names.endpoint_name": "llm-twin_bad"},
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
    settings = build_settings(values, base=settings_for(bootstrapped_env))
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
