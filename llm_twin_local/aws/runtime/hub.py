"""A Hub model for a local endpoint: is the Hub there, what to fetch, does it fit, then the download.

As TGI does inside a SageMaker container, the model comes from HF_ENDPOINT (the container's,
else the emulator's, else huggingface.co) with the container's HF_TOKEN, pinned by
HF_MODEL_REVISION. Only the files TGI reads are fetched: the root's safetensors (or its
`pytorch_model*.bin` when it has none, converted later as TGI converts them), JSON configs,
tokenizer files and chat templates. They land in huggingface_hub's cache (HF_HUB_CACHE,
shared with the user's other tools, and kept across `llm-twin local down`).

Steps, each ending in a reason a person can act on (`HubFailure`):
  1. `probe`: one model-info request, bounded by PROBE_TIMEOUT, no retries: an unreachable
     Hub is known in seconds. Its answer names the commit, every file's size and the
     safetensors parameter counts per dtype.
  2. config.json first; then the weights' size at the load dtype against the memory
     available (`memory`), before a byte of weights is fetched.
  3. every file through `hub_files`, resumable; `Transfer` counts the bytes for the progress route.
A model that is complete in the cache is served from it when the Hub cannot be reached.
"""

from __future__ import annotations

import fnmatch
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from llm_twin_local.aws.runtime import memory
from llm_twin_local.aws.runtime.hub_files import Cancelled, Check, RemoteFile, Repo, fetch_file, write_ref
from llm_twin_local.model_server.dtypes import config_dtype

if TYPE_CHECKING:
    from huggingface_hub.hf_api import ModelInfo

PROBE_TIMEOUT = 5.0
"""Seconds the first request may take: long enough for a slow link, short enough to fall back at once."""
DEFAULT_ENDPOINT = "https://huggingface.co"
TGI_FILES = ("*.safetensors", "*.json", "tokenizer*", "*.jinja", "*.model", "merges.txt", "vocab.txt")
"""What a TGI container reads from the repo's root; `*.bin` weights only when there are no safetensors."""
PICKLE_WEIGHTS = ("pytorch_model*.bin",)
CONFIG = "config.json"
MARKER_DIR = ".llm-twin"
"""Per repo folder: one JSON per commit whose download completed, listing its files."""

__all__ = ["Cancelled", "HubFailure", "HubModel", "Transfer", "prepare"]


class HubFailure(Exception):
    """Why a Hub model cannot be served, said as what to do; `unreachable` allows the stand-in."""

    def __init__(self, reason: str, *, unreachable: bool = False, cause: str | None = None) -> None:
        super().__init__(reason)
        self.unreachable = unreachable
        self.cause = cause or reason
        """What went wrong, without the advice: the stand-in's reason when it serves instead."""


@dataclass
class Transfer:
    """Bytes of a download so far, read by the progress route while the download runs."""

    total: int = 0
    done: int = 0
    files: int = 0
    files_done: int = 0
    commit: str | None = None

    def tick(self, count: int) -> None:
        self.done += count


@dataclass(frozen=True)
class HubModel:
    """Where a Hub model is fetched from and as what; built from the container's environment."""

    repo_id: str
    setting: str
    """LOCAL_MODEL_ID or HF_MODEL_ID: the setting a person changes to pick another model."""
    revision: str | None
    dtype: str
    endpoint: str
    token: str | None = field(repr=False)
    cache: Path

    @classmethod
    def from_environment(
        cls,
        repo_id: str,
        setting: str,
        revision: str | None,
        dtype: str | None,
        environment: Mapping[str, str],
    ) -> HubModel:
        endpoint = environment.get("HF_ENDPOINT") or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT
        token = environment.get("HF_TOKEN") or None
        return cls(repo_id, setting, revision, dtype or "auto", endpoint.rstrip("/"), token, cache_dir())

    @property
    def named(self) -> str:
        return f"{self.setting}={self.repo_id}" + (
            f" (HF_MODEL_REVISION={self.revision})" if self.revision else ""
        )


