"""The commands that run the two stacks through terraform: render, bootstrap, plan, apply, destroy,
destroy-bootstrap, and the read-only output, status and validate.

Ctrl-C while terraform runs stops it gracefully (the runner forwards SIGINT and waits
for the state to be saved), which is what the root handler then says.
"""

from __future__ import annotations

import json
import sys

import click

from llm_twin.cli import context
from llm_twin.cli.context import READ_ONLY_INTERRUPTED, TERRAFORM_INTERRUPTED, interrupts, say
from llm_twin.cli.cost import confirm_apply_cost
from llm_twin.cli.options import as_admin_option
from llm_twin.cli.preflight import preflight_before_apply
from llm_twin.control import local_target, tfvars
from llm_twin.control.tf.display import render

__all__ = [
    "apply",
    "bootstrap",
    "destroy",
    "destroy_bootstrap",
    "output",
    "plan",
    "render_vars",
    "status",
    "validate",
]


@click.command("render")
@click.pass_context
@interrupts(TERRAFORM_INTERRUPTED)
def render_vars(ctx: click.Context) -> None:
    """Write terraform.tfvars.json for each stack (secrets stay out of them)."""
    deployment = context.deployment(context.settings(ctx))
    settings = deployment.settings
    written = [tfvars.write_tfvars(deployment.bootstrap_paths.tfvars, tfvars.bootstrap_vars(settings))]
    if deployment.has_state(deployment.bootstrap_paths):
        outputs = deployment.bootstrap_outputs()
        written.append(tfvars.write_tfvars(deployment.main_paths.tfvars, tfvars.main_vars(settings, outputs)))
    else:
        say("the main stack's variables need the bootstrap's outputs: run `llm-twin bootstrap` first")
    for path in written:
        click.echo(f"wrote {path}")


@click.command()
@click.option(
    "--rotate-key", is_flag=True, help="Replace the deployer's access key and rewrite the credentials file."
)
@click.option("--if-needed", is_flag=True, help="Do nothing when the bootstrap already ran on this target.")
@click.pass_context
@interrupts(TERRAFORM_INTERRUPTED)
def bootstrap(ctx: click.Context, rotate_key: bool, if_needed: bool) -> None:
    """Stage 1, as admin: the deployer identity and the SageMaker execution role."""
    deployment = context.deployment(context.settings(ctx))
    if if_needed and not rotate_key and deployment.bootstrapped():
        say("the bootstrap already ran on this target")
        return
    result = deployment.bootstrap(rotate_key=rotate_key)
    say(f"deployer: {result.deployer_arn} (key {result.access_key_id})")
    say(f"execution role: {result.execution_role_arn}")


@click.command()
@as_admin_option
@click.pass_context
@interrupts(TERRAFORM_INTERRUPTED)
def plan(ctx: click.Context, as_admin: bool) -> None:
    """Show what apply would change in the main stack."""
    result = context.deployment(context.settings(ctx)).plan(as_admin=as_admin)
    if not result.changes:
        say("no changes: the stack matches the settings")


@click.command()
@as_admin_option
@click.option("--no-wait", is_flag=True, help="Return without waiting for the endpoint to be InService.")
@click.option(
    "--yes", "-y", is_flag=True, help="TARGET=aws: apply without asking to confirm the cost estimate."
)
@click.option("--skip-preflight", is_flag=True, help="TARGET=aws: apply without running preflight first.")
@click.pass_context
@interrupts(READ_ONLY_INTERRUPTED)
def apply(ctx: click.Context, as_admin: bool, no_wait: bool, yes: bool, skip_preflight: bool) -> None:
    """Stage 2, as the deployer: plan, apply that plan, wait until InService."""
    deployment = context.deployment(context.settings(ctx))
    preflight_before_apply(deployment, as_admin=as_admin, skip=skip_preflight)  # on aws: FAIL stops here
    confirm_apply_cost(deployment, yes=yes)  # on aws: the estimate, the budget, then a yes
    context.when_interrupted(TERRAFORM_INTERRUPTED)
    result = deployment.apply(as_admin=as_admin, wait=not no_wait)
    if result.endpoint is not None:
        say(
            f"endpoint {result.endpoint.name} is {result.endpoint.status} (config {result.endpoint.config_name})"
        )
        images = result.endpoint.resolved_images
        context.notice(local_target.stand_in_notice(deployment.settings, result.endpoint.name, images))


@click.command()
@as_admin_option
@click.pass_context
@interrupts(TERRAFORM_INTERRUPTED)
def destroy(ctx: click.Context, as_admin: bool) -> None:
    """Destroy the main stack (bucket, repository, endpoint)."""
    context.deployment(context.settings(ctx)).destroy(as_admin=as_admin)


@click.command("destroy-bootstrap")
@click.pass_context
@interrupts(TERRAFORM_INTERRUPTED)
def destroy_bootstrap(ctx: click.Context) -> None:
    """Destroy stage 1; refused while the main stack still has resources."""
    if context.deployment(context.settings(ctx)).destroy_bootstrap():
        say("bootstrap destroyed and the deployer's credentials file removed")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the outputs as JSON (sensitive values masked).")
@click.pass_context
@interrupts(READ_ONLY_INTERRUPTED)
def output(ctx: click.Context, as_json: bool) -> None:
    """The main stack's outputs."""
    outputs = context.deployment(context.settings(ctx)).outputs()
    shown = {name: ("<sensitive>" if value.sensitive else value.value) for name, value in outputs.items()}
    if as_json:
        click.echo(json.dumps(shown, indent=2, sort_keys=True))
        return
    if not shown:
        say("the main stack has no outputs yet: run `make apply`")
    for name, value in sorted(shown.items()):
        click.echo(f"{name} = {value}")


@click.command()
@click.pass_context
@interrupts(READ_ONLY_INTERRUPTED)
def status(ctx: click.Context) -> None:
    """The endpoint's status, current and previous config, instance counts and alarm states."""
    deployment = context.deployment(context.settings(ctx))
    report = deployment.status()
    state = report.endpoint
    click.echo(f"endpoint: {state.name}")
    click.echo(f"status:   {state.status}")
    click.echo(f"config:   {state.config_name} (serving)")
    for served in report.backends:
        click.echo(f"backend:  {served.backend} (variant {served.variant}, model {served.model_name})")
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
    context.notice(local_target.stand_in_notice(deployment.settings, state.name, state.resolved_images))
    for alarm in report.alarms:
        click.echo(f"alarm:    {alarm.name} {alarm.state} ({alarm.metric})".replace(" ()", ""))


@click.command()
@click.pass_context
@interrupts(READ_ONLY_INTERRUPTED)
def validate(ctx: click.Context) -> None:
    """`terraform validate` both stacks."""
    failed = False
    for stack, result in context.deployment(context.settings(ctx)).validate():
        click.echo(f"{stack}: {'valid' if result.valid else 'INVALID'}")
        for diagnostic in result.diagnostics:
            click.echo(f"  {render(diagnostic)}", err=True)
        failed = failed or not result.valid
    if failed:
        sys.exit(1)
