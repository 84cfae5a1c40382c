"""A random checkpoint with the shape of SmolLM2-135M, built offline for the engine bench.

The shape is SmolLM2-135M's config.json (Llama: hidden 576, 30 layers, 9 heads, 3 KV
heads, intermediate 1536, vocabulary 49152, tied embeddings), so a decode step costs
what the real model's does. The weights are random and nothing is downloaded.

The tokenizer is a byte-level BPE trained on seeded pseudo-words until it has all
49152 ids, as SmolLM2's has: every id the model can emit decodes to text, and the
incremental detokenizer works on merges as long as a real one's.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

VOCAB_SIZE = 49152
BOS_ID, EOS_ID = 1, 2
SHAPE: dict[str, Any] = {
    "hidden_size": 576,
    "num_hidden_layers": 30,
    "num_attention_heads": 9,
    "num_key_value_heads": 3,
    "intermediate_size": 1536,
    "vocab_size": VOCAB_SIZE,
    "tie_word_embeddings": True,
    "max_position_embeddings": 8192,
    "rope_theta": 100000.0,
    "rms_norm_eps": 1e-5,
    "hidden_act": "silu",
    "initializer_range": 0.02,
    "dtype": "bfloat16",  # config.json's torch_dtype, as transformers 5 names it
}
"""SmolLM2-135M's config.json, the fields that set the cost of a forward pass."""

_SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"] + list("aeiou")


def _corpus(seed: int) -> list[str]:
    """Lines of pseudo-words: enough distinct pairs for 49152 BPE merges."""
    rng = random.Random(seed)
    words = ["".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 5))) for _ in range(300_000)]
    return [" ".join(words[i : i + 20]) for i in range(0, len(words), 20)]


def build_tokenizer(seed: int = 0) -> Any:
    """A `PreTrainedTokenizerFast` with exactly `VOCAB_SIZE` ids and `<s>`/`</s>`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        min_frequency=1,
        special_tokens=["<unk>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_corpus(seed), trainer=trainer)
    if tokenizer.get_vocab_size() != VOCAB_SIZE:
        raise RuntimeError(f"the BPE has {tokenizer.get_vocab_size()} ids, not {VOCAB_SIZE}")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", BOS_ID)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        clean_up_tokenization_spaces=False,
    )


def create_checkpoint(path: Path, *, seed: int = 0) -> Path:
    """Write the random SmolLM2-135M-shaped checkpoint into `path`, in bfloat16 as the real one is."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    path.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(seed)
    config = LlamaConfig(**SHAPE, bos_token_id=BOS_ID, eos_token_id=EOS_ID, pad_token_id=None)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model = model.to(torch.bfloat16)  # type: ignore[arg-type]  # transformers types `to` as its wrapper
    model.eval()
    model.generation_config = GenerationConfig(bos_token_id=BOS_ID, eos_token_id=EOS_ID)
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)
    return path


def prompts(count: int, seed: int = 1) -> list[str]:
    """`count` prompts of 8 to 64 pseudo-words: different lengths, so a static batch pads."""
    rng = random.Random(seed)
    return [
        " ".join("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 3))) for _ in range(n))
        for n in (rng.randint(8, 64) for _ in range(count))
    ]
