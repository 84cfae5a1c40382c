"""The fake Hub against the real client, huggingface_hub 2.4.0, fully offline.

How the client is pointed at the fake hub: huggingface_hub reads `HF_ENDPOINT`, `HF_HOME`,
`HF_HUB_ETAG_TIMEOUT` and `HF_HUB_DOWNLOAD_TIMEOUT` once, in `huggingface_hub.constants`, at
import. A monkeypatched environment therefore reaches only what the client reads per call
(`HF_TOKEN`) and child processes. So the in-process tests pass `endpoint=`, `cache_dir=` and
`token=` explicitly, under `loopback_only`, which fails any request that would leave 127.0.0.1;
`test_environment_alone_points_a_subprocess_at_the_hub` runs the client in a subprocess with only
environment variables, the way the local runtime will.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
import requests
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from safetensors import safe_open

from llm_twin_local.model_server.checkpoint import create_test_checkpoint
from tests.support import loopback_only, refused_endpoint, silent_endpoint
from tests.support.hub_server import FakeHub, HubRepo

REPO, GATED, PENDING, PRIVATE = "llm-twin/tiny", "llm-twin/gated", "llm-twin/pending", "llm-twin/private"
BIG = "llm-twin/big"
MIB = 1024 * 1024  # huggingface_hub reads a body in 10 MiB chunks (constants.DOWNLOAD_CHUNK_SIZE)
# What the local runtime asks for: weights, JSON configs, tokenizer files, chat templates.
ALLOW = ["*.safetensors", "*.json", "tokenizer*", "*.jinja"]
WANTED = {
    "model.safetensors",
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
}
WEIGHTS = "model.safetensors"


@pytest.fixture(scope="module")
def revisions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two commits of a tiny Llama repo with different weights, plus files a download must skip."""
    root = tmp_path_factory.mktemp("hub-repos")
    made = {}
    for name, seed in (("v1", 1), ("v2", 2)):
        repo = create_test_checkpoint(root / name, seed=seed)
        (repo / "README.md").write_text("---\nlicense: apache-2.0\n---\n# tiny\n")
        (repo / ".gitattributes").write_text("*.safetensors filter=lfs diff=lfs merge=lfs -text\n")
        (repo / "pytorch_model.bin").write_bytes(os.urandom(4096))
        (repo / "onnx").mkdir()
        (repo / "onnx" / "model.onnx").write_bytes(os.urandom(2048))
        made[name] = repo
    return made


