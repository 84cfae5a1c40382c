"""Who llm-twin acts as: the one place that picks between the admin and the deployer.

Two identities exist per target. The admin runs the bootstrap (it creates IAM); the
deployer, a user the bootstrap creates, runs everything after it with a narrow policy.
Its key pair is the hand-off between the stages, kept in a file (`credentials_path`).
Every command that talks to AWS asks this module which of the two it is:

    admin_credentials(settings)              the bootstrap, `--as-admin`, the state bucket
    deployer_credentials(settings)           the deployer's key file, read and checked
    main_stack_credentials(settings, ...)    the main stack: the deployer, verified with STS,
                                             unless --as-admin (admin keys are refused there)
    acting_credentials(settings, as_admin)   lookups (preflight): the deployer once it exists
    store_credentials(settings, as_admin)    the artifact bucket: the deployer unless --as-admin
    inference_credentials(settings)          invoking the endpoint (the CLI passes it to the client)

Nothing here prints; `main_stack_credentials` reports through the `identify` callback.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from llm_twin.config import Settings
from llm_twin.config.credentials import Credentials
from llm_twin.control.aws import Identity
from llm_twin.control.credentials import read_credentials
from llm_twin.errors import StateError

LOCAL_ADMIN = Credentials(access_key_id="test", secret_access_key="test")
"""The admin on the local target: the emulator accepts any key, these name the admin."""
STATE_ONLY = Credentials()
"""No identity: reading local state, outputs and validating need none."""

Identify = Callable[[str, Credentials], Identity]
"""Asks STS who `credentials` are, naming the stage they are for (Deployment.identify)."""


def admin_credentials(settings: Settings) -> Credentials:
    """The admin: the emulator's fixed key locally, the ADMIN_* settings (keys or profile) on AWS."""
    if settings.target == "local":
        return LOCAL_ADMIN
    admin = settings.admin
    return Credentials(
        access_key_id=admin.access_key_id.value,
        secret_access_key=admin.secret_access_key.value,
        session_token=admin.session_token.value,
        profile=admin.profile,
    )


def credentials_path(settings: Settings) -> Path:
    """The deployer's key file: under the target's state locally (the emulator forgets its keys),
    SAGEMAKER_USER_CREDENTIALS as configured on AWS."""
    if settings.target == "local":
        return settings.target_dir() / settings.state.credentials_file.name
    return settings.state.credentials_file


def has_deployer(settings: Settings) -> bool:
    """True once the bootstrap wrote the deployer's key file."""
    return credentials_path(settings).is_file()


def deployer_credentials(settings: Settings) -> tuple[Credentials, str]:
    """The deployer's key and user ARN; BootstrapRequiredError before the bootstrap ran."""
    return read_credentials(credentials_path(settings))


def main_stack_credentials(settings: Settings, *, as_admin: bool, identify: Identify) -> Credentials:
    """The main stack runs as the deployer; admin keys in its file are refused unless --as-admin.

    The file could hold any key (a copy-paste of the admin's, say): STS says who it really
    is, and only the deployer the bootstrap recorded may run the main stack.
    """
    if as_admin:
        admin = admin_credentials(settings)
        identify("main stack (--as-admin)", admin)
        return admin
    credentials, deployer_arn = deployer_credentials(settings)
    identity = identify("main stack", credentials)
    if deployer_arn and identity.arn != deployer_arn:
        raise StateError(
            f"the main stack must run as the deployer {deployer_arn}, but the credentials in "
            f"{credentials_path(settings)} are {identity.arn}; run `llm-twin bootstrap --rotate-key`, "
            "or pass --as-admin if you mean it"
        )
    return credentials


def store_credentials(settings: Settings, *, as_admin: bool) -> Credentials:
    """The artifact bucket's user: the deployer (its policy names the bucket) unless --as-admin."""
    if as_admin:
        return admin_credentials(settings)
    return deployer_credentials(settings)[0]


def acting_credentials(settings: Settings, *, as_admin: bool = False) -> Credentials:
    """The identity `apply` would run as: the deployer once bootstrapped, else the admin."""
    if as_admin or not has_deployer(settings):
        return admin_credentials(settings)
    return deployer_credentials(settings)[0]


def inference_credentials(settings: Settings) -> Credentials:
    """Who invokes the endpoint: the deployer's key; on AWS, the admin when there is no key file.

    On the local target a missing file means nothing was deployed, so it stops with
    BootstrapRequiredError (run the bootstrap) instead of falling back to the admin.
    """
    if settings.target == "local":
        return deployer_credentials(settings)[0]
    return acting_credentials(settings)