def cache_dir() -> Path:
    """huggingface_hub's cache, as it resolves it: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache."""
    explicit = os.environ.get("HF_HUB_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface"
    )
    return Path(home).expanduser() / "hub"


def prepare(model: HubModel, transfer: Transfer, check: Check) -> Path:
    """The snapshot directory to serve: probed, checked for memory, downloaded (or found complete)."""
    try:
        info = probe(model)
    except HubFailure as failure:
        cached = cached_snapshot(model) if failure.unreachable else None
        if cached is None:
            raise
        transfer.commit = cached.name  # served offline, as huggingface_hub serves a complete cache
        return cached
    assert info.sha is not None
    repo = Repo(model.repo_id, info.sha, model.endpoint, model.token, model.cache)
    transfer.commit = info.sha
    files = wanted_files(info)
    if not any(f.path.endswith((".safetensors", ".bin")) for f in files):
        raise HubFailure(
            f"{model.named} has no safetensors or pytorch_model*.bin weights at its root: TGI cannot serve it"
        )
    transfer.total = sum(f.size for f in files)
    transfer.files = len(files)
    if info.gated and not model.token:
        raise HubFailure(_gated_reason(model, 401))
    try:
        config = next((f for f in files if f.path == CONFIG), None)
        if config is not None:
            _fetch(repo, config, transfer, check)
        _check_fit(model, info, repo.snapshot / CONFIG)
        for remote in files:
            if remote.path != CONFIG:
                _fetch(repo, remote, transfer, check)
    except Cancelled:
        raise
    except Exception as exc:  # noqa: BLE001 - every Hub error becomes a reason
        lost = _failure(model, exc)
        if not lost.unreachable:
            raise lost from exc
        # The Hub answered the probe: a link lost now is not a reason to serve the stand-in.
        kept = (
            f"{transfer.done} of {transfer.total} bytes are kept in {model.cache}, and the next apply resumes"
        )
        raise HubFailure(f"{lost}; {kept}") from exc
    write_ref(repo, model.revision)
    _mark_complete(repo, files)
    return repo.snapshot


def probe(model: HubModel) -> ModelInfo:
    """The model info at the revision, in one bounded request; HubFailure says why not."""
    from huggingface_hub import HfApi

    api = HfApi(endpoint=model.endpoint, token=model.token or False)
    try:
        return api.model_info(
            model.repo_id, revision=model.revision, files_metadata=True, timeout=PROBE_TIMEOUT
        )
    except Exception as exc:  # noqa: BLE001 - every Hub error becomes a reason
        raise _failure(model, exc) from exc


def wanted_files(info: ModelInfo) -> list[RemoteFile]:
    """The root files TGI reads, small ones first so the weights' progress is the long part."""
    siblings = {s.rfilename: s.size or 0 for s in info.siblings or [] if "/" not in s.rfilename}
    patterns = (
        TGI_FILES if any(n.endswith(".safetensors") for n in siblings) else (*TGI_FILES, *PICKLE_WEIGHTS)
    )
    chosen = [
        RemoteFile(n, size) for n, size in siblings.items() if any(fnmatch.fnmatch(n, p) for p in patterns)
    ]
    return sorted(chosen, key=lambda f: (f.path.endswith((".safetensors", ".bin")), f.path))


def cached_snapshot(model: HubModel) -> Path | None:
    """A snapshot whose download completed, for the revision asked (a commit, or a ref's), or None."""
    folder = Repo(model.repo_id, "", model.endpoint, None, model.cache).folder
    commit = model.revision or "main"
    ref = folder / "refs" / commit
    if ref.is_file():
        commit = ref.read_text().strip()
    marker = folder / MARKER_DIR / f"{commit}.json"
    snapshot = folder / "snapshots" / commit
    if not marker.is_file():
        return None
    listed = json.loads(marker.read_text()).get("files", [])
    return snapshot if all((snapshot / name).is_file() for name in listed) else None


