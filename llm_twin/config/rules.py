"""The rules a setting's value must follow, each taken from whoever enforces it.

S3's bucket names, Application Auto Scaling's cron, bounded numbers and usable
directories are facts about AWS and the file system, not about llm-twin, so they live
here and `spec.py` only says which setting follows which rule. Every check matches
the whole value (`fullmatch`): `re.match` with `$` lets a trailing newline through.
"""

from __future__ import annotations

import os
import platform
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# Regions with SageMaker hosting (2026). An unknown region fails here, not an hour later.
REGIONS = frozenset(
    [
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "ca-central-1",
        "ca-west-1",
        "mx-central-1",
        "sa-east-1",
        "eu-central-1",
        "eu-central-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eu-north-1",
        "eu-south-1",
        "eu-south-2",
        "af-south-1",
        "me-south-1",
        "me-central-1",
        "il-central-1",
        "ap-east-1",
        "ap-east-2",
        "ap-south-1",
        "ap-south-2",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-7",
        "us-gov-west-1",
        "us-gov-east-1",
        "cn-north-1",
        "cn-northwest-1",
    ]
)


# -- S3 bucket names (Amazon S3 User Guide, "General purpose bucket naming rules") --

_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP_FORMAT = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
RESERVED_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
RESERVED_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
BUCKET_RULE = "3-63 lowercase letters, digits, '.' or '-', starting and ending with a letter or digit"


def bucket_name_problem(name: str) -> str | None:
    """Why S3 would refuse `name` as a general purpose bucket; None when it would not."""
    if not _BUCKET.fullmatch(name):
        return f"an S3 bucket name is {BUCKET_RULE}"
    if ".." in name:
        return "an S3 bucket name has no two adjacent periods"
    if _IP_FORMAT.fullmatch(name):
        return "an S3 bucket name must not be formatted as an IP address"
    for prefix in RESERVED_BUCKET_PREFIXES:
        if name.startswith(prefix):
            return f"S3 reserves bucket names starting with {prefix!r}"
    for suffix in RESERVED_BUCKET_SUFFIXES:
        if name.endswith(suffix):
            return f"S3 reserves bucket names ending with {suffix!r}"
    return None


# -- Application Auto Scaling's cron (EventBridge's "Cron expressions reference") ----

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
CRON_ALLOWED = (
    "expected cron(minutes hours day-of-month month day-of-week year), e.g. cron(0 19 ? * MON-FRI *)"
)


@dataclass(frozen=True)
class CronField:
    """One of the six fields: its range, its names and the wildcards AWS documents for it."""

    name: str
    lo: int
    hi: int
    wildcards: str
    """Besides ',' '-' '*': any of '/', '?', 'L', 'W', '#'."""
    names: tuple[str, ...] = ()

    @property
    def values(self) -> str:
        named = f" or {self.names[0]}-{self.names[-1]}" if self.names else ""
        return f"{self.lo}-{self.hi}{named}"


CRON_FIELDS = (
    CronField("minutes", 0, 59, "/"),
    CronField("hours", 0, 23, "/"),
    CronField("day-of-month", 1, 31, "/?LW"),
    CronField("month", 1, 12, "/", MONTHS),
    CronField("day-of-week", 1, 7, "?L#", WEEKDAYS),
    CronField("year", 1970, 2199, "/"),
)
_CRON = re.compile(r"cron\((\S+) (\S+) (\S+) (\S+) (\S+) (\S+)\)")
_NUMBER = re.compile(r"[0-9]{1,4}")


def _value(field: CronField, text: str) -> bool:
    """A number in the field's range, or one of its names."""
    if _NUMBER.fullmatch(text):
        return field.lo <= int(text) <= field.hi
    return text.upper() in field.names


def _item(field: CronField, item: str) -> bool:
    """One comma-separated part of a field."""
    if "L" in field.wildcards:
        if item == "L" or (field.name == "day-of-month" and item == "LW"):
            return True
        if field.name == "day-of-week" and item.endswith("L"):
            return _value(field, item[:-1])
    if "W" in field.wildcards and item.endswith("W"):
        return _value(field, item[:-1])
    if "#" in field.wildcards and "#" in item:
        day, _, nth = item.partition("#")
        return _value(field, day) and nth in ("1", "2", "3", "4", "5")
    base, slash, step = item.partition("/")
    if slash and (
        "/" not in field.wildcards or not _NUMBER.fullmatch(step) or not 1 <= int(step) <= field.hi
    ):
        return False
    if base == "*":
        return True
    start, dash, end = base.partition("-")
    return _value(field, start) and (not dash or _value(field, end))


