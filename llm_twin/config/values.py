"""Parsers of one setting's raw text: each returns the typed value or raises one clear line.

A parser is called as `parse(NAME, raw)`, so its message names the setting, the value
(never for secrets) and what is allowed. Every pattern matches the whole value
(`fullmatch`): `re.match` with `$` lets a trailing newline through to Terraform.
"""

from __future__ import annotations

import ipaddress
import math
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from llm_twin.config.model import Secret
from llm_twin.config.rules import REGIONS, bucket_name_problem, cron_problem
from llm_twin.errors import SettingsError

TRUE, FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}
# Hugging Face's repo id (huggingface_hub's validate_repo_id), in ASCII; or a path in the container.
HUB_NAME = r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?"
MODEL_ID_RE = re.compile(rf"/[^\s\x00-\x1f\x7f]*|(?:{HUB_NAME}/)?{HUB_NAME}")
GATEWAY_TOKEN_RE = re.compile(r"^[!-~]{16,512}$")
ORIGIN_RE = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")
HOST_RE = re.compile(
    r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


def invalid(name: str, raw: str, allowed: str) -> SettingsError:
    """The one shape of a bad-setting message: the setting, its value, what is allowed."""
    return SettingsError(f"{name}={raw!r} is invalid: {allowed}")


# -- numbers ---------------------------------------------------------------------

# ASCII digits only: int() also takes "1_000" and other scripts' digits such as "١".
_WHOLE = re.compile(r"[+-]?[0-9]+")
# Plain decimals only: float() also takes "inf", "nan", "1_0" and "infinity".
_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


@dataclass(frozen=True)
class WholeNumber:
    """A whole number within [lo, hi]; the bounds are read by the tests that hold Terraform to them."""

    lo: int
    hi: int
    optional: bool = False
    """Empty means None ("derive it")."""

    @property
    def allowed(self) -> str:
        return f"expected a whole number from {self.lo} to {self.hi}" + (" or empty" if self.optional else "")

    def __call__(self, name: str, raw: str) -> int | None:
        text = raw.strip()
        if self.optional and text == "":
            return None
        if not _WHOLE.fullmatch(text):
            raise invalid(name, raw, self.allowed)
        try:
            value = int(text)
        except ValueError:  # more digits than Python converts
            raise invalid(name, raw, self.allowed) from None
        if not self.lo <= value <= self.hi:
            raise invalid(name, raw, self.allowed)
        return value


def _plain(number: float) -> str:
    """10000000, not 1e+07: a bound reads as the user would type it."""
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


@dataclass(frozen=True)
class BoundedNumber:
    """A finite decimal number within [lo, hi], or (lo, hi] when `lo_open`."""

    lo: float
    hi: float
    lo_open: bool = False

    @property
    def allowed(self) -> str:
        lo, hi = _plain(self.lo), _plain(self.hi)
        return (
            f"expected a number > {lo} and at most {hi}"
            if self.lo_open
            else f"expected a number from {lo} to {hi}"
        )

    def __call__(self, name: str, raw: str) -> float:
        text = raw.strip()
        if not _DECIMAL.fullmatch(text):
            raise invalid(name, raw, self.allowed)
        value = float(text)
        above_lo = value > self.lo if self.lo_open else value >= self.lo
        if not (math.isfinite(value) and above_lo and value <= self.hi):
            raise invalid(name, raw, self.allowed)
        return value


def boolean(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in TRUE:
        return True
    if lowered in FALSE:
        return False
    raise invalid(name, raw, "expected true or false")


def optional_boolean(name: str, raw: str) -> bool | None:
    return None if raw.strip() == "" else boolean(name, raw)


def choice(*choices: str) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        value = raw.strip()
        if value not in choices:
            raise invalid(name, raw, f"allowed: {', '.join(c or '(empty)' for c in choices)}")
        return value

    return parse


def pattern(regex: re.Pattern[str], allowed: str) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        if not regex.fullmatch(raw):
            raise invalid(name, raw, allowed)
        return raw

    return parse


def model_id(name: str, raw: str) -> str:
    if not MODEL_ID_RE.fullmatch(raw) or (
        not raw.startswith("/") and ("--" in raw or ".." in raw or raw.endswith(".git"))
    ):
        raise invalid(
            name,
            raw,
            "expected a Hub repo id like owner/name (letters, digits, '-', '_' or '.', at most 96 each, "
            "no '--' or '..') or an absolute path, without spaces",
        )
    return raw


def optional_model_id(name: str, raw: str) -> str:
    """Empty (kept as "", not the default), or what `model_id` accepts."""
    return "" if raw.strip() == "" else model_id(name, raw)


# A git ref as the Hub takes it in a URL (git check-ref-format, in ASCII): branches, tags, refs/pr/N.
REVISION_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/-]{0,254}")
COMMIT_RE = re.compile(r"[0-9a-f]{40}")
REVISION_ALLOWED = (
    "expected a 40-hex commit sha, or a branch or tag name (letters, digits, '.', '_', '-', '/'; "
    "no '..', '//', '/.', and no '/', '.' or '.lock' at the end), or empty for the default branch"
)


def revision(name: str, raw: str) -> str:
    """HF_MODEL_REVISION: what both the Hub client and TGI's REVISION accept; empty is main."""
    if raw == "" or COMMIT_RE.fullmatch(raw):
        return raw
    if (
        not REVISION_RE.fullmatch(raw)
        or any(bad in raw for bad in ("..", "//", "/."))
        or raw.endswith(("/", ".", ".lock"))
    ):
        raise invalid(name, raw, REVISION_ALLOWED)
    return raw


def region(name: str, raw: str) -> str:
    if raw not in REGIONS:
        raise invalid(
            name, raw, "expected an AWS region with SageMaker hosting, e.g. eu-central-1 or us-east-1"
        )
    return raw


def s3_prefix(name: str, raw: str) -> str:
    match = re.fullmatch(r"s3://([^/]+)/[^\x00-\x1f\x7f]*/", raw)
    if raw and not match:
        raise invalid(
            name, raw, "expected empty or an S3 prefix ending in '/', e.g. s3://bucket/models/twin/v1/"
        )
    if match and (problem := bucket_name_problem(match[1])):
        raise invalid(name, raw, problem)
    return raw


def bucket(name: str, raw: str) -> str:
    """Empty (the default name), or a name S3 accepts for a general purpose bucket."""
    if raw and (problem := bucket_name_problem(raw)):
        raise invalid(name, raw, problem)
    return raw


def cron(name: str, raw: str) -> str:
    if problem := cron_problem(raw):
        raise invalid(name, raw, problem)
    return raw


def timezone(name: str, raw: str) -> str:
    value = raw.strip()
    if value != "UTC" and value not in zoneinfo.available_timezones():
        raise invalid(name, raw, "expected UTC or an IANA time zone such as Europe/Berlin")
    return value


def text(name: str, raw: str) -> str:
    return raw.strip()


def secret(regex: re.Pattern[str], allowed: str) -> Callable[[str, str], Secret]:
    """A credential's characters are checked, so a pasted line break never reaches a header."""

    def parse(name: str, raw: str) -> Secret:
        value = raw.strip()
        if value and not regex.fullmatch(value):
            raise SettingsError(f"{name} is invalid: {allowed} (the value is not shown)")
        return Secret(value)

    return parse


# IAM's accessKeyIdType is [\w]+, at most 128; the emulator's "test" key is shorter than AWS's 16.
key_id = secret(re.compile(r"[A-Za-z0-9_]{1,128}"), "expected up to 128 letters, digits or '_'")
printable_secret = secret(re.compile(r"[!-~]+"), "expected printable ASCII characters without spaces")


def path(name: str, raw: str) -> Path:
    return Path(raw).expanduser()


def optional_path(name: str, raw: str) -> Path | None:
    return Path(raw).expanduser() if raw.strip() else None


def gateway_token(name: str, raw: str) -> Secret:
    # The value is never echoed back, not even in the error: it is a secret either way.
    value = raw.strip()
    if value and not GATEWAY_TOKEN_RE.fullmatch(value):
        raise SettingsError(
            f"{name} is invalid: expected 16-512 printable ASCII characters without spaces "
            "(e.g. the output of `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )
    return Secret(value)


def origins(name: str, raw: str) -> tuple[str, ...]:
    origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    if origins == ("*",):
        return origins
    for origin in origins:
        if not ORIGIN_RE.fullmatch(origin):
            raise invalid(
                name,
                raw,
                f"{origin!r} is not an origin: expected comma-separated scheme://host[:port] without a path, "
                "e.g. http://localhost:3000, or * alone",
            )
    return origins


def host(name: str, raw: str) -> str:
    value = raw.strip()
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    if len(value) > 253 or not HOST_RE.fullmatch(value):
        raise invalid(name, raw, "expected an IP address such as 127.0.0.1 or 0.0.0.0, or a host name")
    return value