def _fetch(repo: Repo, remote: RemoteFile, transfer: Transfer, check: Check) -> None:
    fetch_file(repo, remote, transfer.tick, check)
    transfer.files_done += 1


def _mark_complete(repo: Repo, files: list[RemoteFile]) -> None:
    marker = repo.folder / MARKER_DIR / f"{repo.commit}.json"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"files": [f.path for f in files]}))


def _check_fit(model: HubModel, info: ModelInfo, config_path: Path) -> None:
    """HubFailure when the weights at the load dtype leave no room in memory: before they are fetched."""
    config = json.loads(config_path.read_text()) if config_path.is_file() else {}
    own = config_dtype(config)
    counts = dict(info.safetensors.parameters) if info.safetensors is not None else {}
    if not counts:
        return
    fit = memory.Fit(
        memory.weights_bytes(counts, model.dtype, own),
        memory.dtype_label(model.dtype, own),
        memory.available_memory(),
    )
    if not fit.fits:
        raise HubFailure(too_big_reason(model.named, fit))


def too_big_reason(named: str, fit: memory.Fit) -> str:
    """The reason a model is refused before it is loaded: its size, the room, and the ways out."""
    available = memory.gib(fit.available or 0)
    return (
        f"{named} needs {memory.gib(fit.weights)} of weights in {fit.dtype}, plus "
        f"{memory.gib(memory.RUNTIME_OVERHEAD)} to run, but this machine has {available} available: set "
        "LOCAL_MODEL_ID to a smaller model (e.g. HuggingFaceTB/SmolLM2-135M-Instruct), or LOCAL_DTYPE=bfloat16 "
        "if it loads in float32"
    )


def _gated_reason(model: HubModel, status: int) -> str:
    page = f"{model.endpoint}/{model.repo_id}"
    if status == 403:
        return (
            f"{model.named} is gated and the account of HF_TOKEN has not been granted access yet: "
            f"accept its licence at {page} and wait for approval"
        )
    return (
        f"{model.named} is gated: set HF_TOKEN to a token of an account that accepted its licence at {page}"
    )


def _failure(model: HubModel, exc: BaseException) -> HubFailure:
    """The HubFailure for what huggingface_hub or the network raised."""
    import httpx2
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if isinstance(exc, HubFailure):
        return exc
    if isinstance(exc, GatedRepoError):
        return HubFailure(_gated_reason(model, exc.response.status_code))
    if isinstance(exc, RevisionNotFoundError):
        return HubFailure(
            f"HF_MODEL_REVISION={model.revision} does not exist in {model.repo_id}: pin an existing branch, tag "
            "or 40-hex commit, or leave it empty for the default branch"
        )
    if isinstance(exc, RepositoryNotFoundError):
        return HubFailure(
            f"{model.named} was not found on {model.endpoint}: check the id (owner/name); "
            "a private repo also needs HF_TOKEN"
        )
    if isinstance(exc, HfHubHTTPError) and exc.response.status_code == 401:
        return HubFailure(
            f"{model.endpoint} refused HF_TOKEN (401 invalid credentials): set a valid token, or leave it "
            "empty for a public model"
        )
    if isinstance(exc, HfHubHTTPError):
        return HubFailure(f"{model.endpoint} answered {exc.response.status_code} for {model.named}: {exc}")
    if isinstance(exc, httpx2.TransportError):
        kind = (
            "did not answer in time" if isinstance(exc, httpx2.TimeoutException) else "could not be reached"
        )
        cause = f"the Hub at {model.endpoint} {kind} ({type(exc).__name__}: {exc or 'no answer'})"
        return HubFailure(
            f"{cause} while fetching {model.named}: check HF_ENDPOINT and the network, or set LOCAL_MODEL=stand-in",
            unreachable=True,
            cause=cause,
        )
    return HubFailure(
        f"fetching {model.named} failed: {exc}; what was downloaded is kept, and the next apply resumes"
    )