def cron_problem(expression: str) -> str | None:
    """Why Application Auto Scaling would refuse this cron; None when the fields are in range."""
    match = _CRON.fullmatch(expression)
    if match is None:
        return CRON_ALLOWED
    parts = match.groups()
    for field, text in zip(CRON_FIELDS, parts, strict=True):
        if text == "?" and "?" in field.wildcards:
            continue
        if not all(_item(field, item) for item in text.split(",")):
            wildcards = " ".join([",", "-", "*", *field.wildcards])
            return f"the {field.name} field {text!r} is not allowed: values {field.values}, wildcards {wildcards}"
    day_of_month, day_of_week = parts[2], parts[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        return "exactly one of day-of-month and day-of-week must be '?', e.g. cron(0 19 ? * MON-FRI *)"
    return None


# -- AWS profiles ---------------------------------------------------------------------


def profile_problem(name: str) -> str | None:
    """Why boto3 would raise ProfileNotFound for `name`; None when the config files have it."""
    import botocore.session  # botocore reads AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE now

    profiles = set(botocore.session.Session().available_profiles)
    if name in profiles:  # "default" too: boto3 raises ProfileNotFound for it when it is missing
        return None
    return (
        f"no such profile in the AWS config files (profiles there: {', '.join(sorted(profiles)) or 'none'})"
    )


# -- the file system ----------------------------------------------------------------


def directory_problem(path: Path) -> str | None:
    """Why `path` cannot serve as a writable directory (existing or made later); None when it can."""
    path = path.absolute()
    if path.exists():
        if not path.is_dir():
            return f"{path} is not a directory"
        if not os.access(path, os.W_OK | os.X_OK):
            return f"{path} is not writable"
        return None
    ancestor = next(parent for parent in path.parents if parent.exists())
    if not ancestor.is_dir():
        return f"it cannot be created: {ancestor} is not a directory"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return f"it cannot be created: {ancestor} is not writable"
    return None


def file_problem(path: Path) -> str | None:
    """Why `path` cannot be a file we write (its directory made if needed); None when it can."""
    if path.name in ("", ".", "..") or path.is_dir():
        return f"{path} is a directory, not a file name"
    problem = directory_problem(path.absolute().parent)
    return None if problem is None else f"its directory is unusable: {problem}"


_PROVIDER_SOURCE = re.compile(r'^\s*source\s*=\s*"([^"]+)"', re.MULTILINE)


def required_providers(version_files: Iterable[Path]) -> list[str]:
    """`hostname/namespace/type` of every provider the stacks' versions.tf files require."""
    sources: set[str] = set()
    for path in version_files:
        if path.is_file():
            sources.update(_PROVIDER_SOURCE.findall(path.read_text()))
    return sorted(s if s.count("/") == 2 else f"registry.terraform.io/{s}" for s in sources)


def terraform_platform() -> str:
    """Terraform's name for this machine's platform, e.g. linux_amd64."""
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)
    return f"{platform.system().lower()}_{arch}"


def plugin_mirror_problem(path: Path, providers: Iterable[str]) -> str | None:
    """Why `terraform init -plugin-dir` would fail on `path`; None when every provider is there.

    A mirror holds `<host>/<namespace>/<type>/<version>/<platform>/` (unpacked) or
    `<host>/<namespace>/<type>/terraform-provider-<type>_<version>_<platform>.zip` (packed).
    """
    if not path.exists():
        return f"{path} does not exist"
    if not path.is_dir():
        return f"{path} is not a directory"
    machine = terraform_platform()
    for source in providers:
        provider_dir = path / source
        kind = source.rsplit("/", 1)[-1]
        unpacked = provider_dir.glob(f"*/{machine}")
        packed = provider_dir.glob(f"terraform-provider-{kind}_*_{machine}.zip")
        if not any(p.is_dir() for p in unpacked) and not any(packed):
            return (
                f"it holds no {source} provider for {machine} (expected {provider_dir}/<version>/{machine}/)"
            )
    return None
