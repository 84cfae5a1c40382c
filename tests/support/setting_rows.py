"""The shape of a hostile-setting row and the "allowed" texts the rows share.

`tests/system/bad_settings_rows.py` holds the rows; `tests/system/test_bad_input.py` runs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SettingRow:
    """One hostile value: the setting it is for, and the one line on stderr it must produce."""

    setting: str
    value: str
    line: str
    command: tuple[str, ...] = ("apply",)
    env: dict[str, str] = field(default_factory=dict)
    """Other settings the row needs, e.g. TARGET=aws."""
    dotenv: bool = False
    """The value comes from the `.env` file instead of the environment."""

    @property
    def id(self) -> str:
        return f"{self.setting}={self.value!r}" + (" in .env" if self.dotenv else "")


def bad(setting: str, value: str, allowed: str, *command: str, **options: object) -> SettingRow:
    """A row whose line is the common shape."""
    line = f"SettingsError: {setting}={value!r} is invalid: {allowed}"
    return SettingRow(setting, value, line, command or ("apply",), **options)  # type: ignore[arg-type]


def secret(setting: str, value: str, allowed: str, *command: str) -> SettingRow:
    """A secret's line never holds its value."""
    line = f"SettingsError: {setting} is invalid: {allowed} (the value is not shown)"
    return SettingRow(setting, value, line, command or ("apply",))


BOOL = "expected true or false"
REGION = "expected an AWS region with SageMaker hosting, e.g. eu-central-1 or us-east-1"
PREFIX = (
    "expected 3-24 lowercase letters, digits or '-', starting with a letter and ending with a letter or digit"
)
ENDPOINT = "SageMaker allows 1-63 letters, digits or '-', starting and ending with a letter or digit"
MODEL_ID = (
    "expected a Hub repo id like owner/name (letters, digits, '-', '_' or '.', at most 96 each, "
    "no '--' or '..') or an absolute path, without spaces"
)
IMAGE = "expected empty or an image reference repo:tag, without spaces"
REVISION = (
    "expected a 40-hex commit sha, or a branch or tag name (letters, digits, '.', '_', '-', '/'; "
    "no '..', '//', '/.', and no '/', '.' or '.lock' at the end), or empty for the default branch"
)
INSTANCE = "expected a SageMaker instance type starting with 'ml.', e.g. ml.g5.2xlarge"
S3_PREFIX = "expected empty or an S3 prefix ending in '/', e.g. s3://bucket/models/twin/v1/"
CRON = "expected cron(minutes hours day-of-month month day-of-week year), e.g. cron(0 19 ? * MON-FRI *)"
KEY_ID = "expected up to 128 letters, digits or '_'"
PRINTABLE = "expected printable ASCII characters without spaces"
ORIGINS = (
    "is not an origin: expected comma-separated scheme://host[:port] without a path, "
    "e.g. http://localhost:3000, or * alone"
)
GATEWAY_TOKEN = (
    "SettingsError: GATEWAY_TOKEN is invalid: expected 16-512 printable ASCII characters without spaces "
    "(e.g. the output of `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
)
HOST = "expected an IP address such as 127.0.0.1 or 0.0.0.0, or a host name"
AWS = {
    "TARGET": "aws",
    "AWS_ACCESS_KEY_ID": "AKIAEXAMPLEEXAMPLE00",
    "AWS_SECRET_ACCESS_KEY": "not-a-real-key",
}


def whole(lo: int, hi: int) -> str:
    return f"expected a whole number from {lo} to {hi}"


def cron_field(name: str, text: str, values: str, wildcards: str) -> str:
    return f"the {name} field {text!r} is not allowed: values {values}, wildcards {wildcards}"