@pytest.fixture(scope="module")
def big_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Weights over 10 MiB (one random u8 tensor, written by hand): enough for a resume to show."""
    repo = tmp_path_factory.mktemp("hub-big")
    size = 12 * MIB + 123
    header = json.dumps({"w": {"dtype": "U8", "shape": [size], "data_offsets": [0, size]}}).encode()
    (repo / WEIGHTS).write_bytes(struct.pack("<Q", len(header)) + header + os.urandom(size))
    (repo / "config.json").write_text("{}")
    return repo


@pytest.fixture(autouse=True)
def client_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def hub(revisions: dict[str, Path], big_repo: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    repos = {
        REPO: HubRepo({"main": revisions["v2"], "v1": revisions["v1"]}),
        GATED: HubRepo({"main": revisions["v2"]}, gated=True),
        PENDING: HubRepo({"main": revisions["v2"]}, gated=True, approved=False),
        PRIVATE: HubRepo({"main": revisions["v2"]}, private=True),
        BIG: HubRepo({"main": big_repo}),
    }
    with FakeHub(repos) as fake, loopback_only():
        monkeypatch.setenv("HF_ENDPOINT", fake.url)  # for children; this process read it at import
        yield fake


def fetch(hub: FakeHub, repo_id: str = REPO, **kwargs: object) -> Path:
    """`snapshot_download` as the local runtime will call it (anonymous unless `token=` says)."""
    options: dict[str, object] = {"allow_patterns": ALLOW, "token": False, **kwargs}
    cache = os.environ["HF_HUB_CACHE"]
    return Path(snapshot_download(repo_id, endpoint=hub.url, cache_dir=cache, **options))  # type: ignore[call-overload]


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def assert_same_bytes(snapshot: Path, source: Path) -> None:
    assert files_under(snapshot) == WANTED
    for name in WANTED:
        assert (snapshot / name).read_bytes() == (source / name).read_bytes(), name


def test_snapshot_download_fetches_exactly_the_allowed_files_byte_identical(hub, revisions):
    snapshot = fetch(hub)

    assert_same_bytes(snapshot, revisions["v2"])
    assert snapshot.name == hub.commit(REPO)
    fetched = {
        r.path.rsplit("/", 1)[-1] for r in hub.requests() if "/resolve/" in r.path or "/lfs/" in r.path
    }
    assert fetched == WANTED  # README.md, pytorch_model.bin, onnx/model.onnx: never asked for


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_lfs_weights_are_cached_under_their_sha256_from_the_x_linked_etag(hub, revisions):
    snapshot = fetch(hub)

    blob = (snapshot / WEIGHTS).resolve()
    assert blob.parent.name == "blobs"
    assert blob.name == sha256_of(revisions["v2"] / WEIGHTS)


def test_a_pinned_commit_gets_that_revisions_files_in_a_folder_named_by_its_sha(hub, revisions):
    sha = hub.commit(REPO, "v1")

    snapshot = fetch(hub, revision=sha)

    assert snapshot.name == sha
    assert_same_bytes(snapshot, revisions["v1"])
    assert (snapshot / WEIGHTS).read_bytes() != (revisions["v2"] / WEIGHTS).read_bytes()
    paths = [r.path for r in hub.requests()]
    assert not any("/revision/" in path for path in paths)  # a sha needs no model-info call
    assert f"/api/models/{REPO}/tree/{sha}?recursive=true&expand=false" in paths


def test_a_branch_name_resolves_to_its_commit_and_is_remembered_as_a_ref(hub, revisions):
    snapshot = fetch(hub, revision="v1")

    assert snapshot.name == hub.commit(REPO, "v1")
    assert_same_bytes(snapshot, revisions["v1"])
    assert (snapshot.parent.parent / "refs" / "v1").read_text() == hub.commit(REPO, "v1")


def test_model_info_and_repo_info_describe_a_revision(hub, revisions):
    api = HfApi(endpoint=hub.url, token=False)

    info = api.model_info(REPO, files_metadata=True)
    old = api.repo_info(REPO, revision=hub.commit(REPO, "v1"))

    assert info.sha == hub.commit(REPO) and old.sha == hub.commit(REPO, "v1")
    siblings = {s.rfilename: s for s in info.siblings or []}
    assert set(siblings) == files_under(revisions["v2"])
    weights = siblings[WEIGHTS]
    assert weights.size == (revisions["v2"] / WEIGHTS).stat().st_size
    assert weights.lfs is not None and weights.lfs.sha256 == sha256_of(revisions["v2"] / WEIGHTS)
    assert siblings["config.json"].lfs is None
    with safe_open(revisions["v2"] / WEIGHTS, framework="pt") as weights_file:
        numel = sum(math.prod(weights_file.get_slice(name).get_shape()) for name in weights_file.keys())  # noqa: SIM118 - the handle is not iterable
    assert info.safetensors is not None and info.safetensors.parameters == {"F32": numel}
    assert info.config == {"architectures": ["LlamaForCausalLM"], "model_type": "llama"}
    assert api.model_info(GATED).gated == "manual"  # metadata of a gated repo is public


def test_gated_repo_with_the_token_from_hf_token_downloads_and_the_token_stays_on_the_hub(
    hub, revisions, monkeypatch
):
    monkeypatch.setenv("HF_TOKEN", hub.token)  # read per call, unlike HF_ENDPOINT

    snapshot = fetch(hub, GATED, token=None)

    assert_same_bytes(snapshot, revisions["v2"])
    assert {r.auth for r in hub.requests("hub")} == {"valid"}
    assert {r.auth for r in hub.requests("cdn")} == {"none"}  # another origin: the client drops it


def test_gated_repo_without_a_token_is_a_gated_repo_error_before_any_byte(hub):
    with pytest.raises(GatedRepoError) as raised:
        fetch(hub, GATED)

    assert raised.value.response.status_code == 401
    assert not [r for r in hub.requests() if r.method == "GET" and "/resolve/" in r.path]


def test_gated_repo_not_yet_granted_is_a_403_gated_repo_error(hub):
    with pytest.raises(GatedRepoError) as raised:
        fetch(hub, PENDING, token=hub.token)

    assert raised.value.response.status_code == 403


def test_a_wrong_token_is_a_plain_401_not_a_missing_repo(hub):
    with pytest.raises(HfHubHTTPError) as raised:
        fetch(hub, token="hf_not_the_right_one")

    assert type(raised.value) is HfHubHTTPError
    assert raised.value.response.status_code == 401
    assert {r.auth for r in hub.requests()} == {"invalid"}  # presence only: the log has no token


@pytest.mark.parametrize(
    ("repo_id", "signed_in", "status"),
    [("nobody/nothing", False, 401), ("nobody/nothing", True, 404), (PRIVATE, False, 401)],
)
def test_an_unknown_or_hidden_repo_is_a_repository_not_found_error(hub, repo_id, signed_in, status):
    with pytest.raises(RepositoryNotFoundError) as raised:
        fetch(hub, repo_id, token=hub.token if signed_in else False)

    assert type(raised.value) is RepositoryNotFoundError
    assert raised.value.response.status_code == status


def test_a_private_repo_is_there_for_the_token(hub, revisions):
    assert_same_bytes(fetch(hub, PRIVATE, token=hub.token), revisions["v2"])


@pytest.mark.parametrize("revision", ["no-such-branch", "0123456789abcdef0123456789abcdef01234567"])
def test_an_unknown_revision_is_a_revision_not_found_error(hub, revision):
    with pytest.raises(RevisionNotFoundError):
        fetch(hub, revision=revision)


def test_an_unknown_file_is_a_remote_entry_not_found_error(hub):
    with pytest.raises(RemoteEntryNotFoundError):
        hf_hub_download(
            REPO, "no-such-file.json", endpoint=hub.url, cache_dir=os.environ["HF_HUB_CACHE"], token=False
        )


def test_a_body_cut_mid_file_resumes_from_its_last_whole_10_mib_with_a_range_request(hub, big_repo):
    hub.cut(WEIGHTS, after_bytes=11 * MIB)

    snapshot = fetch(hub, BIG)

    assert (snapshot / WEIGHTS).read_bytes() == (big_repo / WEIGHTS).read_bytes()
    gets = [(r.range, r.status) for r in hub.requests("cdn") if r.method == "GET"]
    assert gets == [(None, 200), (f"bytes={10 * MIB}-", 206)]  # the last 1 MiB was received, then lost


def test_a_body_cut_within_its_first_10_mib_is_fetched_again_whole_in_the_same_call(hub, revisions):
    """The bytes before the cut sit in httpx2's chunk buffer, never written: nothing to resume."""
    hub.cut(WEIGHTS, after_bytes=100_000)

    snapshot = fetch(hub)

    assert_same_bytes(snapshot, revisions["v2"])
    gets = [(r.range, r.status) for r in hub.requests("cdn") if r.method == "GET"]
    assert gets == [(None, 200), (None, 200)]


