"""What a local checkpoint directory holds, and the names it is stored under.

Pure logic over a directory listing (plus hashing of the files): no AWS here. A
checkpoint is a directory with `config.json` and weights in exactly one format:
safetensors, or pickle (`*.bin`, `*.pt`, `*.pth`, which must be converted first).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypedDict

from llm_twin.errors import CheckpointError

WeightFormat = Literal["safetensors", "pickle"]

SAFETENSORS_SUFFIXES = (".safetensors",)
PICKLE_SUFFIXES = (".bin", ".pt", ".pth")
# Pickles that ship next to weights but are not weights (Trainer's own state).
NOT_WEIGHTS = frozenset({"training_args.bin", "optimizer.pt", "scheduler.pt", "rng_state.pth"})
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
HASH_CHUNK = 8 * 1024 * 1024
VERSION_HASH_LENGTH = 12


@dataclass(frozen=True)
class CheckpointFile:
    """One file of a checkpoint, as it will be stored."""

    relative: str
    """POSIX path under the checkpoint root; also the key under the model's prefix."""
    size: int
    sha256: str


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint directory that passed inspection."""

    root: Path
    files: tuple[CheckpointFile, ...]
    weight_format: WeightFormat
    weights: tuple[str, ...]
    """Relative paths of the weight files."""

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def content_hash(self) -> str:
        """Hash of every path and checksum: the same files give the same version."""
        return manifest_hash((f.relative, f.sha256) for f in self.files)

    @property
    def default_version(self) -> str:
        return self.content_hash[:VERSION_HASH_LENGTH]


MANIFEST = "llm-twin-manifest.json"
"""The manifest's key under a model's prefix: `model push` writes it last, so a prefix without it is incomplete."""


class ManifestFile(TypedDict, total=False):
    """One stored file in a model manifest."""

    path: str
    """Relative to the model's prefix, as `CheckpointFile.relative`."""
    size: int
    sha256: str


class Manifest(TypedDict, total=False):
    """`llm-twin-manifest.json`, written last by `model push` and read by the store and the emulator.

    Every key may be missing in a manifest read back from S3 (it is JSON anyone could write),
    so readers use `.get` with a default.
    """

    name: str
    version: str
    format: WeightFormat
    created: str
    """ISO 8601, UTC, in seconds."""
    files: list[ManifestFile]


def weight_format_of(relative: str) -> WeightFormat | None:
    name = relative.rsplit("/", 1)[-1]
    if name.endswith(SAFETENSORS_SUFFIXES):
        return "safetensors"
    if name.endswith(PICKLE_SUFFIXES) and name not in NOT_WEIGHTS:
        return "pickle"
    return None


def checkpoint_paths(root: Path) -> list[str]:
    """Regular files under `root`, relative and sorted; hidden files and directories (.git, .cache) are left out."""
    found = []
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        found.append(relative.as_posix())
    return sorted(found)


def classify(root: Path, relative_paths: list[str]) -> tuple[WeightFormat, tuple[str, ...]]:
    """The one weight format of a listing; CheckpointError names what is missing or mixed."""
    if "config.json" not in relative_paths:
        raise CheckpointError(
            f"{root} is not a checkpoint: it has no config.json (expected a Hugging Face model directory "
            "with config.json and *.safetensors weights)"
        )
    by_format: dict[WeightFormat, list[str]] = {"safetensors": [], "pickle": []}
    for relative in relative_paths:
        kind = weight_format_of(relative)
        if kind is not None:
            by_format[kind].append(relative)
    if by_format["safetensors"] and by_format["pickle"]:
        raise CheckpointError(
            f"{root} mixes safetensors and pickle weights ({by_format['safetensors'][0]} and "
            f"{by_format['pickle'][0]}): keep one format, so it is clear which weights are served"
        )
    for found in by_format:
        if by_format[found]:
            return found, tuple(by_format[found])
    raise CheckpointError(
        f"{root} is not a checkpoint: it has config.json but no weights (expected *.safetensors, "
        "or pytorch_model*.bin with --convert)"
    )


def inspect_checkpoint(root: Path) -> Checkpoint:
    """List, classify and hash a checkpoint directory; CheckpointError when it is not one."""
    root = Path(root)
    if not root.is_dir():
        raise CheckpointError(f"{root} is not a directory: expected a checkpoint directory with config.json")
    relative_paths = checkpoint_paths(root)
    weight_format, weights = classify(root, relative_paths)
    try:
        json.loads((root / "config.json").read_text())
    except ValueError as exc:
        raise CheckpointError(f"{root / 'config.json'} is not valid JSON: {exc}") from exc
    files = tuple(
        CheckpointFile(relative, (root / relative).stat().st_size, file_sha256(root / relative))
        for relative in relative_paths
    )
    return Checkpoint(root=root, files=files, weight_format=weight_format, weights=weights)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_hash(entries: Iterable[tuple[str, str]]) -> str:
    digest = hashlib.sha256()
    for relative, sha in sorted(entries):
        digest.update(f"{relative}\0{sha}\n".encode())
    return digest.hexdigest()


def model_name(raw: str) -> str:
    """A name as given (or a directory name), lower-cased; CheckpointError when S3-unsafe."""
    name = raw.strip().lower()
    if not NAME_RE.match(name):
        raise CheckpointError(
            f"model name {raw!r} is invalid: expected 1-63 lowercase letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (pass --name)"
        )
    return name


def model_version(raw: str) -> str:
    if not VERSION_RE.match(raw):
        raise CheckpointError(
            f"model version {raw!r} is invalid: expected 1-63 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return raw


def model_prefix(name: str, version: str) -> str:
    """The key prefix of one stored model version, ending in '/'."""
    return f"models/{name}/{version}/"
