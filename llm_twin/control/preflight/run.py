"""Preflight as `apply` would meet it: every lookup as the identity apply runs as, then every check."""

from __future__ import annotations

from llm_twin.control import identity
from llm_twin.control.deploy.stacks import Stacks
from llm_twin.control.preflight.checks import PreflightReport, run_checks
from llm_twin.control.preflight.lookups import DEFAULT_HUB_URL, gather


def run_preflight(
    stacks: Stacks, *, as_admin: bool = False, hub_url: str = DEFAULT_HUB_URL
) -> PreflightReport:
    """The report for `stacks.settings`; on the local target the emulator is started first.

    The lookups run as the deployer once the bootstrap made one (its policy is what apply
    meets), else, or with `as_admin`, as the admin.
    """
    stacks.ensure_local()
    credentials = identity.acting_credentials(stacks.settings, as_admin=as_admin)
    return run_checks(gather(stacks.settings, stacks.clients(credentials), hub_url=hub_url))
