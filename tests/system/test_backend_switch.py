"""TGI to vLLM on a live endpoint, through the real CLI in subprocesses, with no failed call.

One fresh emulator carries the sequence (a fresh apply costs about 100 s), then the tests
check the record:

    apply (SERVING_BACKEND=tgi, MESSAGES_API_ENABLED=true)   -> InService, `status`: tgi
    plan, infer                                               -> no changes; tokens stream
    SERVING_BACKEND=vllm apply    while a client invokes every 50 ms with a Messages API body
                                  (valid on both containers) and another watches the config
    plan, infer, status                                       -> no changes; tokens; vllm
    destroy                                                   -> no endpoint, model or config left

Which container answered each call is told by its answer, not by the settings: TGI's chat
completion has `id: ""`, vLLM's `chatcmpl-...`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.conftest import private_target
from tests.support.cli_runs import Step, run_cli
from tests.support.project_resources import project_resources
from tests.support.traffic import Invocation, Traffic, admin

ENDPOINT = "llm-twin-endpoint"
CHAT = {"messages": [{"role": "user", "content": "Hello"}], "max_tokens": 2, "seed": 1}
TGI = {"SERVING_BACKEND": "tgi", "MESSAGES_API_ENABLED": "true"}
VLLM = {"SERVING_BACKEND": "vllm", "MESSAGES_API_ENABLED": ""}
"""MESSAGES_API_ENABLED is TGI's: vLLM always speaks the Messages API, and refuses the setting."""


@dataclass
class SwitchRecord:
    env: dict[str, str]
    steps: dict[str, Step] = field(default_factory=dict)
    config_before: str = ""
    config_after: str = ""
    invocations: list[Invocation] = field(default_factory=list)
    left: dict[str, list[str]] = field(default_factory=dict)


def _config(port: str) -> str:
    return admin(port, "sagemaker").describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"]


def _answered_by(invocation: Invocation) -> str:
    """tgi or vllm, from the chat completion's id (TGI leaves it empty)."""
    return "vllm" if str(json.loads(invocation.detail)["id"]).startswith("chatcmpl-") else "tgi"


@pytest.fixture(scope="module")
def switch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwitchRecord]:
    with private_target(tmp_path_factory.mktemp("switch") / "state") as env:
        record = SwitchRecord(env=env)
        port = env["LOCAL_AWS_PORT"]

        def step(name: str, *args: str, **overrides: str) -> Step:
            record.steps[name] = run_cli(record.env, *args, **overrides)
            return record.steps[name]

        if step("apply tgi", "apply", **TGI).returncode == 0:
            step("plan tgi", "plan", **TGI)
            step("infer tgi", "infer", "--max-new-tokens", "4", "Hello", **TGI)
            step("status tgi", "status", **TGI)
            record.config_before = _config(port)
            with Traffic(port, ENDPOINT, CHAT) as traffic:
                step("apply vllm", "apply", **VLLM)
                traffic.stopped.wait(1.0)  # a last round of calls on the new config
            record.invocations = traffic.invocations
            record.config_after = _config(port)
            step("plan vllm", "plan", **VLLM)
            step("infer vllm", "infer", "--max-new-tokens", "4", "Hello", **VLLM)
            step("chat vllm", "infer", "--chat", "--max-new-tokens", "4", "Hello", **VLLM)
            step("status vllm", "status", **VLLM)
            step("destroy", "destroy", **VLLM)
            record.left = project_resources(port)
        yield record


def _ok(record: SwitchRecord, name: str) -> Step:
    step = record.steps.get(name)
    assert step is not None, f"the sequence stopped before {name!r}: {list(record.steps)}"
    assert step.returncode == 0, f"{name} exited {step.returncode}:\n{step.stdout}\n{step.stderr}"
    return step


@pytest.mark.stack
def test_tgi_applies_streams_and_replans_as_a_no_op(switch: SwitchRecord) -> None:
    assert f"endpoint {ENDPOINT} is InService" in _ok(switch, "apply tgi").stdout
    assert "no changes: the stack matches the settings" in _ok(switch, "plan tgi").stdout
    assert _ok(switch, "infer tgi").stdout.strip()
    assert "backend:  tgi" in _ok(switch, "status tgi").stdout


@pytest.mark.stack
def test_the_switch_to_vllm_fails_no_call(switch: SwitchRecord) -> None:
    rolled = _ok(switch, "apply vllm")
    assert "~ module.sagemaker_endpoint.aws_sagemaker_endpoint.this  updated" in rolled.stdout
    assert switch.config_before and switch.config_after and switch.config_before != switch.config_after
    calls = switch.invocations
    failures = [i for i in calls if not i.ok]
    assert not failures, f"{len(failures)} of {len(calls)} invocations failed: {failures[:3]}"
    assert len(calls) >= 20
    served = [_answered_by(i) for i in calls]
    # TGI answered until the switch, vLLM after it, and never TGI again.
    assert served[0] == "tgi" and served[-1] == "vllm"
    assert "tgi" not in served[served.index("vllm") :]


@pytest.mark.stack
def test_vllm_streams_replans_as_a_no_op_and_status_shows_it(switch: SwitchRecord) -> None:
    assert "no changes: the stack matches the settings" in _ok(switch, "plan vllm").stdout
    assert _ok(switch, "infer vllm").stdout.strip()
    assert _ok(switch, "chat vllm").stdout.strip()
    status = _ok(switch, "status vllm").stdout
    assert "backend:  vllm" in status and "backend:  tgi" not in status


@pytest.mark.stack
def test_destroy_leaves_no_endpoint_model_or_config(switch: SwitchRecord) -> None:
    _ok(switch, "destroy")
    assert switch.left["endpoints"] == switch.left["models"] == switch.left["endpoint_configs"] == []
