"""The parts without HTTP: SSE framing, detokenization, parameters, settings, loading, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from llm_twin.protocol.sse import iter_sse_data
from llm_twin_local.model_server.__main__ import main
from llm_twin_local.model_server.engine import Engine, EngineConfig, IncrementalDecoder, load_model
from llm_twin_local.model_server.errors import OverloadedError, SettingsError
from llm_twin_local.model_server.params import Limits, ParameterError, parse_generate_request, validate
from llm_twin_local.model_server.settings import ServerSettings
from llm_twin_local.model_server.sse import DONE, event, f32

pytestmark = pytest.mark.timeout(60)


def test_sse_round_trip_survives_any_split() -> None:
    payloads = [{"token": {"text": "café 🙂"}}, {"error": "x", "error_type": "validation"}]
    raw = b"".join(event(p) for p in payloads) + DONE
    assert raw.startswith(b'data: {"token":{"text":"caf\xc3\xa9')  # axum 0.7: one space (research.md A1)
    assert raw.endswith(b"\n\ndata: [DONE]\n\n")  # huggingface_hub knows only this end
    for size in (1, 2, 3, 7):
        chunks = [raw[i : i + size] for i in range(0, len(raw), size)]
        data = list(iter_sse_data(chunks))
        assert [json.loads(d) for d in data[:-1]] == payloads
        assert data[-1] == "[DONE]"


def test_stream_without_final_newline_still_yields_last_event() -> None:
    assert list(iter_sse_data([b"data:1\n\ndata:2"])) == ["1", "2"]


def test_f32_prints_like_serde() -> None:
    assert json.dumps(f32(-0.34)) == "-0.34"
    assert f32(float("nan")) is None


def test_incremental_decode_concatenates_to_the_whole_text(tiny_model: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model))
    prompt = tokenizer("Hi").input_ids
    text = "naïve café — 🙂 你好 €5"
    ids = tokenizer(text, add_special_tokens=False).input_ids
    decoder = IncrementalDecoder(tokenizer, prompt)
    pieces = [decoder.step(i) for i in ids] + [decoder.flush()]
    assert "".join(pieces) == text
    assert all("\ufffd" not in piece for piece in pieces)


def test_byte_tokens_are_held_until_the_character_is_whole(tiny_model: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model))
    # "🙂" as its four single-byte tokens.
    emoji_bytes = "🙂".encode()
    ids = [tokenizer.convert_tokens_to_ids(_byte_symbol(b)) for b in emoji_bytes]
    decoder = IncrementalDecoder(tokenizer, tokenizer("Hi").input_ids)
    assert [decoder.step(i) for i in ids] == ["", "", "", "🙂"]


def _byte_symbol(byte: int) -> str:
    # GPT-2's byte-to-unicode table, as the ByteLevel pre-tokenizer uses it.
    printable = (
        list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    )
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table[byte]


LIMITS = Limits(max_input_tokens=8, max_total_tokens=16)


def test_validation_messages_follow_tgi() -> None:
    request = parse_generate_request({"inputs": "x", "parameters": {"max_new_tokens": 20}})
    with pytest.raises(ParameterError, match=r"`inputs` tokens \+ `max_new_tokens` must be <= 16"):
        validate(request, [1, 2], LIMITS)
    request = parse_generate_request({"inputs": "x", "parameters": {"max_new_tokens": 1}})
    with pytest.raises(ParameterError, match="`inputs` must have less than 8 tokens. Given: 9"):
        validate(request, list(range(9)), LIMITS)


def test_null_max_new_tokens_fills_the_total() -> None:
    request = parse_generate_request({"inputs": "x", "parameters": {"max_new_tokens": None}})
    assert validate(request, [1, 2, 3], LIMITS).max_new_tokens == 13


def test_greedy_unless_sampling_is_implied() -> None:
    def seed(parameters: dict) -> int | None:
        return validate(parse_generate_request({"inputs": "x", "parameters": parameters}), [1], LIMITS).seed

    assert seed({"max_new_tokens": 1}) is None
    assert seed({"max_new_tokens": 1, "temperature": 1.0}) is None
    assert seed({"max_new_tokens": 1, "top_k": 3, "seed": 5}) == 5
    assert isinstance(seed({"max_new_tokens": 1, "do_sample": True}), int)


def test_settings_refuse_inconsistent_limits() -> None:
    with pytest.raises(SettingsError, match="MAX_INPUT_TOKENS"):
        ServerSettings(Path("."), max_input_tokens=100, max_total_tokens=100).resolve(2048)
    with pytest.raises(SettingsError, match="MAX_BATCH_PREFILL_TOKENS"):
        ServerSettings(Path("."), max_input_tokens=100, max_batch_prefill_tokens=50).resolve(2048)
    with pytest.raises(SettingsError, match="max_position_embeddings"):
        ServerSettings(Path("."), max_total_tokens=4096).resolve(2048)
    limits, engine = ServerSettings(Path(".")).resolve(512)
    assert limits.max_total_tokens == 512 and limits.max_input_tokens == 511
    assert engine.max_batch_prefill_tokens == 561


def test_loading_refuses_a_directory_without_safetensors(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"")
    with pytest.raises(SettingsError, match="safetensors"):
        load_model(tmp_path)


def test_queue_full_is_overloaded(tiny_model: Path) -> None:
    engine = Engine(load_model(tiny_model), EngineConfig(max_concurrent_requests=1))  # never started
    request = validate(
        parse_generate_request({"inputs": "x", "parameters": {"max_new_tokens": 2}}), [1, 5], LIMITS
    )
    engine.submit(request, lambda event: None)
    with pytest.raises(OverloadedError):
        engine.submit(request, lambda event: None)


def test_make_test_model_cli(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["make-test-model", str(tmp_path / "m"), "--size", "tiny"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "m" / "model.safetensors").is_file()
    assert (tmp_path / "m" / "tokenizer.json").is_file()


def test_serve_cli_reports_a_bad_model_dir(tmp_path: Path) -> None:
    # HF_HUB_OFFLINE listed so Click restores it: serving sets it, and emulators this worker
    # starts later would inherit it and never reach a Hub.
    result = CliRunner().invoke(
        main, ["--model-dir", str(tmp_path), "--port", "1"], env={"HF_HUB_OFFLINE": None}
    )
    assert result.exit_code == SettingsError.exit_code
    assert "SettingsError:" in result.output
