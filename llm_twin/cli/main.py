"""`llm-twin`: the Click command line. Only this module prints.

Every command loads and validates the settings first, so a bad value stops before
Terraform runs. Errors are caught once, at the root of our hierarchy, and printed as
`Name: message` with the error's exit code (2 for usage, 1 otherwise).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from llm_twin.cli.cost import confirm_apply_cost, cost_command
from llm_twin.cli.infer import infer
from llm_twin.cli.model import model
from llm_twin.cli.preflight import preflight_before_apply, preflight_command
from llm_twin.cli.serve import serve
from llm_twin.cli.state import bootstrap_state
from llm_twin.config import Settings, load_settings
from llm_twin.control import tfvars
from llm_twin.control.deploy.deployment import Deployment
from llm_twin.control.images import require_image
from llm_twin.control.tf import events as progress
from llm_twin.control.tf.setup import check_terraform_setup
from llm_twin.errors import LlmTwinError
from llm_twin_local.aws.daemon import LocalAws

# One line per resource as it is created or destroyed, plus summaries and problems.
SHOWN_EVENTS = (progress.ApplyComplete, progress.ApplyErrored, progress.ChangeSummary, progress.Diagnostic)


def _print_event(event: progress.ProgressEvent) -> None:
    if isinstance(event, progress.ChangeSummary) and event.operation == "plan" and event.total == 0:
        return
    if isinstance(event, progress.ApplyComplete) and event.action == "read":
        return
    if isinstance(event, SHOWN_EVENTS):
        click.echo(progress.render(event), err=isinstance(event, progress.Diagnostic))


def _say(message: str) -> None:
    click.echo(f"» {message}")


def handle_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Catch the library's root error once: `Name: message`, then its exit code."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except LlmTwinError as exc:
            click.echo(f"{type(exc).__name__}: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted: terraform was stopped gracefully and its state saved.", err=True)
            sys.exit(130)

    return wrapper


def _settings(ctx: click.Context) -> Settings:
    settings = load_settings(os.environ, ctx.obj["env_file"])
    require_image(settings)
    return settings


def _deployment(ctx: click.Context, *, terraform: bool = True) -> Deployment:
    """The deployment the settings describe; with `terraform`, its tooling checked before anything runs."""
    settings = _settings(ctx)
    if terraform:
        check_terraform_setup(settings)
    return Deployment(settings, on_event=_print_event, on_message=_say)


@click.group()
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path(".env"),
    show_default=True,
    help="Settings file; the environment overrides it.",
)
@click.version_option(package_name="llm-twin")
@click.pass_context
def main(ctx: click.Context, env_file: Path) -> None:
    """Deploy the LLM Twin to a SageMaker TGI endpoint and stream its tokens.

    TARGET=local (default) uses the embedded local AWS on loopback; TARGET=aws uses AWS.
    """
    ctx.obj = {"env_file": env_file}


as_admin_option = click.option(
    "--as-admin", is_flag=True, help="Run the main stack with the admin credentials (not the deployer's)."
)


@main.command()
@click.pass_context
@handle_errors
def render_vars(ctx: click.Context) -> None:
    """Write terraform.tfvars.json for each stack (secrets stay out of them)."""
    deployment = _deployment(ctx)
    settings = deployment.settings
    written = [tfvars.write_tfvars(deployment.bootstrap_paths.tfvars, tfvars.bootstrap_vars(settings))]
    if deployment.has_state(deployment.bootstrap_paths):
        outputs = deployment.bootstrap_outputs()
        written.append(tfvars.write_tfvars(deployment.main_paths.tfvars, tfvars.main_vars(settings, outputs)))
    else:
        _say("the main stack's variables need the bootstrap's outputs: run `llm-twin bootstrap` first")
    for path in written:
        click.echo(f"wrote {path}")


main.add_command(render_vars, name="render")


@main.command()
@click.option(
    "--rotate-key", is_flag=True, help="Replace the deployer's access key and rewrite the credentials file."
)
@click.option("--if-needed", is_flag=True, help="Do nothing when the bootstrap already ran on this target.")
@click.pass_context
@handle_errors
def bootstrap(ctx: click.Context, rotate_key: bool, if_needed: bool) -> None:
    """Stage 1, as admin: the deployer identity and the SageMaker execution role."""
    deployment = _deployment(ctx)
    if if_needed and not rotate_key and deployment.bootstrapped():
        _say("the bootstrap already ran on this target")
        return
    result = deployment.bootstrap(rotate_key=rotate_key)
    _say(f"deployer: {result.deployer_arn} (key {result.access_key_id})")
    _say(f"execution role: {result.execution_role_arn}")


@main.command()
@as_admin_option
@click.pass_context
@handle_errors
def plan(ctx: click.Context, as_admin: bool) -> None:
    """Show what apply would change in the main stack."""
    result = _deployment(ctx).plan(as_admin=as_admin)
    if not result.changes:
        _say("no changes: the stack matches the settings")


@main.command()
@as_admin_option
@click.option("--no-wait", is_flag=True, help="Return without waiting for the endpoint to be InService.")
@click.option(
    "--yes", "-y", is_flag=True, help="TARGET=aws: apply without asking to confirm the cost estimate."
)
@click.option("--skip-preflight", is_flag=True, help="TARGET=aws: apply without running preflight first.")
@click.pass_context
@handle_errors
def apply(ctx: click.Context, as_admin: bool, no_wait: bool, yes: bool, skip_preflight: bool) -> None:
    """Stage 2, as the deployer: plan, apply that plan, wait until InService."""
    deployment = _deployment(ctx)
    preflight_before_apply(deployment, as_admin=as_admin, skip=skip_preflight)  # on aws: FAIL stops here
    confirm_apply_cost(deployment, yes=yes)  # on aws: the estimate, the budget, then a yes
    result = deployment.apply(as_admin=as_admin, wait=not no_wait)
    if result.endpoint is not None:
        _say(
            f"endpoint {result.endpoint.name} is {result.endpoint.status} (config {result.endpoint.config_name})"
        )


@main.command()
@as_admin_option
@click.pass_context
@handle_errors
def destroy(ctx: click.Context, as_admin: bool) -> None:
    """Destroy the main stack (bucket, repository, endpoint)."""
    _deployment(ctx).destroy(as_admin=as_admin)


@main.command("destroy-bootstrap")
@click.pass_context
@handle_errors
def destroy_bootstrap(ctx: click.Context) -> None:
    """Destroy stage 1; refused while the main stack still has resources."""
    if _deployment(ctx).destroy_bootstrap():
        _say("bootstrap destroyed and the deployer's credentials file removed")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the outputs as JSON (sensitive values masked).")
@click.pass_context
@handle_errors
def output(ctx: click.Context, as_json: bool) -> None:
    """The main stack's outputs."""
    outputs = _deployment(ctx).outputs()
    shown = {name: ("<sensitive>" if value.sensitive else value.value) for name, value in outputs.items()}
    if as_json:
        click.echo(json.dumps(shown, indent=2, sort_keys=True))
        return
    if not shown:
        _say("the main stack has no outputs yet: run `make apply`")
    for name, value in sorted(shown.items()):
        click.echo(f"{name} = {value}")


