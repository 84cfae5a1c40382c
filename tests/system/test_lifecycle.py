"""Lifecycle safety on the local target, through the real CLI in subprocesses.

One fresh emulator carries one sequence, recorded by the `lifecycle` fixture and then
checked by the tests below (each fresh apply costs about 100 s, so they share it):

    apply (bootstrap + main, with a distinctive HF token and TF_LOG=DEBUG)
    plan                                    -> no changes
    MAX_TOTAL_TOKENS=3072 apply             while a thread invokes the endpoint in a loop and
                                            another watches its config; meanwhile a second
                                            apply must be refused by the state lock
    MAX_TOTAL_TOKENS=4096 apply, Ctrl-C     after the new endpoint config was created
    apply again, plan                       -> converged, no changes
    destroy, destroy-bootstrap              -> zero project resources (counted through boto3)

The secrets tests grep everything the sequence printed or left on disk.
"""

from __future__ import annotations

import json
import signal
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from llm_twin.control.credentials import read_credentials
from llm_twin.control.deploy.deployment import Deployment
from tests.conftest import private_target, settings_for
from tests.support.cli_runs import Running, Step, run_cli
from tests.support.project_resources import project_resources
from tests.support.traffic import Invocation, Observation, Traffic, admin

HF_TOKEN = "hf_LIFECYCLE_tok_8d0c1e5a_never_shown"
ENDPOINT = "llm-twin-endpoint"
CONFIG_CREATED = "aws_sagemaker_endpoint_configuration.this  created"


@dataclass
class LifecycleRecord:
    """Everything the sequence did, for the tests to check."""

    env: dict[str, str]
    state_dir: Path
    terraform_log: Path
    steps: dict[str, Step] = field(default_factory=dict)
    deployer_secret: str = ""
    made: dict[str, list[str]] = field(default_factory=dict)
    config_before: str = ""
    config_after: str = ""
    invocations: list[Invocation] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    lock_held: bool = False
    state_after_interrupt: str = ""
    lock_left_after_interrupt: bool = True
    converged: dict[str, list[str]] = field(default_factory=dict)
    modes: dict[str, int] = field(default_factory=dict)
    after_destroy: dict[str, list[str]] = field(default_factory=dict)
    left: dict[str, list[str]] = field(default_factory=dict)
    credentials_left: bool = True


def _run(record: LifecycleRecord, name: str, *args: str, **overrides: str) -> Step:
    step = record.steps[name] = run_cli(record.env, *args, **overrides)
    return step


def _serving_config(port: str) -> str:
    return admin(port, "sagemaker").describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"]


def _modes(deployment: Deployment) -> dict[str, int]:
    paths = [deployment.credentials_path]
    for stack in (deployment.bootstrap_paths, deployment.main_paths):
        paths += [stack.state, stack.state.with_name(stack.state.name + ".backup"), stack.plan, stack.tfvars]
    return {str(p): stat.S_IMODE(p.stat().st_mode) for p in paths if p.exists()}


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LifecycleRecord]:
    root = tmp_path_factory.mktemp("lifecycle")
    with private_target(root / "state") as env:
        record = LifecycleRecord(
            env={**env, "HF_TOKEN": HF_TOKEN, "TF_LOG": "DEBUG", "TF_LOG_PATH": str(root / "terraform.log")},
            state_dir=root / "state",
            terraform_log=root / "terraform.log",
        )
        _sequence(record)
        yield record


