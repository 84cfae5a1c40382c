"""The terraform runner interrupted, against the real binary: Ctrl-C forwarded once, state saved.

The runner runs in a child process of its own (RUNNER_SCRIPT), so the test can signal it as a
terminal would.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llm_twin.control.tf.messages import ApplyStart, ProgressEvent
from llm_twin.control.tf.runner import Terraform, TerraformConfig
from tests.support.terraform_modules import SLOW_TF, write_module, write_script

pytestmark = pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on PATH")

REPO = Path(__file__).resolve().parents[5]


RUNNER_SCRIPT = """\
import sys
from pathlib import Path

from llm_twin.control.tf.display import render
from llm_twin.control.tf.runner import Terraform, TerraformConfig

working_dir, data_dir, binary, command = sys.argv[1:5]
config = TerraformConfig(
    binary=binary,
    working_dir=Path(working_dir),
    data_dir=Path(data_dir),
    env={"COUNT_FILE": data_dir + "/ints"},
)
runner = Terraform(config, on_event=lambda e: print(type(e).__name__, render(e), flush=True))
try:
    if command == "apply":
        runner.apply(runner.plan(out=Path(data_dir) / "p.tfplan").plan_file)
    else:
        runner.destroy()
except KeyboardInterrupt:
    print("INTERRUPTED", flush=True)
    sys.exit(130)
print("FINISHED", flush=True)
"""


def start_runner(tmp_path: Path, working_dir: Path, binary: str, command: str) -> subprocess.Popen[str]:
    script = tmp_path / "runner.py"
    script.write_text(RUNNER_SCRIPT)
    data_dir = tmp_path / "runner-data"
    data_dir.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, str(script), str(working_dir), str(data_dir), binary, command],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def read_until(process: subprocess.Popen[str], marker: str, timeout: float = 20.0) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if marker in line:
            return lines
    raise AssertionError(f"{marker!r} never appeared in {lines!r}")


def test_ctrl_c_is_forwarded_and_terraform_saves_state(tmp_path: Path) -> None:
    module = write_module(tmp_path / "slow", SLOW_TF)
    runner = start_runner(tmp_path, module, "terraform", "apply")
    try:
        read_until(runner, "sleep 5")  # the provisioner is running
        interrupted_at = time.monotonic()
        runner.send_signal(signal.SIGINT)
        rest, _ = runner.communicate(timeout=30)
    finally:
        if runner.poll() is None:
            runner.kill()
    assert runner.returncode == 130
    assert time.monotonic() - interrupted_at < 4.5, "terraform ran to the end instead of stopping"
    assert "Interrupt received" in rest
    assert rest.rstrip().endswith("INTERRUPTED")
    # Graceful: the state was written (the interrupted resource tainted) and the lock released.
    state = json.loads((module / "terraform.tfstate").read_text())
    statuses = {r["name"]: r["instances"][0].get("status") for r in state["resources"]}
    assert statuses == {"fast": None, "slow": "tainted"}
    assert not (module / ".terraform.tfstate.lock.info").exists()


def test_a_failing_callback_stops_terraform_gracefully(module: Path, config: TerraformConfig) -> None:
    write_module(module, SLOW_TF)

    def on_event(event: ProgressEvent) -> None:
        if isinstance(event, ApplyStart) and event.addr == "terraform_data.slow":
            raise RuntimeError("the display broke")

    runner = Terraform(config, on_event=on_event)
    plan = runner.plan(out=module / "p.tfplan")
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="the display broke"):
        runner.apply(plan.plan_file)
    assert time.monotonic() - started < 4.5
    assert not (module / ".terraform.tfstate.lock.info").exists()
    assert "terraform_data.slow" in Terraform(config).state_list()


def test_ctrl_c_twice_still_sends_one_sigint(tmp_path: Path) -> None:
    fake = write_script(
        tmp_path / "fake-terraform",
        f"""\
        #!{sys.executable}
        import os, signal, sys, time

        deadline = time.monotonic() + 20

        def on_sigint(*_):
            global deadline
            with open(os.environ["COUNT_FILE"], "a") as count:
                count.write("INT\\n")
            deadline = min(deadline, time.monotonic() + 1.0)

        signal.signal(signal.SIGINT, on_sigint)
        print('{{"type": "log", "@message": "fake started"}}', flush=True)
        while time.monotonic() < deadline:
            time.sleep(0.05)
        print('{{"type": "log", "@message": "fake saved state"}}', flush=True)
        sys.exit(1)
        """,
    )
    runner = start_runner(tmp_path, tmp_path, str(fake), "destroy")
    try:
        read_until(runner, "fake started")
        runner.send_signal(signal.SIGINT)
        time.sleep(0.3)
        runner.send_signal(signal.SIGINT)
        rest, _ = runner.communicate(timeout=15)
    finally:
        if runner.poll() is None:
            runner.kill()
    assert runner.returncode == 130
    assert "fake saved state" in rest
    assert (tmp_path / "runner-data" / "ints").read_text() == "INT\n"
