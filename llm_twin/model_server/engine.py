"""The continuous-batching engine: one scheduler thread runs the decode loop.

Between two decode steps the scheduler drops finished and cancelled sequences, then
admits waiting requests (FIFO) while the batch stays within `max_batch_size`, the
token budget `max_batch_total_tokens` (sum of input_len + max_new_tokens) and the
prefill budget `max_batch_prefill_tokens`. A new request is prefilled on its own
(batch of one, so its first token does not depend on the batch), then its KV cache
is merged into the running batch with left padding and an attention mask.

Each sequence samples with its own `torch.Generator`, so a seeded request gives the
same tokens alone or batched, streamed or not. Events go back to the caller through a
thread-safe `sink` callable; the scheduler never blocks on a client.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from llm_twin.errors import OverloadedError, SettingsError

from .params import FinishReason, ValidRequest

log = logging.getLogger(__name__)

KV_CHUNK = 256
"""Spare KV-cache columns allocated at a time (fewer when no sequence can use them)."""


@dataclass(frozen=True)
class Token:
    """One generated token, as TGI reports it."""

    id: int
    text: str
    """The incremental decode: the texts of the non-special tokens concatenate to the output."""
    logprob: float
    special: bool


@dataclass(frozen=True)
class PrefillToken:
    """A prompt token (`decoder_input_details`); the first one has no logprob."""

    id: int
    text: str
    logprob: float | None


@dataclass(frozen=True)
class Finished:
    """What the last token carries on top of itself."""

    generated_text: str
    finish_reason: FinishReason
    generated_tokens: int
    seed: int | None
    input_length: int
    tokens: list[Token]
    prefill: list[PrefillToken] = field(default_factory=list)


@dataclass(frozen=True)
class TokenEvent:
    """A token; `finished` is set on the last one."""

    token: Token
    finished: Finished | None = None


@dataclass(frozen=True)
class ErrorEvent:
    """Generation failed; nothing follows."""

    message: str
    error_type: str = "generation"


Event = TokenEvent | ErrorEvent
Sink = Callable[[Event], None]


@dataclass(frozen=True)
class EngineConfig:
    """Scheduler limits (TGI's launcher arguments of the same names)."""

    max_batch_size: int = 32
    """Sequences decoded together at most; 1 disables batching."""
    max_batch_total_tokens: int = 65536
    """Sum over running sequences of input_len + max_new_tokens."""
    max_batch_prefill_tokens: int = 4096
    """Prompt tokens prefilled between two decode steps."""
    max_concurrent_requests: int = 128
    """Requests waiting or running; one more is refused as overloaded."""


class LoadedModel:
    """A causal LM and its tokenizer, loaded from a local directory of safetensors."""

    def __init__(self, model: Any, tokenizer: Any, *, model_dir: Path) -> None:
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

    def new_cache(self, layers: list[tuple[torch.Tensor, torch.Tensor]] | None = None) -> Any:
        from transformers import DynamicCache

        return (
            DynamicCache(layers, config=self.config)
            if layers is not None
            else DynamicCache(config=self.config)
        )

    def forward(self, input_ids: torch.Tensor, cache: Any, *, every_position: bool = False, **kwargs: Any):
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


def load_model(model_dir: str | Path) -> LoadedModel:
    """Load weights and tokenizer from `model_dir`; never touches the Hub, refuses non-safetensors."""
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
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            str(model_dir),
            local_files_only=True,
            use_safetensors=True,
            dtype=torch.float32,
            attn_implementation="sdpa",
        )
    except (OSError, ValueError) as err:
        raise SettingsError(f"cannot load the model in {model_dir}: {err}") from err
    model.eval()
    return LoadedModel(model, tokenizer, model_dir=model_dir)


class IncrementalDecoder:
    """TGI's prefix/read-offset detokenizer: emits text only once it is whole UTF-8."""

    def __init__(self, tokenizer: Any, prompt_ids: list[int]) -> None:
        self._tokenizer = tokenizer
        self._ids = list(prompt_ids)
        self._read = len(self._ids)
        self._prefix = max(self._read - 5, 0)

    def _decode(self, ids: list[int]) -> str:
        return self._tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)

    def _emit(self, *, force: bool) -> str:
        prefix_text = self._decode(self._ids[self._prefix : self._read])
        new_text = self._decode(self._ids[self._prefix :])
        if force or (len(new_text) > len(prefix_text) and not new_text.endswith("\ufffd")):
            self._prefix, self._read = self._read, len(self._ids)
            return new_text[len(prefix_text) :]
        return ""

    def step(self, token_id: int) -> str:
        self._ids.append(token_id)
        return self._emit(force=False)

    def flush(self) -> str:
        """Whatever is held back (an incomplete character) at the end of generation."""
        if self._read == len(self._ids):
            return ""
        return self._emit(force=True)


