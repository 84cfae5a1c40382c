"""The TGI clients people use, for tests that point them at our servers.

`huggingface_hub` and `openai` are ordinary dev dependencies. `text-generation` is not:
every release caps `huggingface-hub<1.0`, while the [local] extra pins 2.4.0, so pip cannot
resolve both in one venv (ResolutionImpossible). Its code only reads `build_hf_headers`,
which 2.4.0 still has; so, like checkov in the Makefile, it lives apart: installed once
with `--no-deps` under the venv's tools/ directory and put at the end of `sys.path` (a copy
of the pinned version already importable, e.g. installed by hand with --no-deps, is used as
it is). Its runtime needs (aiohttp, pydantic) are in the dev extra.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

TEXT_GENERATION_VERSION = "0.7.0"
"""The newest text-generation on PyPI (research.md B2)."""
OPENAI_VERSION = "3.57.0"
HUGGINGFACE_HUB_VERSION = "2.4.0"

UNICODE_PROMPT = "你好，世界 🙂🚀 — cafe\u0301 nai\u0308ve"
"""CJK, emoji (4-byte UTF-8) and combining accents (e + U+0301, i + U+0308, left decomposed)."""


def text_generation_dir() -> Path:
    """Where the client is kept: TEXT_GENERATION_DIR, else the venv's tools/ (as checkov's)."""
    configured = os.environ.get("TEXT_GENERATION_DIR")
    if configured:
        return Path(configured)
    return Path(sys.prefix) / "tools" / f"text-generation-{TEXT_GENERATION_VERSION}"


def _install(target: Path) -> None:
    """pip install --no-deps into a fresh directory, then rename it into place (safe if two race)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".text-generation-", dir=target.parent))
    try:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "--target",
                str(staging),
                f"text-generation=={TEXT_GENERATION_VERSION}",
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        try:
            staging.rename(target)
        except OSError:
            if not (target / "text_generation").is_dir():  # not a lost race: a real failure
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _installed_version() -> str | None:
    try:
        return importlib.metadata.version("text-generation")
    except importlib.metadata.PackageNotFoundError:
        return None


def text_generation() -> ModuleType:
    """The `text_generation` package at TEXT_GENERATION_VERSION, installed on first use."""
    if importlib.util.find_spec("text_generation") is not None:
        if _installed_version() != TEXT_GENERATION_VERSION:
            raise RuntimeError(
                f"text-generation {_installed_version()} is importable; the tests pin {TEXT_GENERATION_VERSION}"
            )
        return importlib.import_module("text_generation")
    target = text_generation_dir()
    if not (target / "text_generation").is_dir():
        _install(target)
    if str(target) not in sys.path:
        sys.path.append(str(target))  # last: it must never shadow the venv's own packages
    module = importlib.import_module("text_generation")
    found = Path(module.__file__ or "").parent.parent
    if found != target:
        raise RuntimeError(f"text_generation was imported from {found}, not the pinned copy in {target}")
    return module