def _sequence(record: LifecycleRecord) -> None:
    port = record.env["LOCAL_AWS_PORT"]
    deployment = Deployment(settings_for(record.env))
    main = deployment.main_paths

    if _run(record, "apply", "apply").returncode != 0:
        return
    record.deployer_secret = read_credentials(deployment.credentials_path)[0].secret_access_key
    record.made = project_resources(port)
    record.config_before = _serving_config(port)
    _run(record, "plan", "plan")

    # A setting that reaches the container: a new model and endpoint config roll in.
    with Traffic(
        port, ENDPOINT, {"inputs": "Hello", "parameters": {"max_new_tokens": 2, "seed": 1}}
    ) as traffic:
        rolling = Running(record.env, "apply", MAX_TOTAL_TOKENS="3072")
        if rolling.wait_for_line(CONFIG_CREATED):
            # Terraform is now waiting for the endpoint to switch, holding the state lock.
            record.lock_held = (main.root / ".terraform.tfstate.lock.info").is_file()
            _run(record, "concurrent apply", "apply", MAX_TOTAL_TOKENS="3072")
        record.steps["rolling apply"] = rolling.finish()
        time.sleep(1.0)  # a last round of traffic on the new config
    record.invocations, record.observations = traffic.invocations, traffic.observations
    record.config_after = _serving_config(port)

    # Ctrl-C while terraform waits for the endpoint to switch back.
    interrupted = Running(record.env, "apply")
    if interrupted.wait_for_line(CONFIG_CREATED):
        interrupted.process.send_signal(signal.SIGINT)
    record.steps["interrupted apply"] = interrupted.finish()
    record.state_after_interrupt = main.state.read_text() if main.state.is_file() else ""
    record.lock_left_after_interrupt = (main.root / ".terraform.tfstate.lock.info").exists()
    _run(record, "rerun", "apply")
    _run(record, "plan after rerun", "plan")
    record.converged = project_resources(port)
    record.modes = _modes(deployment)

    _run(record, "destroy", "destroy")
    record.after_destroy = project_resources(port)
    _run(record, "destroy-bootstrap", "destroy-bootstrap")
    record.left = project_resources(port)
    record.credentials_left = deployment.credentials_path.exists()


def _step(record: LifecycleRecord, name: str) -> Step:
    step = record.steps.get(name)
    assert step is not None, f"the sequence stopped before {name!r}: {list(record.steps)}"
    return step


def _ok(record: LifecycleRecord, name: str) -> Step:
    step = _step(record, name)
    assert step.returncode == 0, f"{name} exited {step.returncode}:\n{step.stdout}\n{step.stderr}"
    return step


@pytest.mark.stack
def test_apply_then_plan_is_a_no_op(lifecycle: LifecycleRecord) -> None:
    applied = _ok(lifecycle, "apply")
    assert "the bootstrap has not run on the local target yet: running it first" in applied.stdout
    assert "+ module.iam.aws_iam_user.deployer  created" in applied.stdout
    assert "+ module.s3.aws_s3_bucket.this  created" in applied.stdout
    assert f"endpoint {ENDPOINT} is InService" in applied.stdout
    assert lifecycle.made["users"] == ["llm-twin-deployer"]
    assert lifecycle.made["endpoints"] == [ENDPOINT]
    assert "no changes: the stack matches the settings" in _ok(lifecycle, "plan").stdout


@pytest.mark.stack
def test_a_changed_setting_rolls_a_new_config_in_without_downtime(lifecycle: LifecycleRecord) -> None:
    rolled = _ok(lifecycle, "rolling apply")
    assert "~ module.sagemaker_endpoint.aws_sagemaker_endpoint.this  updated" in rolled.stdout
    before, after = lifecycle.config_before, lifecycle.config_after
    assert before and after and before != after

    failures = [i for i in lifecycle.invocations if not i.ok]
    assert not failures, f"{len(failures)} of {len(lifecycle.invocations)} invocations failed: {failures[:3]}"
    assert len(lifecycle.invocations) >= 20

    seen = lifecycle.observations
    assert seen and all(o.status != "Missing" for o in seen), "the endpoint vanished during the update"
    assert all(o.config in o.configs for o in seen), "the endpoint served a config that was deleted"
    assert (seen[0].config, seen[0].status) == (before, "InService")
    switched = next((i for i, o in enumerate(seen) if o.config == after and o.status == "InService"), None)
    old_gone = next((i for i, o in enumerate(seen) if before not in o.configs), None)
    assert switched is not None and old_gone is not None, "the switch and the deletion were both observed"
    assert any(before in o.configs and after in o.configs for o in seen), "no moment with both configs"
    assert old_gone > switched, "the old config was deleted before the endpoint switched"


@pytest.mark.stack
def test_a_second_apply_is_refused_by_the_state_lock(lifecycle: LifecycleRecord) -> None:
    assert lifecycle.lock_held
    second = _step(lifecycle, "concurrent apply")
    assert second.returncode == 1, second.stdout + second.stderr
    # Terraform's own diagnostic streams first; the error line is last, and names the way out.
    last = second.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "StateLockedError: terraform plan exited with code 1: the state is locked by another run"
    )
    assert "wait for it to finish, or if it died, run `terraform force-unlock <ID>`" in last
    assert "Updating" not in second.stdout and "created" not in second.stdout  # it changed nothing


