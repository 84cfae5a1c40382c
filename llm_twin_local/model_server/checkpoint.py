"""Make small Llama checkpoints with random weights, entirely offline.

The tokenizer is a byte-level BPE trained on a built-in English text (with a few
accented words, symbols and emoji, so that multi-byte UTF-8 tokens exist), wrapped
in `PreTrainedTokenizerFast` with `<s>`/`</s>` and a minimal chat template.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

CheckpointSize = Literal["tiny", "bench", "200mb"]
Vocabulary = Literal["bpe", "words"]
"""bpe: byte-level BPE with multi-byte tokens (split UTF-8 happens); words: whole English words only."""

CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}{{ eos_token }}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)

SPECIAL_TOKENS = ["<unk>", "<s>", "</s>"]
UNK_ID, BOS_ID, EOS_ID = 0, 1, 2

# Enough text for a few hundred merges; the non-ASCII words give multi-byte tokens.
_CORPUS = """\
The quick brown fox jumps over the lazy dog. A journey of a thousand miles begins with a single step.
Deep learning models are trained on large amounts of text, and they learn to predict the next token.
Language models generate text one token at a time; each token is a piece of a word, a word, or a symbol.
The weather today is sunny with a light breeze, and the forecast for tomorrow says it will rain.
She opened the window, looked at the garden, and smiled because the flowers had finally bloomed.
Engineers deploy services to the cloud, monitor their latency, and scale them when traffic grows.
Reading books, writing letters, and talking with friends are simple pleasures that make life richer.
In the morning we drink coffee at the café, order a croissant, and read the newspaper together.
The naïve résumé of the façade: crème brûlée, jalapeño, piñata, déjà vu, Zürich, São Paulo, Kraków.
Prices are quoted in € and £ and ¥; temperatures in °C; the math uses π, √2, ∞ and ≈ — all of it “quoted”.
Greetings: 你好世界, こんにちは, 안녕하세요, Привет мир, Γειά σου κόσμε, مرحبا بالعالم, שלום עולם.
Emoji appear in chat: 🙂 😀 🚀 🎉 ❤️ 👍 and people use them to express feelings quickly.
What is your name? My name is Twin, and I am a helpful assistant that answers questions clearly.
How do I deploy a model? You package the weights, choose an instance, and create an endpoint.
Numbers: 0 1 2 3 4 5 6 7 8 9 10 100 1000 2024 3.14 42,
and punctuation: ! ? . , ; : ( ) [ ] { } " ' - _ / \\ @ # % & * + =
"""


# The stand-in's words, besides the corpus's: a random model over them prints word salad that reads
# as English words, never a partial UTF-8 character (U+FFFD).
_WORDS = """
about after again air all also always and animal another answer any are around ask away back be
because been before began begin being below best better between big black blue boat body book both
boy bring build but call came can car carry cause change children city close cloud cold come could
country cut dark day did different do does done door down draw dream each early earth eat end
enough even every example eye face fall family far father feel few field find fire first fly follow
food for form found four free friend from full game gave get girl give go good great green ground
group grow had hand hard has have he head hear heart help her here high him his hold home horse
hot house how idea if important in into is island it its just keep kind king know land large last
later learn leave left let letter life light like line list listen little live long look love low
made make man many map mark may me mean men might mind more most mother mountain move much music
must my name near need never new next night no north not nothing now number of off often old on
once one only open or order other our out over own page paper part pass people picture place plan
plant play point poem quiet rain read real red remember rest right river road rock room round run
said same saw say sea second see seem sentence set she ship short should show side silver simple
since sing sky sleep slow small snow so some something song soon sound south space speak spring
stand star start stay still stone stop story street strong study such summer sun sure table take
talk tell than that the their them then there these they thing think this those thought three
through time to together told too took tree true try turn two under until up us use very voice
walk want warm was watch water way we well went were what when where which while white who why
wide will wind window winter with without word work world would write year yes yet you young your
"""


@dataclass(frozen=True)
class ModelShape:
    """The architecture of a random test checkpoint."""

    hidden_size: int
    layers: int
    vocab_size: int
    heads: int
    intermediate_size: int
    max_position_embeddings: int = 2048


SIZES: dict[str, ModelShape] = {
    # A few MB; created in about a second.
    "tiny": ModelShape(hidden_size=64, layers=2, vocab_size=1024, heads=4, intermediate_size=176),
    # Big enough that batching pays off on a couple of CPU cores (about 100 MB).
    "bench": ModelShape(hidden_size=512, layers=8, vocab_size=4096, heads=8, intermediate_size=1408),
    # At least 200 MB of float32 weights (about 290 MB), for load-time comparisons.
    "200mb": ModelShape(hidden_size=768, layers=10, vocab_size=4096, heads=12, intermediate_size=2048),
}


def _wrapped(tokenizer: Tokenizer) -> PreTrainedTokenizerFast:
    """`tokenizer` with a BOS before each sequence and the chat template, as transformers loads it."""
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", BOS_ID)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        chat_template=CHAT_TEMPLATE,
        model_max_length=2048,
        clean_up_tokenization_spaces=False,
    )


def build_tokenizer(vocab_size: int) -> PreTrainedTokenizerFast:
    """Train the byte-level BPE on the built-in corpus; returns a `PreTrainedTokenizerFast`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token=None, byte_fallback=False))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=1,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_CORPUS.splitlines(), trainer=trainer)
    return _wrapped(tokenizer)


