"""checkov over terraform/ with the one config file, `.checkov.yaml`: no failed check.

checkov lives in its own venv (its pins clash with ours); the Makefile installs it and
exports CHECKOV. Run by hand, the tests look in the same default place.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

CONFIG = REPO / ".checkov.yaml"
MAX_SKIPS = 5


def _pinned_version() -> str:
    match = re.search(r"^CHECKOV_VERSION := (\S+)$", (REPO / "Makefile").read_text(), re.MULTILINE)
    assert match, "the Makefile pins CHECKOV_VERSION"
    return match.group(1)


@dataclass(frozen=True)
class Scan:
    """One checkov run: its exit code and its JSON report."""

    returncode: int
    report: dict[str, Any]

    @property
    def failed(self) -> list[tuple[str, str, str]]:
        return [
            (c["check_id"], c["resource"], c["file_path"]) for c in self.report["results"]["failed_checks"]
        ]


def _start_checkov(*args: str) -> subprocess.Popen[str]:
    binary = Path(os.environ.get("CHECKOV") or REPO / ".venv" / "tools" / "checkov" / "bin" / "checkov")
    assert binary.exists(), f"{binary} is missing: `make test` or `make lint` installs checkov"
    return subprocess.Popen(
        [str(binary), "--config-file", str(CONFIG), "--output", "json", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "LOG_LEVEL": "ERROR"},
    )


def _finish(process: subprocess.Popen[str]) -> Scan:
    stdout, stderr = process.communicate(timeout=600)
    assert stdout.strip(), stderr[-2000:]
    report = json.loads(stdout)
    assert isinstance(report, dict) and report["check_type"] == "terraform", report
    return Scan(process.returncode, report)


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Scan]:
    """The repository's scan and a regressed copy's, run side by side (each is mostly start-up)."""
    # The same config on a copy with one regression shows the scan is live, not skipped away.
    copy = tmp_path_factory.mktemp("checkov") / "terraform"
    shutil.copytree(REPO / "terraform", copy, ignore=shutil.ignore_patterns(".terraform*"))
    s3 = copy / "modules" / "s3" / "main.tf"
    s3.write_text(s3.read_text().replace("block_public_acls       = true", "block_public_acls       = false"))
    running = {"repository": _start_checkov(), "public_acls": _start_checkov("--directory", str(copy))}
    return {name: _finish(process) for name, process in running.items()}


def test_checkov_finds_no_failed_check(scans: dict[str, Scan]) -> None:
    scan = scans["repository"]
    assert scan.failed == []
    assert scan.returncode == 0
    summary = scan.report["summary"]
    assert summary["parsing_errors"] == 0
    # Both stacks and every module were read, and many checks really ran.
    assert summary["resource_count"] >= 25
    assert summary["passed"] >= 60
    assert summary["checkov_version"] == _pinned_version()


def test_checkov_fails_a_bucket_that_allows_public_acls(scans: dict[str, Scan]) -> None:
    scan = scans["public_acls"]
    assert scan.returncode == 1
    assert "CKV_AWS_53" in {check_id for check_id, _, _ in scan.failed}


def test_skips_live_in_the_config_file_with_one_reason_each() -> None:
    text = CONFIG.read_text()
    # Other ways to silence a check would bypass the count and the reasons.
    assert not re.search(
        r"^(soft-fail|soft-fail-on|skip-path|skip-resources-without-violations|check):", text, re.M
    )
    lines = text.splitlines()
    start = lines.index("skip-check:")
    entries = []
    for index in range(start + 1, len(lines)):
        line = lines[index]
        if not line.startswith("  "):
            break
        if line.strip().startswith("- "):
            reason = lines[index - 1].strip()
            entries.append((line.strip()[2:], reason))
    assert 0 < len(entries) <= MAX_SKIPS
    for check_id, reason in entries:
        assert re.fullmatch(r"CKV2?_AWS_\d+", check_id), check_id
        assert reason.startswith("# ") and len(reason) > 30, f"{check_id} needs a one-line reason above it"
    inline = [
        str(path.relative_to(REPO))
        for path in (REPO / "terraform").rglob("*.tf")
        if ".terraform" not in path.parts and "checkov:skip" in path.read_text()
    ]
    assert inline == [], "skips belong in .checkov.yaml only"