class Sequence:
    """One request inside the engine. `cancel()` is safe from any thread."""

    def __init__(self, request: ValidRequest, sink: Sink, loaded: LoadedModel) -> None:
        self.request = request
        self.sink = sink
        self.params = request.parameters
        self.generator: torch.Generator | None = None
        if request.seed is not None:
            self.generator = torch.Generator().manual_seed(request.seed)
        self.all_ids = list(request.input_ids)
        self.tokens: list[Token] = []
        self.text_parts: list[str] = []
        self.decoder = IncrementalDecoder(loaded.tokenizer, request.input_ids)
        self.position = len(request.input_ids)
        self.last_id = -1
        self.prefill: list[PrefillToken] = []
        self.released = False
        self.cost = request.input_length + request.max_new_tokens
        self._cancelled = threading.Event()
        self.queued_at = time.monotonic()

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    @property
    def text(self) -> str:
        return "".join(self.text_parts)


def _select_token(seq: Sequence, logits: torch.Tensor) -> tuple[int, float]:
    """Apply the sequence's logits processors and pick the next token (logits: 1-D, vocab)."""
    params = seq.params
    scores = logits
    penalty = params.repetition_penalty
    if penalty is not None and penalty != 1.0:
        seen = torch.tensor(sorted(set(seq.all_ids)), dtype=torch.long)
        seen = seen[seen < scores.shape[0]]
        picked = scores.gather(0, seen)
        picked = torch.where(picked < 0, picked * penalty, picked / penalty)
        scores = scores.scatter(0, seen, picked)
    if seq.generator is None:
        logprobs = torch.log_softmax(scores, dim=-1)
        token = int(torch.argmax(scores))
        return token, float(logprobs[token])
    if params.temperature is not None and params.temperature != 1.0:
        scores = scores / params.temperature
    if params.top_k:
        k = min(params.top_k, scores.shape[0])
        kth = torch.topk(scores, k).values[-1]
        scores = scores.masked_fill(scores < kth, float("-inf"))
    if params.top_p is not None and params.top_p < 1.0:
        sorted_scores, order = torch.sort(scores, descending=False)
        cumulative = sorted_scores.softmax(dim=-1).cumsum(dim=-1)
        remove = cumulative <= (1 - params.top_p)
        remove[-1] = False
        scores = scores.masked_fill(remove.scatter(0, order, remove), float("-inf"))
    logprobs = torch.log_softmax(scores, dim=-1)
    token = int(torch.multinomial(logprobs.exp(), 1, generator=seq.generator))
    return token, float(logprobs[token])


def _needs_processing(seq: Sequence) -> bool:
    penalty = seq.params.repetition_penalty
    return seq.generator is not None or (penalty is not None and penalty != 1.0)


@dataclass
class _Batch:
    seqs: list[Sequence] = field(default_factory=list)
    cache: Any = None
    """The `BatchCache` of `seqs`, row for row."""


def _columns_needed(seqs: list[Sequence]) -> int:
    """Decode steps left before every sequence has reached its `max_new_tokens`."""
    return max(s.request.max_new_tokens - len(s.tokens) for s in seqs)


