"""The runtime's fault knobs alone: specs parsed, a request's attribute over the environment's,
re-cuts that move only the cuts, and the jitter switch (`llm_twin_local.aws.runtime.faults`)."""

from __future__ import annotations

import pytest

from llm_twin_local.aws.runtime.faults import Faults, Jitter, Reshaper, StreamFault


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [
        ("reset@2", StreamFault("reset", 2)),
        ("tgi_error", StreamFault("tgi_error", 1)),
        ("coalesce", StreamFault("coalesce", 1)),
        (" none ", None),
        ("", None),
        ("coalesce@2", None),  # re-cuts strike everywhere, not after N parts
        ("reset@0", None),
        ("reset@x", None),
        ("explode", None),
    ],
)
def test_fault_specs_parse_and_bad_ones_are_ignored(spec: str, parsed: StreamFault | None) -> None:
    assert StreamFault.parse(spec, "LLM_TWIN_FAULT") == parsed


def test_a_request_attribute_replaces_the_environments_stream_faults() -> None:
    environment = Faults.from_environ({"LLM_TWIN_FAULT": "reset@2", "LLM_TWIN_STALL_AFTER_PARTS": "3"})
    assert (environment.stream_fault, environment.stall_after_parts) == (StreamFault("reset", 2), 3)

    assert environment.for_request(None) == environment
    assert environment.for_request("accept_eula=true") == environment
    chosen = environment.for_request("accept_eula=true; llm-twin-fault=coalesce")
    assert (chosen.stream_fault, chosen.stall_after_parts) == (StreamFault("coalesce", 1), None)
    cleared = environment.for_request("llm-twin-fault=none")
    assert (cleared.stream_fault, cleared.stall_after_parts) == (None, None)


@pytest.mark.parametrize("kind", ["split_lines", "split_utf8", "coalesce", "no_final_newline"])
def test_reshapers_move_only_the_cuts(kind: str) -> None:
    chunks = ['data:{"text":"日本"}\n\n'.encode(), b'data:{"text":"a', 'é"}\n\n'.encode()]
    reshaper = Reshaper.for_stream(StreamFault(kind), None)
    pieces = [piece for chunk in chunks for piece in reshaper.feed(chunk)] + list(reshaper.end())

    expected = b"".join(chunks)
    assert b"".join(pieces) == (expected.rstrip(b"\n") if kind == "no_final_newline" else expected)
    assert all(pieces)
    if kind == "coalesce":
        assert len(pieces) == 1
    if kind == "split_utf8":
        assert sum(1 for piece in pieces if piece[-1] >= 0xC0) == 3  # 日, 本 and é each cut
    if kind == "split_lines":
        assert not any(piece.startswith(b"data:") and piece.endswith(b"\n") for piece in pieces)


def test_jitter_is_on_only_for_a_true_word_and_keeps_its_seed() -> None:
    assert Jitter.from_environ(
        {"LLM_TWIN_CHUNK_JITTER": " Yes ", "LLM_TWIN_CHUNK_JITTER_SEED": "3"}
    ) == Jitter(3)
    assert Jitter.from_environ({"LLM_TWIN_CHUNK_JITTER": "on"}) == Jitter(0)
    assert Jitter.from_environ({"LLM_TWIN_CHUNK_JITTER": "0"}) is None
    assert Jitter.from_environ({}) is None
    data = bytes(range(200))
    first, again = Jitter(3).cutter(), Jitter(3).cutter()
    assert list(first(data)) == list(again(data)) and b"".join(Jitter(3).cutter()(data)) == data
