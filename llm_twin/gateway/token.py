"""Which bearer token the gateway demands, and where a generated one is kept.

The gateway always checks a token, so "unauthenticated means 401" holds on every bind.
GATEWAY_TOKEN is required when the gateway listens beyond loopback: anyone who reaches
the port could otherwise spend the endpoint. On loopback, an empty GATEWAY_TOKEN gets a
random token for this run, written to a 0600 file and never printed (only its path is),
because any web page the user opens can also send requests to localhost.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from llm_twin.config import Secret
from llm_twin.errors import SettingsError

__all__ = ["GatewayToken", "gateway_token", "is_loopback"]

TOKEN_FILE = Path("gateway") / "token"


@dataclass(frozen=True)
class GatewayToken:
    """The token in force, and the file it was written to when generated."""

    token: Secret
    generated_file: Path | None


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def gateway_token(configured: Secret, host: str, state_dir: Path) -> GatewayToken:
    """The configured token; on loopback without one, a fresh one in `<state_dir>/gateway/token`."""
    if configured:
        return GatewayToken(configured, None)
    if not is_loopback(host):
        raise SettingsError(
            f"GATEWAY_TOKEN is empty: serving on {host} needs one (anyone who reaches the port could spend "
            "the endpoint); set it to e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`, "
            "or bind to 127.0.0.1"
        )
    token = secrets.token_urlsafe(32)
    path = state_dir / TOKEN_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(descriptor, 0o600)  # an older file keeps its mode through O_CREAT
        os.write(descriptor, (token + "\n").encode())
    finally:
        os.close(descriptor)
    return GatewayToken(Secret(token), path)
