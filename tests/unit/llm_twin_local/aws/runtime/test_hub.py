"""Hub models on local endpoints: the real emulator and boto3 against the fake Hub on loopback.

Each endpoint's container environment names the fake Hub (HF_ENDPOINT) as a SageMaker
model's would; the emulator's HF_HUB_CACHE is the test's. DescribeEndpoint shows what a
user sees: Creating while the model downloads, then InService, or Failed with a reason
that says what to do. Only the endpoints that must serve start a model server.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_twin.control import local_target
from llm_twin_local.aws.daemon import LocalAws
from llm_twin_local.aws.runtime.choice import LOCAL_MODEL_ENV
from llm_twin_local.aws.runtime.progress import fetch_serving_model
from llm_twin_local.aws.runtime.sources import STAND_IN_IMAGE
from llm_twin_local.model_server.checkpoint import create_test_checkpoint
from tests.conftest import client, settings_for, stack_environ
from tests.support import refused_endpoint, silent_endpoint
from tests.support.hub_server import FakeHub, HubRepo
from tests.support.runtime import deploy, running_emulator, wait_settled

pytestmark = pytest.mark.stack

TINY, GATED, PENDING, HUGE, MIDSIZE = (
    "llm-twin/tiny",
    "llm-twin/gated",
    "llm-twin/pending",
    "llm-twin/huge",
    "llm-twin/midsize",
)
WEIGHTS = "model.safetensors"
SERVED = {
    "model.safetensors",
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
}


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hub-repos")
    made = {name: create_test_checkpoint(root / name, seed=seed) for name, seed in (("v1", 1), ("v2", 2))}
    for repo in made.values():
        (repo / "README.md").write_text("# tiny\n")
        (repo / "pytorch_model.bin").write_bytes(os.urandom(4096))  # never fetched: safetensors are there
    # About 15 MB of weights: more than one read, so a cut lands mid-file.
    made["mid"] = create_test_checkpoint(
        root / "mid", hidden_size=256, layers=4, heads=4, intermediate_size=704
    )
    huge = root / "huge"
    huge.mkdir()
    # A header claiming 10^12 float32 parameters (4 TB), with no data behind it: only metadata is read.
    header = json.dumps(
        {"w": {"dtype": "F32", "shape": [1_000_000, 1_000_000], "data_offsets": [0, 16]}}
    ).encode()
    (huge / WEIGHTS).write_bytes(struct.pack("<Q", len(header)) + header + bytes(16))
    (huge / "config.json").write_text(
        json.dumps({"architectures": ["LlamaForCausalLM"], "torch_dtype": "float32"})
    )
    made["huge"] = huge
    return made


@pytest.fixture(scope="module")
def hub(repos: dict[str, Path]) -> Iterator[FakeHub]:
    served = {
        TINY: HubRepo({"main": repos["v2"], "v1": repos["v1"]}),
        GATED: HubRepo({"main": repos["v2"]}, gated=True),
        PENDING: HubRepo({"main": repos["v2"]}, gated=True, approved=False),
        HUGE: HubRepo({"main": repos["huge"]}),
        MIDSIZE: HubRepo({"main": repos["mid"]}),
    }
    with FakeHub(served) as fake:
        yield fake


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hf-cache")


def hub_env(cache: Path) -> dict[str, str]:
    """The emulator's environment: the test's Hugging Face cache, and no telemetry."""
    return {"HF_HUB_CACHE": str(cache), "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory, cache: Path) -> Iterator[LocalAws]:
    with running_emulator(tmp_path_factory.mktemp("hub-runtime"), **hub_env(cache)) as running:
        yield running


def settle(port: int, name: str, repo: str, timeout: float = 120, **env: str) -> dict:
    """Deploy `repo` as endpoint `name`; DescribeEndpoint once it is no longer Creating."""
    sagemaker = client(port, "sagemaker")
    deploy(sagemaker, name, repo, **env)
    return wait_settled(sagemaker, name, timeout=timeout, pending=("Creating",))


def image_of(described: dict) -> str:
    return described["ProductionVariants"][0]["DeployedImages"][0]["ResolvedImage"]


def test_a_gated_repo_without_a_token_fails_naming_hf_token_and_the_licence_page(emulator, hub):
    described = settle(emulator.port, "gated", GATED, HF_ENDPOINT=hub.url)

    assert described["EndpointStatus"] == "Failed"
    assert described["FailureReason"] == (
        f"HF_MODEL_ID={GATED} is gated: set HF_TOKEN to a token of an account that accepted its licence "
        f"at {hub.url}/{GATED}"
    )
    assert not [r for r in hub.requests() if f"/{GATED}/resolve/" in r.path]


def test_a_gated_repo_not_yet_granted_fails_with_the_403_reason(emulator, hub):
    described = settle(emulator.port, "pending", PENDING, HF_ENDPOINT=hub.url, HF_TOKEN=hub.token)

    assert described["EndpointStatus"] == "Failed"
    assert "has not been granted access yet" in described["FailureReason"]
    assert f"accept its licence at {hub.url}/{PENDING}" in described["FailureReason"]


def test_an_unknown_repo_fails_saying_to_check_the_id(emulator, hub):
    described = settle(emulator.port, "missing", "nobody/nothing", HF_ENDPOINT=hub.url)

    assert described["EndpointStatus"] == "Failed"
    assert described["FailureReason"] == (
        f"HF_MODEL_ID=nobody/nothing was not found on {hub.url}: check the id (owner/name); "
        "a private repo also needs HF_TOKEN"
    )


def test_an_unknown_revision_fails_saying_to_pin_an_existing_one(emulator, hub):
    described = settle(emulator.port, "norev", TINY, HF_ENDPOINT=hub.url, HF_MODEL_REVISION="no-such-tag")

    assert described["EndpointStatus"] == "Failed"
    assert described["FailureReason"].startswith(f"HF_MODEL_REVISION=no-such-tag does not exist in {TINY}")


def test_a_model_larger_than_memory_is_refused_before_its_weights_are_fetched(emulator, hub):
    described = settle(emulator.port, "huge", HUGE, HF_ENDPOINT=hub.url, LLM_TWIN_LOCAL_MODEL_ID=HUGE)

    assert described["EndpointStatus"] == "Failed"
    reason = described["FailureReason"]
    assert reason.startswith(
        f"LOCAL_MODEL_ID={HUGE} needs 3725.3 GiB of weights in float32 (the checkpoint's own)"
    )
    assert "set LOCAL_MODEL_ID to a smaller model" in reason and "LOCAL_DTYPE=bfloat16" in reason
    fetched = {r.path.rsplit("/", 1)[-1] for r in hub.requests() if f"/{HUGE}/resolve/" in r.path}
    assert fetched == {"config.json"}  # its dtype was read; the weights never were


def test_a_pinned_revision_is_served_from_the_shared_cache_and_reported_by_the_route(
    emulator, hub, repos, cache
):
    described = settle(emulator.port, "pinned", TINY, HF_ENDPOINT=hub.url, HF_MODEL_REVISION="v1")

    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    commit = hub.commit(TINY, "v1")
    assert image_of(described) == f"llm-twin-model-server:{TINY}@{commit}"
    snapshot = cache / "models--llm-twin--tiny" / "snapshots" / commit
    assert {p.name for p in snapshot.iterdir()} == SERVED  # README.md and the .bin were skipped
    for name in SERVED:
        assert (snapshot / name).read_bytes() == (repos["v1"] / name).read_bytes(), name
    assert (cache / "models--llm-twin--tiny" / "refs" / "v1").read_text() == commit
    model = fetch_serving_model(f"http://127.0.0.1:{emulator.port}", "pinned")
    assert model is not None and model.phase == "ready" and model.source == "hub" and model.revision == commit
    assert model.bytes_done == model.bytes_total == sum((repos["v1"] / n).stat().st_size for n in SERVED)


def test_a_complete_download_is_served_from_the_cache_when_the_hub_is_unreachable(emulator, hub):
    """After the pinned test: v1 is complete in the cache, so no Hub is needed, and no stand-in."""
    with refused_endpoint() as url:
        described = settle(
            emulator.port,
            "offline",
            TINY,
            HF_ENDPOINT=url,
            HF_MODEL_REVISION="v1",
            **{LOCAL_MODEL_ENV: "model"},
        )

    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    assert image_of(described) == f"llm-twin-model-server:{TINY}@{hub.commit(TINY, 'v1')}"


def test_a_body_cut_mid_file_resumes_from_the_bytes_received(emulator, hub, repos):
    cut_at = 5 * 1024 * 1024 + 17
    hub.cut(WEIGHTS, after_bytes=cut_at)
    first = len(hub.requests("cdn"))

    described = settle(emulator.port, "resumed", MIDSIZE, HF_ENDPOINT=hub.url)

    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    gets = [(r.range, r.status) for r in hub.requests("cdn")[first:] if r.method == "GET"]
    assert gets == [(None, 200), (f"bytes={cut_at}-", 206)]


def test_a_refused_hub_fails_in_seconds_when_the_model_is_required(emulator):
    with refused_endpoint() as url:
        started = time.monotonic()
        described = settle(emulator.port, "refused", TINY, HF_ENDPOINT=url, **{LOCAL_MODEL_ENV: "model"})
        elapsed = time.monotonic() - started

    assert described["EndpointStatus"] == "Failed"
    assert described["FailureReason"].startswith(f"the Hub at {url} could not be reached (ConnectError")
    assert described["FailureReason"].endswith(
        "check HF_ENDPOINT and the network, or set LOCAL_MODEL=stand-in"
    )
    assert elapsed < 10


def test_a_silent_hub_fails_after_the_probe_timeout_when_the_model_is_required(emulator):
    with silent_endpoint() as url:
        started = time.monotonic()
        described = settle(emulator.port, "silent", TINY, HF_ENDPOINT=url, **{LOCAL_MODEL_ENV: "model"})
        elapsed = time.monotonic() - started

    assert described["EndpointStatus"] == "Failed"
    assert described["FailureReason"].startswith(f"the Hub at {url} did not answer in time (ReadTimeout")
    assert elapsed < 15


def test_an_unreachable_hub_serves_the_stand_in_and_says_why(emulator):
    with silent_endpoint() as url:
        described = settle(emulator.port, "fallback", TINY, HF_ENDPOINT=url)

    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    assert image_of(described) == STAND_IN_IMAGE
    model = fetch_serving_model(f"http://127.0.0.1:{emulator.port}", "fallback")
    assert model is not None and model.stand_in and model.model_id == TINY
    assert model.stand_in_reason is not None
    assert model.stand_in_reason.startswith(f"the Hub at {url} did not answer in time")
    # What apply, status and infer say; the same reason makes the next apply replace the endpoint.
    settings = settings_for(stack_environ(emulator.dir.parent, emulator.port))
    notice = local_target.stand_in_notice(settings, "fallback", (STAND_IN_IMAGE,))
    assert notice == (
        f"endpoint fallback serves the stand-in, a tiny random model that prints word salad, not {TINY}: "
        f"{model.stand_in_reason}; `llm-twin apply` tries the Hub again"
    )


def test_the_stand_in_is_served_when_asked_without_a_request_to_the_hub(emulator, hub):
    before = len(hub.requests())

    described = settle(emulator.port, "asked", TINY, HF_ENDPOINT=hub.url, **{LOCAL_MODEL_ENV: "stand-in"})

    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    assert image_of(described) == STAND_IN_IMAGE
    assert len(hub.requests()) == before
    model = fetch_serving_model(f"http://127.0.0.1:{emulator.port}", "asked")
    assert model is not None and model.stand_in_reason == "LOCAL_MODEL=stand-in"


def test_a_download_killed_with_the_emulator_resumes_in_the_next_one(tmp_path, hub, repos):
    cache = tmp_path / "cache"
    stalled_at = 3 * 1024 * 1024 + 5
    release = threading.Event()
    hub.cut(WEIGHTS, after_bytes=stalled_at, hold=release)
    blobs = cache / "models--llm-twin--midsize" / "blobs"
    try:
        with running_emulator(tmp_path / "first", **hub_env(cache)) as first:
            deploy(client(first.port, "sagemaker"), "killed", MIDSIZE, HF_ENDPOINT=hub.url)
            deadline = time.monotonic() + 60
            while sum(p.stat().st_size for p in blobs.glob("*.incomplete")) < stalled_at:
                assert time.monotonic() < deadline, "the download never reached the stall"
                time.sleep(0.1)
            os.kill(first.status().pid or 0, signal.SIGKILL)
    finally:
        release.set()
    first_cdn = len(hub.requests("cdn"))

    with running_emulator(tmp_path / "second", **hub_env(cache)) as second:
        described = settle(second.port, "killed", MIDSIZE, HF_ENDPOINT=hub.url)

    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    gets = [(r.range, r.status) for r in hub.requests("cdn")[first_cdn:] if r.method == "GET"]
    assert gets == [(f"bytes={stalled_at}-", 206)]
    weights = (cache / "models--llm-twin--midsize" / "snapshots" / hub.commit(MIDSIZE) / WEIGHTS).read_bytes()
    assert weights == (repos["mid"] / WEIGHTS).read_bytes()
    assert not list(blobs.glob("*.incomplete"))