@main.command()
@click.pass_context
@handle_errors
def status(ctx: click.Context) -> None:
    """The endpoint's status, current and previous config, instance counts and alarm states."""
    report = _deployment(ctx).status()
    state = report.endpoint
    click.echo(f"endpoint: {state.name}")
    click.echo(f"status:   {state.status}")
    click.echo(f"config:   {state.config_name} (serving)")
    if report.desired_config and report.desired_config != state.config_name:
        click.echo(f"desired:  {report.desired_config} (Terraform's; not serving)")
    if report.previous_config:
        rollout = report.last_rollout
        detail = f" (last rollout {rollout.outcome} at {rollout.at})" if rollout is not None else ""
        click.echo(f"previous: {report.previous_config}{detail}")
    for variant, count in state.instance_counts.items():
        desired = state.desired_instance_counts.get(variant, count)
        click.echo(f"variant:  {variant} ({count} instances, desired {desired})")
    click.echo(f"rollout:  {state.rollout or 'none (SageMaker default)'}")
    if state.async_output_s3_uri:
        click.echo(f"async:    {state.async_output_s3_uri}")
    if state.failure_reason:
        click.echo(f"failure:  {state.failure_reason}")
    for image in state.resolved_images:
        click.echo(f"serving:  {image}")
    for alarm in report.alarms:
        click.echo(f"alarm:    {alarm.name} {alarm.state} ({alarm.metric})".replace(" ()", ""))


@main.command()
@click.pass_context
@handle_errors
def validate(ctx: click.Context) -> None:
    """`terraform validate` both stacks."""
    failed = False
    for stack, result in _deployment(ctx).validate():
        click.echo(f"{stack}: {'valid' if result.valid else 'INVALID'}")
        for diagnostic in result.diagnostics:
            click.echo(f"  {progress.render(diagnostic)}", err=True)
        failed = failed or not result.valid
    if failed:
        sys.exit(1)


@main.group()
def local() -> None:
    """The embedded local AWS on loopback (the default target)."""


def _local(ctx: click.Context) -> LocalAws:
    settings = _settings(ctx)
    return LocalAws(settings.state.dir, settings.local.port, enforce_iam=settings.local.enforce_iam)


@local.command("up")
@click.pass_context
@handle_errors
def local_up(ctx: click.Context) -> None:
    """Start it in the background (no-op when it runs)."""
    state = _local(ctx).up()
    verb = "started" if state.started_now else "already running"
    click.echo(f"local AWS {verb} on {state.url} (pid {state.pid}, log {state.log_path})")


@local.command("down")
@click.pass_context
@handle_errors
def local_down(ctx: click.Context) -> None:
    """Stop it; everything it held is forgotten."""
    click.echo("local AWS stopped" if _local(ctx).down() else "local AWS was not running")


@local.command("status")
@click.pass_context
@handle_errors
def local_status(ctx: click.Context) -> None:
    """Say whether it runs, and where."""
    state = _local(ctx).status()
    if state.running:
        click.echo(f"running on {state.url} (pid {state.pid}, log {state.log_path})")
    else:
        click.echo("not running")
        sys.exit(3)


main.add_command(infer)
main.add_command(serve)
main.add_command(cost_command)
main.add_command(bootstrap_state)
main.add_command(model)
main.add_command(preflight_command)
