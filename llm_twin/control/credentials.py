"""The deployer's key pair on disk: written 0600, refused when readable by others.

The file is the hand-off between the two stages: the bootstrap writes it, the main
stack runs as it. Its secret is never printed; only the key id may be shown.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from llm_twin.config.credentials import Credentials
from llm_twin.errors import BootstrapRequiredError, StateError


def write_credentials(path: Path, access_key_id: str, secret_access_key: str, user_arn: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(
            {"AccessKeyId": access_key_id, "SecretAccessKey": secret_access_key, "UserArn": user_arn},
            handle,
            indent=2,
        )
        handle.write("\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def read_credentials(path: Path) -> tuple[Credentials, str]:
    """The deployer's credentials and user ARN; errors say which command fixes them."""
    if not path.is_file():
        raise BootstrapRequiredError(
            f"the deployer's credentials file {path} is missing: run `make bootstrap` (llm-twin bootstrap) first"
        )
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise StateError(
            f"{path} is readable by others (mode {mode:04o}): run `chmod 600 {path}`, "
            "or `llm-twin bootstrap --rotate-key` if it may have leaked"
        )
    try:
        data = json.loads(path.read_text())
        creds = Credentials(access_key_id=data["AccessKeyId"], secret_access_key=data["SecretAccessKey"])
        return creds, data.get("UserArn", "")
    except (ValueError, KeyError) as exc:
        raise StateError(f"{path} is not a credentials file written by llm-twin bootstrap: {exc}") from exc
