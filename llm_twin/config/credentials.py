"""One AWS identity as data: the control layer (terraform, deploys) and the client (inference) both
run as one, and neither may reach into the other's module to name it.

Pure: no boto3 here. Each layer builds its own session in one line:
`boto3.Session(**credentials.session_arguments(), region_name=region)`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Credentials"]


@dataclass(frozen=True)
class Credentials:
    """One AWS identity: keys, or a named profile (keys empty)."""

    access_key_id: str = ""
    secret_access_key: str = ""
    session_token: str = ""
    profile: str = ""

    def __repr__(self) -> str:
        return f"Credentials(access_key_id={self.access_key_id!r}, profile={self.profile!r})"

    def as_env(self) -> dict[str, str]:
        """Environment for a terraform child process running as this identity."""
        if self.profile and not self.access_key_id:
            return {"AWS_PROFILE": self.profile}
        # Every key is set, even empty, so nothing inherited from the caller's shell mixes in.
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }

    def session_arguments(self) -> dict[str, str | None]:
        """Keyword arguments for `boto3.Session`: the keys when there are some, else the profile
        (None: boto3's default chain)."""
        if self.access_key_id:
            return {
                "aws_access_key_id": self.access_key_id,
                "aws_secret_access_key": self.secret_access_key,
                "aws_session_token": self.session_token or None,
            }
        return {"profile_name": self.profile or None}
