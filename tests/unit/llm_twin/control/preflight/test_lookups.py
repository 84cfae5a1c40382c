"""The preflight lookups that need no AWS: a checkpoint on disk, and the Hub through HF_ENDPOINT.

The Hub is a real HTTP server on loopback serving the routes TGI and huggingface_hub use
(`/api/models/<id>`, `/<id>/resolve/main/<file>`), the way a Hub mirror does.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from llm_twin.config import Secret, Settings, build_settings
from llm_twin.control.preflight import checks as preflight
from llm_twin.control.preflight.lookups import probe_hub, read_hub_model, read_local_model
from tests.support.preflight import LLAMA_8B, inputs

INDEX = {"metadata": {"total_size": 16_060_522_496}, "weight_map": {}}
ROUTES = {
    "/api/models/meta-llama/Llama-3.1-8B": {"id": "meta-llama/Llama-3.1-8B", "gated": "manual"},
    "/api/models/acme/open-8b": {"id": "acme/open-8b", "gated": False},
    "/acme/open-8b/resolve/main/config.json": LLAMA_8B,
    "/acme/open-8b/resolve/main/model.safetensors.index.json": INDEX,
}


@pytest.fixture(scope="module")
def hub() -> Iterator[tuple[str, list[str]]]:
    """(url, Authorization headers seen)."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            seen.append(self.headers.get("Authorization", ""))
            body = ROUTES.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            self.wfile.write(json.dumps(body).encode() if body is not None else b"")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", seen
    finally:
        server.shutdown()


def test_a_gated_repo_without_token_warns_by_name(hub: tuple[str, list[str]]) -> None:
    url, _ = hub
    answer = probe_hub("meta-llama/Llama-3.1-8B", "", url, 3.0)
    assert answer.reachable and answer.gated is True
    settings = build_settings({"model.hf_model_id": "meta-llama/Llama-3.1-8B"})
    check = preflight.check_gated(inputs(settings, hub=answer, is_hub_model=True))
    assert check.status == "WARN" and "is gated on the Hub" in check.detail


def test_an_open_repo_is_read_from_the_hub_with_the_token(hub: tuple[str, list[str]]) -> None:
    url, seen = hub
    answer = probe_hub("acme/open-8b", "hf_secret", url, 3.0)
    assert answer.reachable and answer.gated is False
    model = read_hub_model("acme/open-8b", "hf_secret", url, 3.0)
    assert model.facts is not None
    assert model.facts.checkpoint_bytes == INDEX["metadata"]["total_size"]
    assert model.facts.source == "the Hub (acme/open-8b)"
    assert seen[-1] == "Bearer hf_secret"
    settings = build_settings({"model.hf_model_id": "acme/open-8b", "model.hf_token": Secret("hf_secret")})
    assert preflight.check_gated(inputs(settings, hub=answer, is_hub_model=True)).status == "OK"


def test_a_missing_repo_is_skipped_not_failed(hub: tuple[str, list[str]]) -> None:
    url, _ = hub
    assert probe_hub("acme/missing", "", url, 3.0).status == 404
    assert read_hub_model("acme/missing", "", url, 3.0).skipped


def test_a_local_checkpoint_counts_its_safetensors(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(LLAMA_8B))
    for name, size in (
        ("model-00001-of-00002.safetensors", 3000),
        ("model-00002-of-00002.safetensors", 1000),
    ):
        (tmp_path / name).write_bytes(b"\0" * size)
    model = read_local_model(tmp_path)
    assert model.facts is not None and model.facts.checkpoint_bytes == 4000
    assert read_local_model(tmp_path / "nowhere").error


def test_a_config_that_is_not_json_is_an_error_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{not json")
    model = read_local_model(tmp_path)
    assert model.facts is None and "local checkpoint" in (model.error or "")
    check = preflight.check_fit(inputs(Settings(), model=model))[0]
    assert check.status == "WARN"