def test_a_failed_download_starts_the_cut_file_again_from_zero_and_keeps_the_finished_ones(hub, revisions):
    """huggingface_hub 2.4.0 deletes a partial blob when a call fails: no Range across calls."""
    hub.cut(WEIGHTS, after_bytes=100_000)
    hub.drop(WEIGHTS, times=5)  # its five retries get nothing, so the first call gives up

    with pytest.raises(httpx2.RemoteProtocolError):
        fetch(hub)
    first_call = len(hub.requests())
    snapshot = fetch(hub)

    assert_same_bytes(snapshot, revisions["v2"])
    second_call = hub.requests()[first_call:]
    assert [(r.method, r.range) for r in second_call if r.path.endswith(WEIGHTS)] == [
        ("HEAD", None),
        ("GET", None),
    ]
    assert not [r for r in second_call if "/resolve/" in r.path and not r.path.endswith(WEIGHTS)]
    assert not list(snapshot.parent.parent.glob("blobs/*.incomplete"))


def test_a_dropped_head_request_surfaces_as_httpx2_remote_protocol_error(hub):
    hub.drop("config.json", methods=("HEAD",))

    with pytest.raises(httpx2.RemoteProtocolError):
        hf_hub_download(
            REPO, "config.json", endpoint=hub.url, cache_dir=os.environ["HF_HUB_CACHE"], token=False
        )


