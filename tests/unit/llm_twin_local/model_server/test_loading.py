"""What `load_model` refuses up front, and the SentencePiece-only tokenizer it reads.

A refused checkpoint gets one `SettingsError` naming what is wrong and what is allowed;
nothing is served. The SentencePiece tokenizer is checked against sentencepiece itself.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from llm_twin_local.model_server.architectures import SUPPORTED_ARCHITECTURES
from llm_twin_local.model_server.checkpoint import _CORPUS, BOS_ID, EOS_ID, build_tokenizer
from llm_twin_local.model_server.engine import Engine, EngineConfig, load_model
from llm_twin_local.model_server.errors import SettingsError
from tests.support.engine import generate, submit, wait

pytestmark = pytest.mark.timeout(120)

SHAPE = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2}


def _save(path: Path, model: Any, *, tokenizer: bool = True) -> Path:
    model.save_pretrained(path)
    if tokenizer:
        build_tokenizer(300).save_pretrained(path)
    return path


def _llama(vocab_size: int = 300, **overrides: Any) -> Any:
    from transformers import LlamaConfig, LlamaForCausalLM

    return LlamaForCausalLM(LlamaConfig(vocab_size=vocab_size, **SHAPE, **overrides))


def test_an_unsupported_architecture_is_refused_naming_it_and_the_supported_ones(tmp_path: Path) -> None:
    from transformers import PhiConfig, PhiForCausalLM

    _save(tmp_path, PhiForCausalLM(PhiConfig(vocab_size=300, **SHAPE)))
    with pytest.raises(SettingsError) as refused:
        load_model(tmp_path)
    message = str(refused.value)
    assert "model_type 'phi' (PhiForCausalLM)" in message
    assert all(model_type in message for model_type in SUPPORTED_ARCHITECTURES)


def test_a_head_other_than_the_causal_lm_is_refused(tmp_path: Path) -> None:
    from transformers import LlamaConfig, LlamaForSequenceClassification

    _save(tmp_path, LlamaForSequenceClassification(LlamaConfig(vocab_size=300, num_labels=2, **SHAPE)))
    with pytest.raises(SettingsError, match=r"\['LlamaForSequenceClassification'\].*LlamaForCausalLM"):
        load_model(tmp_path)


def test_missing_weights_are_refused_not_left_random(tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    _save(tmp_path, _llama())
    weights = load_file(tmp_path / "model.safetensors")
    del weights["lm_head.weight"]
    save_file(weights, tmp_path / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(SettingsError, match=r"lacks weights the model needs .*lm_head\.weight"):
        load_model(tmp_path)


def test_rope_scaling_that_depends_on_the_batch_is_refused(tmp_path: Path) -> None:
    half_head = SHAPE["hidden_size"] // SHAPE["num_attention_heads"] // 2
    longrope = {
        "rope_type": "longrope",
        "rope_theta": 10000.0,
        "short_factor": [1.0] * half_head,
        "long_factor": [4.0] * half_head,
        "original_max_position_embeddings": 64,
    }
    _save(tmp_path, _llama(rope_parameters=longrope, max_position_embeddings=256))
    with pytest.raises(
        SettingsError, match="unsupported RoPE scaling longrope in 'llama'.*supported: default"
    ):
        load_model(tmp_path)


def _sentencepiece_checkpoint(path: Path) -> bytes:
    """A Llama checkpoint whose only tokenizer file is a SentencePiece model trained here."""
    spm = pytest.importorskip("sentencepiece", reason="reading tokenizer.model needs sentencepiece")
    proto = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_CORPUS.splitlines()),
        model_writer=proto,
        vocab_size=600,
        model_type="bpe",
        byte_fallback=True,
        character_coverage=0.99,
        unk_id=0,
        bos_id=BOS_ID,
        eos_id=EOS_ID,
        pad_id=-1,
        minloglevel=2,
    )
    torch.manual_seed(0)
    model = _llama(600, initializer_range=0.25, bos_token_id=BOS_ID, eos_token_id=EOS_ID)
    _save(path, model, tokenizer=False)
    (path / "tokenizer.model").write_bytes(proto.getvalue())
    (path / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "LlamaTokenizer"}))
    return proto.getvalue()


def test_a_sentencepiece_only_tokenizer_is_read_like_sentencepiece_reads_it(tmp_path: Path) -> None:
    import sentencepiece as spm
    from transformers import AutoModelForCausalLM

    processor = spm.SentencePieceProcessor(model_proto=_sentencepiece_checkpoint(tmp_path))
    assert not (tmp_path / "tokenizer.json").exists()
    loaded = load_model(tmp_path)
    text = "The naïve café serves crème brûlée 🙂 at 3.14 €"
    assert loaded.encode(text, add_special_tokens=False) == processor.encode(text)
    assert loaded.tokenizer.decode(processor.encode(text)) == processor.decode(processor.encode(text))
    engine = Engine(loaded, EngineConfig())
    engine.start()
    try:
        ids = loaded.encode("The quick brown fox")
        reference = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
        assert wait(submit(engine, ids, 12)).ids == generate(reference, ids, 12, EOS_ID)[0]
    finally:
        engine.stop()


def test_without_sentencepiece_the_missing_tokenizer_json_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _sentencepiece_checkpoint(tmp_path)
    monkeypatch.setitem(sys.modules, "sentencepiece", None)  # as if it were not installed
    with pytest.raises(SettingsError) as refused:
        load_model(tmp_path)
    message = str(refused.value)
    assert "has tokenizer.model (SentencePiece) but no tokenizer.json" in message
    assert "sentencepiece==" in message and "tiktoken" not in message
