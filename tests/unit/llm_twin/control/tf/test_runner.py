"""The terraform runner against the real binary: no mocks.

Root modules use only built-in things (`terraform_data`, outputs, `local-exec`),
so no provider is downloaded. One test inits hashicorp/aws from the offline
mirror named by TF_PLUGIN_DIR (default: the settings' DEFAULT_PLUGIN_MIRROR).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from llm_twin.config.spec import DEFAULT_PLUGIN_MIRROR
from llm_twin.control.tf.messages import ApplyComplete, ApplyStart, LogEvent, ProgressEvent
from llm_twin.control.tf.runner import OutputValue, Terraform, TerraformConfig
from llm_twin.errors import TerraformError
from tests.support.terraform_modules import SLOW_TF, write_module, write_script

pytestmark = pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on PATH")


# -- the main path -------------------------------------------------------------------


def test_init_plan_apply_output_destroy_round_trip(
    terraform: Terraform, events: list[ProgressEvent], tmp_path: Path, config: TerraformConfig
) -> None:
    terraform.init()
    assert config.data_dir.is_dir() and not (config.working_dir / ".terraform").exists()

    plan = terraform.plan(out=tmp_path / "stack.tfplan")
    assert plan.changes
    assert (plan.summary.add, plan.summary.change, plan.summary.remove) == (2, 0, 0)
    assert {c.addr for c in plan.planned_changes} == {"terraform_data.item[0]", "terraform_data.item[1]"}

    events.clear()
    applied = terraform.apply(plan.plan_file)
    assert applied.summary is not None and applied.summary.add == 2
    created = {e.addr for e in events if isinstance(e, ApplyComplete) and e.action == "create"}
    assert created == {"terraform_data.item[0]", "terraform_data.item[1]"}
    assert {e.addr for e in events if isinstance(e, ApplyStart)} == created

    outputs = terraform.output()
    assert outputs["names"] == OutputValue(
        value=["item-0", "item-1"], type=outputs["names"].type, sensitive=False
    )
    assert outputs["secret"].sensitive and outputs["secret"].value == "hunter2"
    assert "hunter2" not in repr(outputs)

    assert sorted(terraform.state_list()) == ["terraform_data.item[0]", "terraform_data.item[1]"]
    assert terraform.show_json()["values"]["outputs"]["names"]["value"] == ["item-0", "item-1"]

    events.clear()
    destroyed = terraform.destroy()
    assert destroyed.summary is not None and destroyed.summary.remove == 2
    gone = {e.addr for e in events if isinstance(e, ApplyComplete) and e.action == "delete"}
    assert gone == created
    assert terraform.state_list() == []


def test_events_arrive_while_terraform_runs(module: Path, config: TerraformConfig) -> None:
    write_module(module, SLOW_TF.replace("sleep 5", "sleep 1"))
    seen: list[tuple[float, ProgressEvent]] = []
    runner = Terraform(config, on_event=lambda e: seen.append((time.monotonic(), e)))
    runner.plan(out=module / "p.tfplan")
    runner.apply(module / "p.tfplan")
    fast_done = next(t for t, e in seen if isinstance(e, ApplyComplete) and e.addr == "terraform_data.fast")
    slow_done = next(t for t, e in seen if isinstance(e, ApplyComplete) and e.addr == "terraform_data.slow")
    assert slow_done - fast_done > 0.5, "events were buffered instead of streamed"


def test_backend_config_reaches_init(module: Path, terraform: Terraform, tmp_path: Path) -> None:
    (module / "backend.tf").write_text('terraform {\n  backend "local" {}\n}\n')
    state = tmp_path / "elsewhere" / "stack.tfstate"
    terraform.init(backend_config={"path": str(state)})
    terraform.apply(terraform.plan(out=tmp_path / "p.tfplan").plan_file)
    assert json.loads(state.read_text())["resources"]
    terraform.init(backend_config={"path": str(state)}, reconfigure=True)


def test_show_json_of_a_saved_plan(terraform: Terraform, tmp_path: Path) -> None:
    plan = terraform.plan(out=tmp_path / "p.tfplan")
    shown = terraform.show_json(plan.plan_file)
    assert {c["address"] for c in shown["resource_changes"]} == {
        "terraform_data.item[0]",
        "terraform_data.item[1]",
    }


def test_detailed_exitcode_2_means_changes_and_0_means_none(terraform: Terraform, tmp_path: Path) -> None:
    assert terraform.plan(detailed_exitcode=True).changes is True
    terraform.apply(terraform.plan(out=tmp_path / "p.tfplan").plan_file)
    unchanged = terraform.plan(detailed_exitcode=True)
    assert unchanged.changes is False and unchanged.summary.total == 0


def test_plan_without_detailed_exitcode_still_reports_changes(terraform: Terraform, tmp_path: Path) -> None:
    terraform.apply(terraform.plan(out=tmp_path / "p.tfplan").plan_file)
    assert terraform.plan().changes is False
    var_file = tmp_path / "three.tfvars"
    var_file.write_text("n = 3\n")
    grown = terraform.plan(var_file=var_file)
    assert grown.changes and grown.summary.add == 1


def test_destroy_plan(terraform: Terraform, tmp_path: Path) -> None:
    terraform.apply(terraform.plan(out=tmp_path / "p.tfplan").plan_file)
    plan = terraform.plan(destroy=True)
    assert plan.summary.remove == 2 and {c.action for c in plan.planned_changes} == {"delete"}


# -- errors -----------------------------------------------------------------------------


def test_invalid_config_raises_with_the_diagnostic(module: Path, terraform: Terraform) -> None:
    write_module(module, 'resource "terraform_data" "x" {\n  input = var.missing\n}\n')
    with pytest.raises(TerraformError) as caught:
        terraform.plan()
    error = caught.value
    assert str(error).startswith("terraform plan exited with code 1: Reference to undeclared input variable")
    assert 'name "missing" has not been declared' in str(error)
    assert "\n" not in str(error)
    assert error.returncode == 1
    assert isinstance(error.stderr, str)


def test_error_from_a_human_command_keeps_stderr(terraform: Terraform) -> None:
    with pytest.raises(TerraformError) as caught:
        terraform.state_list()
    assert caught.value.returncode == 1
    assert "No state file was found" in caught.value.stderr
    assert str(caught.value).startswith("terraform state list exited with code 1: ")


def test_failed_apply_raises_with_the_provisioner_error(
    module: Path, terraform: Terraform, events: list[ProgressEvent], tmp_path: Path
) -> None:
    write_module(
        module,
        'resource "terraform_data" "broken" {\n'
        '  provisioner "local-exec" {\n'
        '    command = "echo boom >&2; exit 3"\n'
        "  }\n"
        "}\n",
    )
    plan = terraform.plan(out=tmp_path / "p.tfplan")
    with pytest.raises(
        TerraformError, match="^terraform apply exited with code 1: local-exec provisioner error"
    ):
        terraform.apply(plan.plan_file)


def test_unexpected_exit_code_raises(config: TerraformConfig, tmp_path: Path) -> None:
    binary = write_script(tmp_path / "exit7", "#!/bin/sh\necho 'something odd' >&2\nexit 7\n")
    runner = Terraform(
        TerraformConfig(binary=str(binary), working_dir=config.working_dir, data_dir=config.data_dir)
    )
    with pytest.raises(TerraformError) as caught:
        runner.plan(detailed_exitcode=True)
    assert caught.value.returncode == 7
    assert str(caught.value) == "exit7 plan exited with code 7: something odd"
    assert caught.value.stderr == "something odd\n"


def test_exit_code_2_without_detailed_exitcode_raises(config: TerraformConfig, tmp_path: Path) -> None:
    binary = write_script(tmp_path / "exit2", "#!/bin/sh\nexit 2\n")
    runner = Terraform(
        TerraformConfig(binary=str(binary), working_dir=config.working_dir, data_dir=config.data_dir)
    )
    with pytest.raises(TerraformError, match="exited with code 2"):
        runner.plan()


def test_killed_terraform_raises(config: TerraformConfig, tmp_path: Path) -> None:
    binary = write_script(tmp_path / "killed", "#!/bin/sh\nkill -9 $$\n")
    runner = Terraform(
        TerraformConfig(binary=str(binary), working_dir=config.working_dir, data_dir=config.data_dir)
    )
    with pytest.raises(TerraformError, match="was killed by SIGKILL") as caught:
        runner.output()
    assert caught.value.returncode == -signal.SIGKILL


def test_missing_binary_raises(config: TerraformConfig, tmp_path: Path) -> None:
    missing = TerraformConfig(
        binary=str(tmp_path / "nope"), working_dir=config.working_dir, data_dir=config.data_dir
    )
    with pytest.raises(TerraformError, match="could not start"):
        Terraform(missing).init()


# -- small commands -------------------------------------------------------------------------


def test_validate_valid_and_invalid(module: Path, terraform: Terraform) -> None:
    assert terraform.validate().valid
    write_module(module, 'resource "terraform_data" "x" {\n  input = var.missing\n}\n')
    result = terraform.validate()
    assert not result.valid
    assert [d.summary for d in result.diagnostics] == ["Reference to undeclared input variable"]


def test_fmt_check_lists_unformatted_files(module: Path, terraform: Terraform) -> None:
    assert terraform.fmt_check() == []
    (module / "sub").mkdir()
    (module / "sub" / "ugly.tf").write_text('resource "terraform_data" "u" {\ninput="x"\n}\n')
    assert terraform.fmt_check() == ["sub/ugly.tf"]
    assert terraform.fmt_check(recursive=False) == []


def test_output_before_apply_is_empty(terraform: Terraform) -> None:
    assert terraform.output() == {}


# -- configuration -----------------------------------------------------------------------------


@pytest.fixture
def recording_binary(tmp_path: Path) -> Path:
    """A wrapper that records its arguments and TF_* environment, then runs terraform."""
    terraform_path = shutil.which("terraform")
    return write_script(
        tmp_path / "recording-terraform",
        f"""\
        #!/bin/sh
        echo "$*" >> "$RECORD_DIR/calls"
        env | grep '^TF_' | sort > "$RECORD_DIR/env"
        exec {terraform_path} "$@"
        """,
    )


def test_binary_override_is_called_with_standard_flags(
    recording_binary: Path, config: TerraformConfig, tmp_path: Path
) -> None:
    runner = Terraform(
        TerraformConfig(
            binary=str(recording_binary),
            working_dir=config.working_dir,
            data_dir=config.data_dir,
            env={"RECORD_DIR": str(tmp_path)},
        )
    )
    runner.plan()
    runner.destroy()
    plan_call, destroy_call = (tmp_path / "calls").read_text().splitlines()
    chdir = f"-chdir={config.working_dir.resolve()}"
    assert plan_call == f"{chdir} plan -input=false -no-color -json"
    assert destroy_call == f"{chdir} apply -input=false -no-color -json -destroy -auto-approve"
    assert "-force" not in destroy_call
    env = (tmp_path / "env").read_text()
    assert "TF_IN_AUTOMATION=1" in env
    assert f"TF_DATA_DIR={config.data_dir.resolve()}" in env


def test_dangling_cli_config_is_replaced_by_an_empty_file(
    recording_binary: Path, config: TerraformConfig, tmp_path: Path
) -> None:
    runner = Terraform(
        TerraformConfig(
            binary=str(recording_binary),
            working_dir=config.working_dir,
            data_dir=config.data_dir,
            env={"RECORD_DIR": str(tmp_path), "TF_CLI_CONFIG_FILE": str(tmp_path / "missing.tfrc")},
        )
    )
    runner.validate()
    empty = config.data_dir.resolve() / "empty.tfrc"
    assert f"TF_CLI_CONFIG_FILE={empty}" in (tmp_path / "env").read_text()
    assert empty.read_text() == ""


def test_existing_cli_config_is_left_alone(
    recording_binary: Path, config: TerraformConfig, tmp_path: Path
) -> None:
    real = tmp_path / "real.tfrc"
    real.write_text("disable_checkpoint = true\n")
    runner = Terraform(
        TerraformConfig(
            binary=str(recording_binary),
            working_dir=config.working_dir,
            data_dir=config.data_dir,
            env={"RECORD_DIR": str(tmp_path), "TF_CLI_CONFIG_FILE": str(real)},
        )
    )
    runner.validate()
    assert f"TF_CLI_CONFIG_FILE={real}" in (tmp_path / "env").read_text()


def test_env_values_never_appear_in_the_config_repr(module: Path, tmp_path: Path) -> None:
    config = TerraformConfig(working_dir=module, data_dir=tmp_path, env={"AWS_SECRET_ACCESS_KEY": "s3cr3t"})
    assert "s3cr3t" not in repr(config)


def test_extra_env_reaches_terraform(config: TerraformConfig) -> None:
    runner = Terraform(
        TerraformConfig(working_dir=config.working_dir, data_dir=config.data_dir, env={"TF_VAR_n": "3"})
    )
    assert runner.plan().summary.add == 3


def test_aws_provider_from_the_mirror_is_symlinked_through_the_cache(tmp_path: Path) -> None:
    plugin_dir = Path(os.environ.get("TF_PLUGIN_DIR") or DEFAULT_PLUGIN_MIRROR)
    if not (plugin_dir / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
        pytest.skip(f"no hashicorp/aws filesystem mirror at {plugin_dir} (set TF_PLUGIN_DIR)")
    version = next((plugin_dir / "registry.terraform.io" / "hashicorp" / "aws").iterdir()).name
    module = write_module(
        tmp_path / "aws",
        'terraform {\n  required_providers {\n    aws = {\n      source  = "hashicorp/aws"\n'
        f'      version = "{version}"\n    }}\n  }}\n}}\n',
    )
    cache = tmp_path / "cache"
    events: list[ProgressEvent] = []
    runner = Terraform(
        TerraformConfig(
            working_dir=module, data_dir=tmp_path / "data", plugin_dir=plugin_dir, plugin_cache_dir=cache
        ),
        on_event=events.append,
    )
    runner.init()
    installed = next(
        (tmp_path / "data" / "providers" / "registry.terraform.io" / "hashicorp" / "aws").glob("*/*")
    )
    assert installed.is_symlink(), "the 700 MB provider was copied instead of linked"
    assert installed.readlink().is_relative_to(cache.resolve())
    assert any(isinstance(e, LogEvent) and "hashicorp/aws" in e.message for e in events)