@pytest.mark.stack
def test_ctrl_c_leaves_state_consistent_and_a_rerun_converges(lifecycle: LifecycleRecord) -> None:
    interrupted = _step(lifecycle, "interrupted apply")
    assert CONFIG_CREATED in interrupted.stdout
    assert "aws_sagemaker_endpoint.this  updated" not in interrupted.stdout  # stopped mid-update
    assert interrupted.returncode == 130, interrupted.stdout + interrupted.stderr
    assert "Interrupted: terraform was stopped gracefully and its state saved." in interrupted.stderr
    state = json.loads(lifecycle.state_after_interrupt)
    assert any(r["type"] == "aws_sagemaker_endpoint" for r in state["resources"])
    assert not lifecycle.lock_left_after_interrupt

    _ok(lifecycle, "rerun")
    assert "no changes: the stack matches the settings" in _ok(lifecycle, "plan after rerun").stdout
    # The interrupted run's leftovers (a deposed config and model) are gone.
    assert len(lifecycle.converged["endpoint_configs"]) == 1
    assert len(lifecycle.converged["models"]) == 1


@pytest.mark.stack
def test_destroy_leaves_zero_project_resources(lifecycle: LifecycleRecord) -> None:
    destroyed = _ok(lifecycle, "destroy")
    assert "- module.sagemaker_endpoint.aws_sagemaker_endpoint.this  destroyed" in destroyed.stdout
    assert {kind: names for kind, names in lifecycle.after_destroy.items() if names} == {
        "users": ["llm-twin-deployer"],
        "groups": ["llm-twin-deployers"],
        "roles": ["llm-twin-sagemaker-execution"],
        "policies": ["llm-twin-deployer", "llm-twin-deployer-operations", "llm-twin-sagemaker-execution"],
    }
    _ok(lifecycle, "destroy-bootstrap")
    assert lifecycle.left and not any(lifecycle.left.values()), lifecycle.left
    assert not lifecycle.credentials_left


@pytest.mark.stack
def test_state_plans_and_credentials_are_owner_only(lifecycle: LifecycleRecord) -> None:
    modes = lifecycle.modes
    assert any(name.endswith("sagemaker_user_credentials.json") for name in modes)
    assert any(name.endswith("main/terraform.tfstate.backup") for name in modes)
    assert {name: oct(mode) for name, mode in modes.items() if mode != 0o600} == {}


# Files that hold secrets by design: Terraform state and saved plans (see README,
# "Secrets"), the credentials file itself, and the provider and model binaries.
HOLDS_SECRETS = {"terraform.tfstate", "terraform.tfstate.backup", "tfplan", "sagemaker_user_credentials.json"}


def _everything_else(record: LifecycleRecord) -> dict[str, bytes]:
    """Every output of the sequence, and every file it left that is not meant to hold secrets."""
    texts = {
        f"{name} {stream}": getattr(step, stream).encode()
        for name, step in record.steps.items()
        for stream in ("stdout", "stderr")
    }
    for path in [record.terraform_log, *record.state_dir.rglob("*")]:
        if not path.is_file() or path.name in HOLDS_SECRETS:
            continue
        if {".terraform", "stand-in-model"} & set(path.parts):
            continue
        texts[str(path)] = path.read_bytes()
    return texts


@pytest.mark.stack
def test_secrets_reach_no_output_log_or_tfvars(lifecycle: LifecycleRecord) -> None:
    _ok(lifecycle, "apply")
    assert lifecycle.deployer_secret
    texts = _everything_else(lifecycle)
    assert lifecycle.terraform_log.stat().st_size > 0 and str(lifecycle.terraform_log) in texts
    assert any(name.endswith("emulator.log") for name in texts)
    assert sum(name.endswith("terraform.tfvars.json") for name in texts) == 2
    for secret in (HF_TOKEN, lifecycle.deployer_secret):
        leaked = [name for name, text in texts.items() if secret.encode() in text]
        assert leaked == [], f"{secret[:6]}... found in {leaked}"
