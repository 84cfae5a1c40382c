"""A Hugging Face Hub look-alike on loopback, for tests that must never reach the real Hub.

Why: the local runtime downloads models with `huggingface_hub`, and its failure modes (gated, missing,
a cut download) can only be tested against a server that answers as the Hub does. This one serves
directories a test builds, on free ports, and logs every request. It never imports `huggingface_hub`:
it is the referee, not a copy of the player. Routes, as 2.4.0 calls them (`hf_api.py`, `file_download.py`):

- `GET /api/models/{repo}[/revision/{rev}]`: model info; `?blobs=true` adds sizes and LFS data.
- `GET /api/models/{repo}/tree/{rev}?recursive=true`: the file list `snapshot_download` filters.
- `HEAD|GET /{repo}/resolve/{rev}/{path}`: a git file answers 200 with `ETag` (its git blob id),
  `X-Repo-Commit`, `Content-Length` and `Accept-Ranges`, and a `Range` gets 206. An LFS file
  (`LFS_SUFFIXES`) answers 302 to the CDN with `X-Linked-Etag` (its sha256) and `X-Linked-Size`.
- `HEAD|GET /lfs/{sha256}/{path}` on a second port, the CDN: another origin, so the client stops
  following there and drops the token, as it does with the real CDN.

Errors carry `X-Error-Code` / `X-Error-Message`, which the client maps to its exceptions. It maps
a bare 401 to `RepositoryNotFoundError` only for https URLs, so the code is never left out here.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import struct
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, quote, unquote, urlsplit

# What a Hub repo's .gitattributes sends to LFS; everything else is a plain git blob.
LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".onnx", ".h5", ".msgpack")
_LFS_POINTER = "version https://git-lfs.github.com/spec/v1\noid sha256:{}\nsize {}\n"
_REPO = r"(?P<repo>[^/]+(?:/[^/]+)?)"  # "name" or "namespace/name", as on the Hub
_API = re.compile(rf"^/api/models/{_REPO}(?:/(?P<kind>revision|tree)/(?P<rev>[^/]+)(?P<sub>/.+)?)?$")
_RESOLVE = re.compile(rf"^/{_REPO}/resolve/(?P<rev>[^/]+)/(?P<file>.+)$")
_CDN = re.compile(r"^/lfs/(?P<sha>[0-9a-f]{64})/.+$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")

Auth = Literal["none", "valid", "invalid"]
Hold = threading.Event | None
Role = Literal["hub", "cdn"]


@dataclass(frozen=True)
class HubRepo:
    """A repo as a test builds it: branch or tag names (`main` first of all) over directories."""

    refs: dict[str, Path]
    gated: bool = False  # files need the token (401 without); metadata stays public, as on the Hub
    approved: bool = True  # False: the token's user still waits for a gated repo (403)
    private: bool = False  # without the token the repo does not exist (RepoNotFound)


@dataclass(frozen=True)
class RepoFile:
    path: str  # repo-relative, `/`-separated: `rfilename` and `path` on the Hub
    local: Path
    size: int
    blob_id: str  # the git object id of what git stores: the content, or the LFS pointer
    sha256: str | None = None  # LFS files only: the ETag the client caches the blob under
    pointer_size: int | None = None


@dataclass(frozen=True)
class Commit:
    sha: str
    files: dict[str, RepoFile]
    parameters: dict[str, int]  # per safetensors dtype: the Hub's `safetensors`, for memory checks


@dataclass(frozen=True)
class LoggedRequest:
    """One request as a server saw it. `auth` says whether a token came, never which one."""

    server: Role
    method: str
    path: str
    range: str | None
    auth: Auth
    status: int | None  # None: the connection was dropped before any answer


@dataclass
class _Fault:
    filename: str
    after: int | None  # bytes of body before the cut; None drops the request unanswered
    times: int
    methods: tuple[str, ...]
    hold: Hold = None  # the body hangs after `after` bytes until this is set


def _git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _safetensors_counts(path: Path) -> dict[str, int]:
    """Read only the header (u64 length + JSON), as the Hub does to fill `safetensors`."""
    with path.open("rb") as stream:
        (length,) = struct.unpack("<Q", stream.read(8))
        header = json.loads(stream.read(length))
    counts: dict[str, int] = {}
    for name, tensor in header.items():
        if name != "__metadata__":
            counts[tensor["dtype"]] = counts.get(tensor["dtype"], 0) + math.prod(tensor["shape"])
    return counts


def load_commit(directory: Path) -> Commit:
    """Hash a directory as git + git-lfs would; the commit sha is derived from the file ids."""
    files: dict[str, RepoFile] = {}
    parameters: dict[str, int] = {}
    for local in sorted(p for p in directory.rglob("*") if p.is_file()):
        rel, size = local.relative_to(directory).as_posix(), local.stat().st_size
        if rel.endswith(LFS_SUFFIXES):
            with local.open("rb") as stream:
                sha256 = hashlib.file_digest(stream, "sha256").hexdigest()
            pointer = _LFS_POINTER.format(sha256, size).encode()
            files[rel] = RepoFile(rel, local, size, _git_blob_id(pointer), sha256, len(pointer))
        else:
            files[rel] = RepoFile(rel, local, size, _git_blob_id(local.read_bytes()))
        if rel.endswith(".safetensors"):
            for dtype, count in _safetensors_counts(local).items():
                parameters[dtype] = parameters.get(dtype, 0) + count
    listing = "".join(f"{path} {file.blob_id}\n" for path, file in files.items())
    return Commit(hashlib.sha1(listing.encode()).hexdigest(), files, parameters)


class FakeHub:
    """The Hub and its CDN on two free loopback ports; a context manager.

    `token` is the one valid user token. Any other `Authorization` gets the Hub's 401 "Invalid
    credentials in Authorization header", which the client raises as a plain `HfHubHTTPError`.
    """

    def __init__(self, repos: dict[str, HubRepo], *, token: str = "hf_fake_token_for_tests") -> None:
        self.token = token
        self.repos = repos
        self._refs = {repo: {ref: load_commit(d) for ref, d in r.refs.items()} for repo, r in repos.items()}
        files = [f for refs in self._refs.values() for c in refs.values() for f in c.files.values()]
        self.lfs_blobs = {f.sha256: f for f in files if f.sha256 is not None}  # what the CDN serves
        self._lock = threading.Lock()
        self._log: list[LoggedRequest] = []
        self._faults: list[_Fault] = []
        self._servers: dict[Role, _Server] = {}

    @property
    def url(self) -> str:
        """The endpoint: `HF_ENDPOINT` for a subprocess, `endpoint=` in process."""
        return f"http://127.0.0.1:{self._servers['hub'].server_address[1]}"

    @property
    def cdn_url(self) -> str:
        return f"http://127.0.0.1:{self._servers['cdn'].server_address[1]}"

    def commit(self, repo_id: str, ref: str = "main") -> str:
        """The 40-hex sha a ref points at: what the snapshot folder will be named."""
        return self._refs[repo_id][ref].sha

    def resolve(self, repo_id: str, rev: str) -> Commit | None:
        """A ref name or a full commit sha; a short sha is a RevisionNotFound here."""
        commits = self._refs[repo_id]
        return commits.get(rev) or next((c for c in commits.values() if c.sha == rev), None)

    def requests(self, server: Role | None = None) -> list[LoggedRequest]:
        with self._lock:
            return [r for r in self._log if server in (None, r.server)]

    def record(self, request: LoggedRequest) -> None:
        with self._lock:
            self._log.append(request)

    def cut(self, filename: str, after_bytes: int, *, times: int = 1, hold: Hold = None) -> None:
        """The next `times` GET bodies of `filename` stop after `after_bytes` (then wait for `hold`); closed."""
        with self._lock:
            self._faults.append(_Fault(filename, after_bytes, times, ("GET",), hold))

    def drop(self, filename: str, *, times: int = 1, methods: tuple[str, ...] = ("GET",)) -> None:
        """The next `times` requests for `filename` have their connection closed unanswered."""
        with self._lock:
            self._faults.append(_Fault(filename, None, times, methods))

    def take_fault(self, method: str, path: str, *, cut: bool) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                wanted = (fault.after is not None) == cut and method in fault.methods
                if wanted and fault.times > 0 and unquote(path).endswith("/" + fault.filename):
                    fault.times -= 1
                    return fault
        return None

    def start(self) -> FakeHub:
        for role in ("hub", "cdn"):
            server = self._servers[role] = _Server(self, role)
            # A short poll interval: stop() waits up to one interval per server, once per test.
            threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        for server in self._servers.values():
            server.shutdown()
            server.server_close()

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, hub: FakeHub, role: Role) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)  # port 0: the kernel picks a free one
        self.hub = hub
        self.role: Role = role


class _Handler(BaseHTTPRequestHandler):
    # Keep-alive like the Hub, so a cut body is a short read on a live connection, not an EOF.
    protocol_version = "HTTP/1.1"
    timeout = 30  # idle keep-alive connections must not pin threads after a test
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: the hub keeps its own log, and stderr would carry request lines."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if self.server.hub.take_fault(self.command, url.path, cut=False) is not None:
            self._record(None)
            self.close_connection = True
        elif self.server.role == "cdn":
            self._cdn(url.path)
        else:
            self._hub(url.path, {k: v[0].lower() == "true" for k, v in parse_qs(url.query).items()})

    do_HEAD = do_GET

    def _record(self, status: int | None) -> None:
        """Logged before the answer goes out: once the client has it, a test may read the log."""
        entry = (self.server.role, self.command, self.path, self.headers.get("Range"), self._auth())
        self.server.hub.record(LoggedRequest(*entry, status))

    def _auth(self) -> Auth:
        if (header := self.headers.get("Authorization")) is None:
            return "none"
        return "valid" if header == f"Bearer {self.server.hub.token}" else "invalid"

    def _hub(self, path: str, flags: dict[str, bool]) -> None:
        if self._auth() == "invalid":
            self._error(401, None, "Invalid credentials in Authorization header")
        elif (match := _API.match(path)) is None:
            if (match := _RESOLVE.match(path)) is not None:
                self._resolve(match["repo"], unquote(match["rev"]), unquote(match["file"]))
            else:
                self._error(404, None, "Not Found")
        elif (found := self._lookup(match["repo"], unquote(match["rev"] or "main"))) is None:
            return
        elif match["kind"] != "tree":
            self._json(_model_info(match["repo"], *found, blobs=flags.get("blobs", False)))
        elif match["sub"] or not flags.get("recursive"):  # not served: fail loudly, never answer wrong
            self._error(400, None, "The fake hub lists only the whole tree, with recursive=true")
        else:
            self._json(_tree(found[1]))

    def _lookup(self, repo_id: str, rev: str) -> tuple[HubRepo, Commit] | None:
        repo = self.server.hub.repos.get(repo_id)
        signed_in = self._auth() == "valid"
        if repo is None or (repo.private and not signed_in):
            # The Hub never confirms a repo to someone who cannot see it: anonymous callers get 401.
            message = "Repository not found" if signed_in else "Invalid username or password."
            return self._error(404 if signed_in else 401, "RepoNotFound", message)
        if (commit := self.server.hub.resolve(repo_id, rev)) is None:
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
        return repo, commit

    def _resolve(self, repo_id: str, rev: str, filename: str) -> None:
        if (found := self._lookup(repo_id, rev)) is None:
            return
        repo, commit = found
        if (file := commit.files.get(filename)) is None:
            return self._error(404, "EntryNotFound", "Entry not found", commit.sha)
        if repo.gated and self._auth() != "valid":
            message = f"Access to model {repo_id} is restricted. You must have access to it and be authenticated to access it. Please log in."
            return self._error(401, "GatedRepo", message)
        if repo.gated and not repo.approved:
            message = f"Access to model {repo_id} is restricted and you are not in the authorized list. Visit {self.server.hub.url}/{repo_id} to ask for access."
            return self._error(403, "GatedRepo", message)
        headers = {"ETag": f'"{file.blob_id}"', "X-Repo-Commit": commit.sha}
        if file.sha256 is None:
            return self._send_file(file, headers)
        cdn = f"{self.server.hub.cdn_url}/lfs/{file.sha256}/{quote(file.path)}"
        headers |= {"Location": cdn, "X-Linked-Etag": f'"{file.sha256}"', "X-Linked-Size": str(file.size)}
        self._reply(302, headers, b"")

    def _cdn(self, path: str) -> None:
        match = _CDN.match(path)
        if match is None or (file := self.server.hub.lfs_blobs.get(match["sha"])) is None:
            return self._reply(
                404, {"Content-Type": "text/plain"}, b"Not Found"
            )  # a bucket's 404: no Hub headers
        self._send_file(file, {"ETag": f'"{file.sha256}"'})

    def _send_file(self, file: RepoFile, headers: dict[str, str]) -> None:
        start, end, status = 0, file.size - 1, 200
        if (wanted := self.headers.get("Range")) is not None:
            if (span := _parse_range(wanted, file.size)) is None:
                return self._reply(416, {"Content-Range": f"bytes */{file.size}"}, b"")
            (start, end), status = span, 206
            headers["Content-Range"] = f"bytes {start}-{end}/{file.size}"
        headers |= {"Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
        self._reply(status, headers, None, end - start + 1)
        if self.command == "HEAD":
            return
        cut = self.server.hub.take_fault(self.command, urlsplit(self.path).path, cut=True)
        budget = end - start + 1 if cut is None or cut.after is None else min(end - start + 1, cut.after)
        with file.local.open("rb") as stream:
            stream.seek(start)
            while budget > 0 and (chunk := stream.read(min(1 << 16, budget))):
                self.wfile.write(chunk)
                budget -= len(chunk)
        if cut is not None:
            _ = cut.hold is not None and cut.hold.wait(60)  # a download caught mid-file, until let go
            self.close_connection = True  # the client is still owed bytes: it sees a short body

    def _reply(self, status: int, headers: dict[str, str], body: bytes | None, length: int = 0) -> None:
        """Status and headers, then `body` unless HEAD; `body=None` leaves the body to the caller."""
        self._record(status)
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(length if body is None else len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, payload: object) -> None:
        self._reply(200, {"Content-Type": "application/json"}, json.dumps(payload).encode())

    def _error(self, status: int, code: str | None, message: str, commit: str | None = None) -> None:
        # With X-Repo-Commit, the client caches "no such file at this commit" (its `.no_exist`).
        extra = {"X-Error-Code": code, "X-Repo-Commit": commit}
        headers = {"Content-Type": "application/json", "X-Error-Message": message}
        headers |= {name: value for name, value in extra.items() if value is not None}
        self._reply(status, headers, json.dumps({"error": message}).encode())


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """One `bytes=` range, clipped to the file; None when unsatisfiable (416)."""
    match = _RANGE.match(header.strip())
    if match is None or not (match[1] or match[2]):
        return None
    first, last = match[1], match[2]  # "bytes=-N" is the last N bytes
    start = int(first) if first else max(size - int(last), 0)
    end = min(int(last), size - 1) if first and last else size - 1
    return (start, end) if start <= end and start < size else None


def _lfs(file: RepoFile, sha_key: str) -> dict[str, object]:
    """The LFS block; model info calls the hash `sha256`, the tree calls it `oid`."""
    if file.sha256 is None:
        return {}
    return {"lfs": {sha_key: file.sha256, "size": file.size, "pointerSize": file.pointer_size}}


def _model_info(repo_id: str, repo: HubRepo, commit: Commit, *, blobs: bool) -> dict[str, object]:
    """The fields `ModelInfo` reads; `expand=` is ignored (everything is always there)."""
    files = commit.files.values()
    blob_info = {f.path: {"size": f.size, "blobId": f.blob_id, **_lfs(f, "sha256")} for f in files if blobs}
    info: dict[str, object] = {
        **{"id": repo_id, "modelId": repo_id, "author": repo_id.split("/")[0], "sha": commit.sha},
        **{"private": repo.private, "gated": "manual" if repo.gated else False, "disabled": False},
        **{"lastModified": "2024-01-01T00:00:00.000Z", "library_name": "transformers"},
        "siblings": [{"rfilename": f.path, **blob_info.get(f.path, {})} for f in files],
        "usedStorage": sum(f.size for f in files),
    }
    if "config.json" in commit.files:
        config = json.loads(commit.files["config.json"].local.read_bytes())
        info["config"] = {key: config[key] for key in ("architectures", "model_type") if key in config}
    if commit.parameters:
        info["safetensors"] = {"parameters": commit.parameters, "total": sum(commit.parameters.values())}
    return info


def _tree(commit: Commit) -> list[dict[str, object]]:
    """The recursive listing of the whole repo, files then folders: all `snapshot_download` asks."""
    files = [
        {"type": "file", "oid": f.blob_id, "size": f.size, "path": f.path, **_lfs(f, "oid")}
        for f in commit.files.values()
    ]
    parents = {p.rsplit("/", 1)[0] for p in commit.files if "/" in p}
    folders = sorted(parents | {p.rsplit("/", n)[0] for p in parents for n in range(1, p.count("/") + 1)})
    # A folder's oid only has to be stable: nothing in the client checks it against git.
    return files + [
        {"type": "directory", "oid": _git_blob_id(d.encode()), "size": 0, "path": d} for d in folders
    ]