@pytest.mark.parametrize(
    ("wanted", "status", "content_range", "span"),
    [
        ("bytes=10-19", 206, "bytes 10-19/{size}", slice(10, 20)),
        ("bytes=100-", 206, "bytes 100-{last}/{size}", slice(100, None)),
        ("bytes=-7", 206, "bytes {tail}-{last}/{size}", slice(-7, None)),
        ("bytes={size}-", 416, "bytes */{size}", slice(0, 0)),
    ],
)
def test_resolve_honours_one_byte_range(hub, revisions, wanted, status, content_range, span):
    data = (revisions["v2"] / "tokenizer.json").read_bytes()
    fields = {"size": len(data), "last": len(data) - 1, "tail": len(data) - 7}

    url = f"{hub.url}/{REPO}/resolve/main/tokenizer.json"
    response = requests.get(url, headers={"Range": wanted.format(**fields)}, timeout=10)

    assert response.status_code == status
    assert response.headers["Content-Range"] == content_range.format(**fields)
    assert response.content == (data[span] if status == 206 else b"")


def test_environment_alone_points_a_subprocess_at_the_hub(hub, revisions, tmp_path):
    script = "import sys; from huggingface_hub import snapshot_download; print(snapshot_download(sys.argv[1], allow_patterns=sys.argv[2:]))"
    env = {name: value for name, value in os.environ.items() if not name.startswith(("HF_", "HUGGING"))}
    env |= {
        "HF_ENDPOINT": hub.url,
        "HF_TOKEN": hub.token,
        "HF_HOME": str(tmp_path / "child-home"),
        "HF_HUB_CACHE": str(tmp_path / "child-cache"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    }

    done = subprocess.run(
        [sys.executable, "-c", script, GATED, *ALLOW], env=env, capture_output=True, text=True, timeout=120
    )

    assert done.returncode == 0, done.stderr
    snapshot = Path(done.stdout.strip())
    assert snapshot.is_relative_to(tmp_path / "child-cache")
    assert_same_bytes(snapshot, revisions["v2"])
    assert {r.auth for r in hub.requests("hub")} == {"valid"}


def test_a_refused_connection_fails_the_snapshot_in_about_a_second():
    with refused_endpoint() as url:
        started = time.monotonic()
        with pytest.raises(LocalEntryNotFoundError) as raised:
            snapshot_download(REPO, endpoint=url, cache_dir=os.environ["HF_HUB_CACHE"], token=False)
        elapsed = time.monotonic() - started

    assert isinstance(raised.value.__cause__, httpx2.ConnectError)
    assert elapsed < 3


def test_model_info_with_a_timeout_detects_a_silent_hub_in_that_time():
    with silent_endpoint() as url:
        started = time.monotonic()
        with pytest.raises(httpx2.TimeoutException):
            HfApi(endpoint=url, token=False).model_info(REPO, timeout=1)
        elapsed = time.monotonic() - started

    assert 1 <= elapsed < 3


def test_snapshot_download_waits_on_a_silent_hub_with_no_timeout_at_all():
    """Its first call, `repo_info`, goes out with `timeout=None`; no environment variable bounds it."""
    outcome: list[Exception | str] = []

    def download(url: str) -> None:
        try:
            snapshot_download(REPO, endpoint=url, cache_dir=os.environ["HF_HUB_CACHE"], token=False)
            outcome.append("returned")
        except Exception as error:  # whatever ends it: the test only needs it to end
            outcome.append(error)

    with silent_endpoint() as url:
        worker = threading.Thread(target=download, args=(url,), daemon=True)
        worker.start()
        worker.join(3)
        still_waiting = worker.is_alive()
    worker.join(10)  # closing the listener resets the connection, which ends the call

    assert still_waiting
    assert outcome and outcome[0] != "returned"
