"""The model server's environment knobs: the TGI version it answers as, and an injected fault."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from llm_twin_local.model_server.__main__ import main
from llm_twin_local.model_server.errors import SettingsError
from llm_twin_local.model_server.knobs import GenerationFault, generation_fault, tgi_version
from tests.support.model_server import Server, start_server, stop_server

pytestmark = pytest.mark.timeout(120)


def test_tgi_version() -> None:
    assert tgi_version({}) == "3.3.6"
    assert tgi_version({"TGI_VERSION": "3.2.3"}) == "3.2.3"
    with pytest.raises(SettingsError, match=r"^TGI_VERSION: expected a TGI version like 3.3.6, got '3.3'$"):
        tgi_version({"TGI_VERSION": "3.3"})


def test_generation_fault() -> None:
    assert generation_fault({}) is None
    assert generation_fault({"LLM_TWIN_SERVER_FAULT": "generation@2"}) == GenerationFault(2)
    with pytest.raises(SettingsError, match="expected generation@N"):
        generation_fault({"LLM_TWIN_SERVER_FAULT": "reset"})


def test_a_bad_version_stops_the_server_before_it_serves(tiny_model: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["--model-dir", str(tiny_model), "--port", "1"],
        env={"TGI_VERSION": "latest", "HF_HUB_OFFLINE": None},  # restored after: serving sets it
    )
    assert result.exit_code == SettingsError.exit_code
    assert "SettingsError: TGI_VERSION: expected a TGI version like 3.3.6, got 'latest'" in result.output


@pytest.fixture(scope="module")
def tgi_2_server(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log_path = tmp_path_factory.mktemp("tgi2-log") / "server.log"
    running = start_server(tiny_model, log_path, "--max-total-tokens", "1024", env={"TGI_VERSION": "2.4.1"})
    yield running
    stop_server(running)


def test_the_configured_version_is_reported_and_applied(tgi_2_server: Server) -> None:
    assert requests.get(tgi_2_server.url + "/info", timeout=5).json()["version"] == "2.4.1"
    chat = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1}
    assert tgi_2_server.post("/v1/chat/completions", chat).json()["system_fingerprint"] == "2.4.1-native"
    # TGI 2.x counts every requested token against the total (3.x counts at most 1024).
    answer = tgi_2_server.post("/generate", {"inputs": "Hi", "parameters": {"max_new_tokens": 1100}})
    assert answer.status_code == 422
    assert json.loads(answer.content)["error"].endswith(" `inputs` tokens and 1100 `max_new_tokens`")