class Engine:
    """Owns the model and the scheduler thread; `submit` is thread-safe."""

    def __init__(self, loaded: LoadedModel, config: EngineConfig) -> None:
        self.loaded = loaded
        self.config = config
        self._cond = threading.Condition()
        self._waiting: deque[Sequence] = deque()
        self._in_flight = 0
        self._batch = _Batch()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._failed: BaseException | None = None
        self.steps = 0
        self.max_batch_seen = 0

    # -- public API -------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="model-server-engine", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def healthy(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._failed is None

    @property
    def batch_size(self) -> int:
        """Sequences in the running batch."""
        return len(self._batch.seqs)

    @property
    def in_flight(self) -> int:
        """Requests waiting or running (what `max_concurrent_requests` limits)."""
        return self._in_flight

    @property
    def queue_size(self) -> int:
        """Requests waiting for admission."""
        return len(self._waiting)

    def submit(self, request: ValidRequest, sink: Sink) -> Sequence:
        """Queue a validated request; raises `OverloadedError` when the queue is full."""
        seq = Sequence(request, sink, self.loaded)
        with self._cond:
            if self._in_flight >= self.config.max_concurrent_requests:
                raise OverloadedError("Model is overloaded")
            self._in_flight += 1
            self._waiting.append(seq)
            self._cond.notify_all()
        return seq

    # -- scheduler ----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            with torch.inference_mode():
                while True:
                    with self._cond:
                        while not self._stopping and not self._waiting and not self._batch.seqs:
                            self._cond.wait()
                        if self._stopping:
                            break
                        admitted = self._admit()
                    self._drop(lambda s: s.cancelled)
                    prefilled = [
                        (seq, cache) for seq in admitted if (cache := self._prefill(seq)) is not None
                    ]
                    if prefilled:
                        self._merge(prefilled)
                    if self._batch.seqs:
                        self._decode_step()
        except BaseException as err:  # the thread must not die silently: /health reports it
            self._failed = err
            log.exception("engine thread crashed")
            self._fail_all(f"Request failed during generation: {err}")
            raise
        finally:
            self._fail_all("Request failed during generation: server shutting down")

    def _admit(self) -> list[Sequence]:
        """Pop waiting sequences that fit (FIFO, no overtaking). Caller holds the lock."""
        cfg = self.config
        admitted: list[Sequence] = []
        used = sum(s.cost for s in self._batch.seqs)
        prefill = 0
        while self._waiting:
            seq = self._waiting[0]
            if seq.cancelled:
                self._waiting.popleft()
                seq.released = True
                self._in_flight -= 1
                continue
            size = len(self._batch.seqs) + len(admitted)
            if size >= cfg.max_batch_size:
                break
            if size and used + seq.cost > cfg.max_batch_total_tokens:
                break
            if admitted and prefill + seq.request.input_length > cfg.max_batch_prefill_tokens:
                break
            self._waiting.popleft()
            admitted.append(seq)
            used += seq.cost
            prefill += seq.request.input_length
        return admitted

    def _release(self, seq: Sequence) -> None:
        """Give back the sequence's in-flight slot, once (finish and cancel can race)."""
        with self._cond:
            if not seq.released:
                seq.released = True
                self._in_flight -= 1

    def _send(self, seq: Sequence, event: Event) -> None:
        try:
            seq.sink(event)
        except RuntimeError:  # the client's event loop is gone
            seq.cancel()

    def _fail_all(self, message: str) -> None:
        with self._cond:
            pending = list(self._waiting) + list(self._batch.seqs)
            self._waiting.clear()
            self._batch = _Batch()
            for seq in pending:
                if not seq.released:
                    seq.released = True
                    self._in_flight -= 1
        for seq in pending:
            self._send(seq, ErrorEvent(message))

    def _prefill(self, seq: Sequence) -> Any:
        """Run the prompt and emit the first token; the cache, if the sequence goes on."""
        if seq.cancelled:
            self._release(seq)
            return None
        loaded = self.loaded
        cache = loaded.new_cache()
        ids = torch.tensor([seq.request.input_ids], dtype=torch.long)
        every = seq.params.decoder_input_details
        try:
            logits = loaded.forward(
                ids, cache, every_position=every, position_ids=torch.arange(ids.shape[1]).unsqueeze(0)
            )
            if every:
                seq.prefill = self._prefill_tokens(seq.request.input_ids, logits[0])
                logits = logits[:, -1, :]
        except Exception as err:
            log.exception("prefill failed")
            self._release(seq)
            self._send(seq, ErrorEvent(f"Request failed during generation: {err}"))
            return None
        if self._advance(seq, logits[0]):
            return None
        return cache

    def _prefill_tokens(self, ids: list[int], logits: torch.Tensor) -> list[PrefillToken]:
        logprobs = torch.log_softmax(logits[:-1], dim=-1)
        decode = self.loaded.tokenizer.decode
        tokens = [PrefillToken(ids[0], decode([ids[0]]), None)]
        for position, token_id in enumerate(ids[1:]):
            tokens.append(PrefillToken(token_id, decode([token_id]), float(logprobs[position, token_id])))
        return tokens

    def _merge(self, prefilled: list[tuple[Sequence, Any]]) -> None:
        """Append prefilled sequences to the batch: one copy of the cache, left-padded to the widest."""
        from .kv_cache import BatchCache

        batch = self._batch
        parts = [batch.cache.as_rows()] if batch.seqs else []
        for _, cache in prefilled:
            layers = [(layer.keys, layer.values) for layer in cache.layers]
            parts.append((layers, torch.ones((1, layers[0][0].shape[-2]), dtype=torch.long)))
        seqs = batch.seqs + [seq for seq, _ in prefilled]
        self._batch = _Batch(seqs, BatchCache(parts, min(_columns_needed(seqs), KV_CHUNK)))
        self.max_batch_seen = max(self.max_batch_seen, len(seqs))

    def _drop(self, leaving: Callable[[Sequence], bool]) -> None:
        """Remove sequences from the batch at once, and trim padding nobody needs."""
        batch = self._batch
        keep = [i for i, s in enumerate(batch.seqs) if not leaving(s)]
        if len(keep) == len(batch.seqs):
            return
        for i, seq in enumerate(batch.seqs):
            if i not in keep and seq.cancelled:
                self._release(seq)
        if not keep:
            self._batch = _Batch()
            return
        seqs = [batch.seqs[i] for i in keep]
        cache = batch.cache.select(torch.tensor(keep, dtype=torch.long), min(_columns_needed(seqs), KV_CHUNK))
        self._batch = _Batch(seqs, cache)

    def _decode_step(self) -> None:
        batch = self._batch
        cache = batch.cache
        if cache.length + 1 > cache.capacity:
            cache.reserve(cache.length + min(_columns_needed(batch.seqs), max(KV_CHUNK, cache.length)))
        ids = torch.tensor([[s.last_id] for s in batch.seqs], dtype=torch.long)
        positions = torch.tensor([[s.position] for s in batch.seqs], dtype=torch.long)
        try:
            logits = self.loaded.forward(ids, cache, attention_mask=cache.step_mask(), position_ids=positions)
        except Exception as err:
            log.exception("decode step failed")
            self._batch = _Batch()
            for seq in batch.seqs:
                self._release(seq)
                self._send(seq, ErrorEvent(f"Request failed during generation: {err}"))
            return
        self.steps += 1
        finished: set[int] = set()
        for seq, row, choice in zip(
            batch.seqs, logits, self._greedy_choices(batch.seqs, logits), strict=True
        ):
            if not seq.cancelled and self._advance(seq, row, choice):
                finished.add(id(seq))
        self._drop(lambda s: s.cancelled or id(s) in finished)

    @staticmethod
    def _greedy_choices(seqs: list[Sequence], logits: torch.Tensor) -> list[tuple[int, float] | None]:
        """(token, logprob) of every greedy row without logits processors, in one pass; None for the others."""
        plain = [i for i, s in enumerate(seqs) if not _needs_processing(s)]
        choices: list[tuple[int, float] | None] = [None] * len(seqs)
        if not plain:
            return choices
        rows = logits if len(plain) == len(seqs) else logits[plain]
        token_ids = rows.argmax(dim=-1, keepdim=True)
        logprobs = torch.log_softmax(rows, dim=-1).gather(1, token_ids)
        for i, token_id, logprob in zip(
            plain, token_ids[:, 0].tolist(), logprobs[:, 0].tolist(), strict=True
        ):
            choices[i] = (token_id, logprob)
        return choices

    def _advance(self, seq: Sequence, logits: torch.Tensor, choice: tuple[int, float] | None = None) -> bool:
        """Pick, record and emit the next token; returns True when the sequence is done."""
        if seq.cancelled:
            return True
        token_id, logprob = choice if choice is not None else _select_token(seq, logits)
        loaded = self.loaded
        special = token_id in loaded.special_ids
        if special:
            text = loaded.tokenizer.decode([token_id], skip_special_tokens=False)
        else:
            text = seq.decoder.step(token_id)
        seq.all_ids.append(token_id)
        seq.last_id = token_id
        seq.position += 1
        generated = len(seq.tokens) + 1
        reason: FinishReason | None = None
        if generated >= seq.request.max_new_tokens:
            reason = "length"
        elif token_id in loaded.eos_ids:
            reason = "eos_token"
        elif seq.request.stop and not special:
            tail = seq.text[-64:] + text
            window = len(text) + max(len(s) for s in seq.request.stop)
            if any(stop in tail[-window:] for stop in seq.request.stop):
                reason = "stop_sequence"
        if reason is not None and not special:
            # Whatever is held back (an incomplete character) goes out with the last token.
            text += seq.decoder.flush()
        token = Token(id=token_id, text=text, logprob=logprob, special=special)
        seq.tokens.append(token)
        if not special:
            seq.text_parts.append(text)
        if reason is None:
            self._send(seq, TokenEvent(token))
            return False
        self._release(seq)
        done = Finished(
            generated_text=seq.text,
            finish_reason=reason,
            generated_tokens=generated,
            seed=seq.request.seed,
            input_length=seq.request.input_length,
            tokens=list(seq.tokens),
            prefill=seq.prefill,
        )
        self._send(seq, TokenEvent(token, done))
        return True