def build_word_tokenizer() -> PreTrainedTokenizerFast:
    """A word-level tokenizer over English words and punctuation, each token whole ASCII.

    Byte-level pre-tokenization gives every word after a space its space (`Ġword`), so a
    sequence decodes to the same text streamed token by token or all at once.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    stripped = (w.strip(".,;:!?()\"'") for w in (_CORPUS + _WORDS).split())
    words = sorted({w.lower() for w in stripped if w.isascii() and w.isalpha()})
    punctuation = [".", ",", "?", "!", ";", ":", "Ċ"]  # Ċ: the byte-level newline
    numbers = [f"Ġ{n}" for n in range(10)]
    tokens = [*SPECIAL_TOKENS, *punctuation, *numbers, *(f"Ġ{w}" for w in words)]
    tokenizer = Tokenizer(models.WordLevel({t: i for i, t in enumerate(tokens)}, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    return _wrapped(tokenizer)


def create_test_checkpoint(
    path: str | Path,
    *,
    hidden_size: int = 64,
    layers: int = 2,
    vocab_size: int = 1024,
    heads: int | None = None,
    intermediate_size: int | None = None,
    max_position_embeddings: int = 2048,
    seed: int = 0,
    vocabulary: Vocabulary = "bpe",
) -> Path:
    """Write a random Llama checkpoint (`model.safetensors`, configs, tokenizer) into `path`.

    `vocab_size` is the BPE tokenizer's target size; the built-in corpus runs out of merges
    at about 950 tokens, and the embedding gets exactly as many rows as the tokenizer
    has ids, so the model never emits an id that decodes to nothing. `words` ignores it.
    """
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    heads = heads or max(1, hidden_size // 64)
    if hidden_size % heads:
        raise ValueError(f"hidden_size {hidden_size} is not divisible by heads {heads}")
    tokenizer = build_word_tokenizer() if vocabulary == "words" else build_tokenizer(vocab_size)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size or (hidden_size * 11 // 4),
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=max_position_embeddings,
        bos_token_id=BOS_ID,
        eos_token_id=EOS_ID,
        tie_word_embeddings=False,
        # Peakier logits than the default 0.02: fewer near-ties between the top tokens,
        # so greedy decoding does not hinge on the last bit of a float.
        initializer_range=0.25,
    )
    torch.manual_seed(seed)
    # transformers decorates `to` with functools.wraps(Module.to): mypy sees the unbound method.
    model = LlamaForCausalLM(config).to(torch.float32).eval()  # type: ignore[arg-type]
    model.generation_config = GenerationConfig(bos_token_id=BOS_ID, eos_token_id=EOS_ID)
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)
    return path


def create_sized_checkpoint(path: str | Path, size: CheckpointSize = "tiny", *, seed: int = 0) -> Path:
    """`create_test_checkpoint` with one of the `SIZES` presets."""
    shape = SIZES[size]
    return create_test_checkpoint(
        path,
        hidden_size=shape.hidden_size,
        layers=shape.layers,
        vocab_size=shape.vocab_size,
        heads=shape.heads,
        intermediate_size=shape.intermediate_size,
        max_position_embeddings=shape.max_position_embeddings,
        seed=seed,
    )
