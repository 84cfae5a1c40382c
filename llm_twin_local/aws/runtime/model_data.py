"""A `ModelDataSource` S3 prefix, downloaded from the emulator's own S3 into the model cache.

SageMaker fills /opt/ml/model from an uncompressed S3 prefix by trimming the prefix off each
key and splitting the rest by slashes into directories and a file name. Anyone who can
write to the bucket chooses those keys (the local AWS has no auth by default), so a key is
a path from an untrusted source: each one is checked before a single byte is written, the
whole download fails on the first bad one, and every target is resolved and checked to
stay inside the cache as well.

The names refused are AWS's own list (botocore's S3ModelDataSource.CompressionType): an
empty or blank name, a null byte, a name over 255 bytes, `.` and `..`; and a key ending in
`/` (an S3 console "folder"), which AWS documents as failing the deployment. Backslashes
are refused too: they separate paths on Windows, where a key could leave the cache with them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from llm_twin.protocol.checkpoints import MANIFEST, Manifest

if TYPE_CHECKING:
    from moto.s3.models import FakeKey

log = logging.getLogger(__name__)

MAX_NAME_BYTES = 255


@dataclass(frozen=True)
class PrefixObject:
    """One object under the prefix: its full key, the path it becomes, and moto's stored object."""

    key: str
    relative: str
    stored: FakeKey


def unsafe_reason(relative: str) -> str | None:
    """Why `relative` (a key with its prefix trimmed) cannot be a path below the cache; None when it can."""
    if "\\" in relative:
        return "it holds a backslash"
    if "\0" in relative:
        return "it holds a null byte"
    if relative.startswith("/"):
        return "it is an absolute path (an empty name after the prefix)"
    for name in relative.split("/"):
        if not name.strip():
            return "it has an empty or blank name (a doubled or trailing slash)"
        if name in (".", ".."):
            return f"it has a {name!r} name"
        if len(name.encode()) > MAX_NAME_BYTES:
            return f"it has a name longer than {MAX_NAME_BYTES} bytes"
    return None


def check_keys(uri: str, objects: list[PrefixObject]) -> None:
    """OSError naming the first key that is not a safe relative path, or that clashes with another."""
    files = set()
    for item in objects:
        reason = unsafe_reason(item.relative)
        if reason is not None:
            raise OSError(
                f"ModelDataSource {uri}: refusing the key s3://{_bucket(uri)}/{item.key}: {reason}; {_ALLOWED}"
            )
        files.add(item.relative)
    for item in objects:
        parts = item.relative.split("/")
        for depth in range(1, len(parts)):
            if "/".join(parts[:depth]) in files:
                raise OSError(
                    f"ModelDataSource {uri}: the key s3://{_bucket(uri)}/{item.key} needs "
                    f"{'/'.join(parts[:depth])} as a directory, but another key makes it a file"
                )


_ALLOWED = "keys below the prefix must be relative paths of non-empty names, without '.', '..' or backslashes"


def inside(root: Path, relative: str) -> Path:
    """`root / relative`, resolved; OSError when it is not below `root` (a symlink could point out)."""
    resolved_root = root.resolve()
    target = (resolved_root / relative).resolve()
    if not target.is_relative_to(resolved_root) or target == resolved_root:
        raise OSError(f"{relative!r} resolves to {target}, outside {resolved_root}")
    return target


def prefix_objects(account_id: str, uri: str) -> list[PrefixObject]:
    """Every current object under `uri`, read from moto's S3 in process; OSError without the bucket."""
    from moto.s3.exceptions import MissingBucket
    from moto.s3.models import FakeKey, s3_backends

    bucket_name, _, prefix = uri.removeprefix("s3://").partition("/")
    if prefix and not prefix.endswith("/"):
        raise OSError(f"ModelDataSource {uri}: an S3Prefix S3Uri must end with a slash (/)")
    try:
        bucket = s3_backends[account_id]["aws"].get_bucket(bucket_name)
    except MissingBucket as exc:
        raise OSError(f"ModelDataSource {uri}: no bucket {bucket_name}") from exc
    return [
        PrefixObject(key=name, relative=name[len(prefix) :], stored=stored)
        for name, stored in sorted(bucket.keys.items())
        if name.startswith(prefix) and isinstance(stored, FakeKey)
    ]


def download(uri: str, objects: list[PrefixObject], cache_dir: Path) -> Path:
    """The prefix's copy under `cache_dir`, made now unless an identical one is there.

    The copy is keyed by the prefix and every object's size and ETag, so a changed object
    is fetched again; a half-written copy is never used. When the prefix holds an llm-twin
    manifest, each file's SHA-256 is checked against it. The caller holds the cache's lock.
    """
    if not objects:
        raise OSError(f"ModelDataSource {uri} holds no objects")
    check_keys(uri, objects)
    key = hashlib.sha256(
        "\n".join([uri, *(f"{o.relative}\0{o.stored.size}\0{o.stored.etag}" for o in objects)]).encode()
    ).hexdigest()[:16]
    target = cache_dir / key
    if target.is_dir():
        return target
    partial = target.with_name(key + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        checksums = _write(objects, partial)
        manifest = next((o.stored for o in objects if o.relative == MANIFEST), None)
        if manifest is not None:
            listed: Manifest = json.loads(manifest.value)
            for entry in listed.get("files", []):
                if checksums.get(entry.get("path", "")) != entry.get("sha256"):
                    raise OSError(f"{uri}{entry.get('path')} does not match the SHA-256 in its manifest")
    except OSError:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    partial.rename(target)
    log.info("downloaded %s (%d files) to %s", uri, len(checksums), target)
    return target


def _write(objects: list[PrefixObject], root: Path) -> dict[str, str]:
    """Write every object but the manifest below `root`; relative path -> SHA-256."""
    checksums = {}
    for item in objects:
        if item.relative == MANIFEST:
            continue
        destination = inside(root, item.relative)
        destination.parent.mkdir(parents=True, exist_ok=True)
        data = item.stored.value
        destination.write_bytes(data)
        checksums[item.relative] = hashlib.sha256(data).hexdigest()
    return checksums


def _bucket(uri: str) -> str:
    return uri.removeprefix("s3://").partition("/")[0]
