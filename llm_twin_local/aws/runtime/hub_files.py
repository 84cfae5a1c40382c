"""One Hub file into huggingface_hub's own cache, resumed from where any earlier attempt stopped.

huggingface_hub 2.4.0 resumes a cut body only within one call and deletes the partial
blob when the call fails (tests/support/test_hub_server.py shows both), so a killed
emulator or a dropped link would start a multi-GB file again from zero. This module
downloads each file itself with the client's own pieces (`hf_hub_url`,
`get_hf_file_metadata`, the shared HTTP session, `WeakFileLock`) into the cache layout
huggingface_hub reads, so transformers and the `hf` CLI see the same files:

    <cache>/models--owner--name/blobs/<etag>               the bytes, named by git blob id or LFS sha256
    <cache>/models--owner--name/blobs/<etag>.incomplete    what has arrived so far (kept across runs)
    <cache>/models--owner--name/snapshots/<commit>/<file>  a relative symlink to the blob
    <cache>/models--owner--name/refs/<branch or tag>       the commit it pointed at
    <cache>/.locks/models--owner--name/<etag>.lock         one writer per blob, across processes

A partial file is resumed with `Range: bytes=<its size>-`; a server that ignores the range
(200) starts it over. Every finished blob is checked against its etag (SHA-256 for LFS,
git's blob SHA-1 otherwise) before it is renamed into place, so resumed bytes are never trusted blindly.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

CHUNK_WAIT = 30.0
"""Seconds a body may stay silent before the attempt is cut and resumed."""
ATTEMPTS = 5
"""Attempts in a row that bring no new byte before a file is given up (as huggingface_hub's http_get)."""
BACKOFF = 1.0
T = TypeVar("T")


class Cancelled(Exception):
    """The endpoint went away (or timed out) while its model was downloading."""


@dataclass(frozen=True)
class RemoteFile:
    """A file of the commit being fetched: its repo path and size, from the model info."""

    path: str
    size: int


@dataclass(frozen=True)
class Repo:
    """Where a repo's files come from and go: the Hub, the token, the cache folder."""

    repo_id: str
    commit: str
    endpoint: str
    token: str | None
    cache: Path

    @property
    def folder(self) -> Path:
        from huggingface_hub.file_download import repo_folder_name

        return self.cache / repo_folder_name(repo_id=self.repo_id, repo_type="model")

    @property
    def snapshot(self) -> Path:
        return self.folder / "snapshots" / self.commit


Tick = Callable[[int], None]
"""Told each time bytes land on disk, with how many."""
Check = Callable[[], None]
"""Raises `Cancelled` when the download must stop."""


def fetch_file(repo: Repo, remote: RemoteFile, tick: Tick, check: Check) -> Path:
    """The file's path in the commit's snapshot, downloading (or resuming) its blob first."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.utils import WeakFileLock

    pointer = repo.snapshot / remote.path
    if pointer.is_file():
        tick(remote.size)
        return pointer
    url = hf_hub_url(repo.repo_id, remote.path, revision=repo.commit, endpoint=repo.endpoint)
    metadata = _retrying(
        lambda: get_hf_file_metadata(url, token=repo.token or False, timeout=CHUNK_WAIT), check
    )
    if metadata.etag is None:
        raise OSError(f"{url} has no ETag: is HF_ENDPOINT a Hugging Face Hub?")
    size = metadata.size if metadata.size is not None else remote.size
    blob = repo.folder / "blobs" / metadata.etag
    lock = repo.cache / ".locks" / repo.folder.name / f"{metadata.etag}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    blob.parent.mkdir(parents=True, exist_ok=True)
    with WeakFileLock(lock):
        if not blob.is_file():
            headers = _headers(repo, url, metadata.location)
            _download(metadata.location, headers, blob, size, metadata.etag, tick, check)
        else:
            tick(size)
    pointer.parent.mkdir(parents=True, exist_ok=True)
    pointer.unlink(missing_ok=True)
    pointer.symlink_to(os.path.relpath(blob, pointer.parent))
    return pointer


def write_ref(repo: Repo, revision: str | None) -> None:
    """refs/<revision> -> commit, as huggingface_hub records a branch or tag it resolved."""
    name = revision or "main"
    if name == repo.commit:
        return
    ref = repo.folder / "refs" / name
    ref.parent.mkdir(parents=True, exist_ok=True)
    partial = ref.with_name(ref.name + ".tmp")
    partial.write_text(repo.commit)
    partial.replace(ref)


def _headers(repo: Repo, url: str, location: str) -> dict[str, str]:
    """The Hub's headers; the token only when the body comes from the Hub's own origin, not its CDN."""
    from huggingface_hub.utils import build_hf_headers

    headers: dict[str, str] = build_hf_headers(token=repo.token or False)
    headers["Accept-Encoding"] = "identity"  # sizes and ranges count the bytes as stored
    if _origin(location) != _origin(url):
        headers.pop("authorization", None)
    return headers


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


def _download(
    url: str, headers: dict[str, str], blob: Path, size: int, etag: str, tick: Tick, check: Check
) -> None:
    """Bring `<blob>.incomplete` to `size` bytes, check it against `etag`, and rename it to `blob`."""
    import httpx2
    from huggingface_hub.utils import get_session, hf_raise_for_status

    partial = blob.with_name(blob.name + ".incomplete")
    have = partial.stat().st_size if partial.is_file() else 0
    if have > size:
        partial.unlink()
        have = 0
    tick(have)
    failures = 0
    while have < size:
        check()
        wanted = dict(headers, Range=f"bytes={have}-") if have else headers
        before = have
        try:
            with get_session().stream("GET", url, headers=wanted, timeout=CHUNK_WAIT) as response:
                hf_raise_for_status(response)
                if have and response.status_code == 200:  # the range was ignored: start over
                    tick(-have)
                    have = 0
                with partial.open("r+b" if have else "wb", buffering=0) as out:
                    out.seek(have)
                    out.truncate()
                    for piece in response.iter_raw():
                        check()
                        out.write(piece)
                        have += len(piece)
                        tick(len(piece))
        except (httpx2.TransportError, httpx2.StreamError) as exc:
            failures = 0 if have > before else failures + 1
            if failures >= ATTEMPTS:
                raise OSError(f"the download stopped at {have} of {size} bytes: {exc}") from exc
            time.sleep(BACKOFF)
    if not _matches(partial, etag):
        partial.unlink()
        tick(-size)
        raise OSError(
            f"{blob.name}: the downloaded bytes do not match their checksum; the next attempt starts over"
        )
    partial.replace(blob)


def _matches(path: Path, etag: str) -> bool:
    """SHA-256 for an LFS etag (64 hex), git's blob SHA-1 for a plain one (40 hex); others pass."""
    if len(etag) == 64:
        digest = hashlib.sha256()
    elif len(etag) == 40:
        digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode(), usedforsecurity=False)
    else:
        return True
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest() == etag


def _retrying(call: Callable[[], T], check: Check) -> T:
    """`call`, again after a dropped connection or a timeout, at most ATTEMPTS times."""
    import httpx2

    for attempt in range(1, ATTEMPTS + 1):
        check()
        try:
            return call()
        except httpx2.TransportError:
            if attempt == ATTEMPTS:
                raise
            time.sleep(BACKOFF)
    raise AssertionError("unreachable")
