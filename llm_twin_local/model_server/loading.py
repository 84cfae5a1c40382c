"""Load a checkpoint directory into a `LoadedModel`, refusing what the engine cannot serve exactly.

Every refusal is a `SettingsError` naming the file or field at fault: an unsupported
architecture (see `architectures.py`), weights that are not safetensors, weights the
model class does not find (they would be random), a tokenizer that cannot be read.
Heavy imports (transformers) happen inside the functions, so importing this is cheap.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
from pathlib import Path
from typing import TYPE_CHECKING, cast

import torch

from .architectures import check_architecture
from .dtypes import DtypeChoice, checkpoint_dtype, served_dtype
from .errors import SettingsError

if TYPE_CHECKING:
    from transformers import Cache, DynamicCache, PretrainedConfig, PreTrainedModel, PreTrainedTokenizerBase

SENTENCEPIECE_HINT = "sentencepiece==0.2.1 (later releases need protobuf>=7)"


class LoadedModel:
    """A causal LM and its tokenizer, loaded from a local directory of safetensors."""

    def __init__(
        self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, *, model_dir: Path
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.model_dir = model_dir
        self.config = model.config
        self.special_ids = frozenset(int(i) for i in tokenizer.all_special_ids)
        eos = model.generation_config.eos_token_id if model.generation_config else None
        if eos is None:
            eos = tokenizer.eos_token_id
        self.eos_ids = frozenset([eos] if isinstance(eos, int) else (eos or []))
        self.dtype = str(next(model.parameters()).dtype)
        params = inspect.signature(model.forward).parameters
        # transformers 5.x renamed `past_key_values` to `cache`.
        self.cache_kwarg = "cache" if "cache" in params else "past_key_values"

    @property
    def max_position_embeddings(self) -> int | None:
        return getattr(self.config, "max_position_embeddings", None)

    def new_cache(self) -> DynamicCache:
        """An empty cache that keeps every column of every layer.

        Not `DynamicCache(config=...)`: that one drops the columns that have left a
        sliding window, so windowed and full layers would hold different lengths and
        could not share the batch's left-padded buffers. The model's own sliding-window
        mask hides the old columns, which gives the same attention.
        """
        from transformers import DynamicCache

        return DynamicCache()

    def forward(
        self, input_ids: torch.Tensor, cache: Cache, *, every_position: bool = False, **kwargs: torch.Tensor
    ) -> torch.Tensor:
        """Logits of the last position, shape (batch, vocab); of all positions if asked."""
        out = self.model(
            input_ids=input_ids,
            use_cache=True,
            logits_to_keep=0 if every_position else 1,
            **{self.cache_kwarg: cache},
            **kwargs,
        )
        return out.logits.float() if every_position else out.logits[:, -1, :].float()

    def encode(self, text: str, *, add_special_tokens: bool = True) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"])


def _check_sentencepiece(model_dir: Path) -> None:
    """A `tokenizer.model` without `tokenizer.json` needs sentencepiece to be converted.

    Without it transformers falls back to reading the file as tiktoken and fails with
    "`tiktoken` is required", which sends the user after the wrong package.
    """
    file = model_dir / "tokenizer.model"
    missing = f"{model_dir} has tokenizer.model (SentencePiece) but no tokenizer.json"
    if importlib.util.find_spec("sentencepiece") is None:
        raise SettingsError(f"{missing}; reading it needs {SENTENCEPIECE_HINT}, or add tokenizer.json")
    from transformers.convert_slow_tokenizer import SentencePieceExtractor

    try:
        SentencePieceExtractor(str(file))
    except Exception as err:  # the extractor raises whatever protobuf or sentencepiece raise
        raise SettingsError(f"{missing}, and it cannot be read ({err}); needs {SENTENCEPIECE_HINT}") from err


def _load_tokenizer(model_dir: Path) -> PreTrainedTokenizerBase:
    from transformers import AutoTokenizer

    if not (model_dir / "tokenizer.json").is_file() and (model_dir / "tokenizer.model").is_file():
        _check_sentencepiece(model_dir)
    try:
        return AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    except (OSError, ValueError, ImportError) as err:
        raise SettingsError(f"cannot load the tokenizer in {model_dir}: {err}") from err


def _attention(config: PretrainedConfig) -> str:
    """SDPA where the model class accepts it; eager otherwise (Gemma2's logit softcapping)."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING

    model_class = MODEL_FOR_CAUSAL_LM_MAPPING[type(config)]
    return "sdpa" if getattr(model_class, "_supports_sdpa", False) else "eager"


def load_model(model_dir: str | Path, *, dtype: DtypeChoice = "auto") -> LoadedModel:
    """Load weights and tokenizer from `model_dir`; never touches the Hub, refuses non-safetensors.

    `dtype` is `--dtype`: "auto" takes the checkpoint's own (see `dtypes.served_dtype`).
    """
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise SettingsError(f"model directory {model_dir} does not exist")
    if not any(model_dir.glob("*.safetensors")):
        raise SettingsError(
            f"{model_dir} holds no *.safetensors weights; this server only loads safetensors "
            "(convert pytorch_model.bin first)"
        )
    if not (model_dir / "config.json").is_file():
        raise SettingsError(f"{model_dir} has no config.json")
    from transformers import AutoConfig, AutoModelForCausalLM

    try:
        config = AutoConfig.from_pretrained(str(model_dir), local_files_only=True)
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as err:
        raise SettingsError(f"cannot read {model_dir / 'config.json'}: {err}") from err
    check_architecture(config)
    tokenizer = _load_tokenizer(model_dir)
    try:
        loaded = AutoModelForCausalLM.from_pretrained(
            str(model_dir),
            local_files_only=True,
            use_safetensors=True,
            dtype=getattr(torch, served_dtype(dtype, checkpoint_dtype(model_dir))),
            attn_implementation=_attention(config),
            output_loading_info=True,
        )
    except (OSError, ValueError) as err:
        raise SettingsError(f"cannot load the model in {model_dir}: {err}") from err
    # transformers types the result as the model alone; output_loading_info adds the report.
    model, info = cast("tuple[PreTrainedModel, dict[str, list[str]]]", loaded)
    missing = sorted(info.get("missing_keys") or [])
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise SettingsError(f"{model_dir} lacks weights the model needs (they would be random): {shown}")
    model.eval()
    return LoadedModel(model, tokenizer, model_dir=model_dir)
