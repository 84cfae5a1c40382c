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

A failure while serving a request (its prefill, a decode step, a broken sink) ends
the requests it touched with an `ErrorEvent` and the engine goes on: one bad request
must never leave the server unhealthy for the next.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

from . import decoding
from .decoding import IncrementalDecoder
from .errors import OverloadedError
from .events import ErrorEvent, Event, Finished, PrefillToken, Sink, Token, TokenEvent
from .loading import LoadedModel, load_model
from .params import FinishReason, ValidRequest

# Importers of the engine find here what used to live in it.
__all__ = ["Engine", "EngineConfig", "ErrorEvent", "Event", "Finished", "IncrementalDecoder"]
__all__ += ["LoadedModel", "PrefillToken", "Sequence", "Sink", "Token", "TokenEvent", "load_model"]

log = logging.getLogger(__name__)

KV_CHUNK = 256
"""Spare KV-cache columns allocated at a time (fewer when no sequence can use them)."""


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
        self.last_id = -1
        self.prefill: list[PrefillToken] = []
        self.released = False
        self.cost = request.input_length + request.max_new_tokens
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    @property
    def text(self) -> str:
        return "".join(self.text_parts)

    @property
    def position(self) -> int:
        """The position of `last_id`, the token fed next. Derived, never counted: a counter
        once started at the prompt length and was bumped by the first token, one too far."""
        return len(self.all_ids) - 1

    @property
    def needs_processing(self) -> bool:
        return decoding.needs_processing(self.params, self.generator)


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
        self._admitted: list[Sequence] = []
        """Out of the queue, not yet in the batch: failed with the rest if the thread dies."""
        self._in_flight = 0
        self._batch = _Batch()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._failed: BaseException | None = None
        self.steps = 0
        self.max_batch_seen = 0

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

    def _run(self) -> None:
        try:
            with torch.inference_mode():
                while True:
                    with self._cond:
                        while not self._stopping and not self._waiting and not self._batch.seqs:
                            self._cond.wait()
                        if self._stopping:
                            break
                        self._admitted = self._admit()
                    try:
                        self._round(self._admitted)
                    except Exception as err:  # a bug of ours must cost its requests, not the server
                        log.exception("scheduler round failed")
                        self._abandon(list(self._admitted) + self._take_batch(), err)
                    self._admitted = []
        except BaseException as err:  # the thread must not die silently: /health reports it
            self._failed = err
            log.exception("engine thread crashed")
            self._fail_all(f"Request failed during generation: {err}")
            raise
        finally:
            self._fail_all("Request failed during generation: server shutting down")

    def _round(self, admitted: list[Sequence]) -> None:
        """Prefill the admitted sequences, merge them into the batch, run one decode step."""
        self._drop(lambda s: s.cancelled)
        prefilled = [(seq, cache) for seq in admitted if (cache := self._prefill(seq)) is not None]
        if prefilled:
            with self._failing([seq for seq, _ in prefilled], "merge"):
                self._merge(prefilled)
        if self._batch.seqs:
            self._decode_step()

    def _admit(self) -> list[Sequence]:
        """Pop waiting sequences that fit (FIFO, no overtaking). Caller holds the lock."""
        cfg = self.config
        admitted: list[Sequence] = []
        used = sum(s.cost for s in self._batch.seqs)
        prefill = 0
        while self._waiting:
            seq = self._waiting[0]
            if seq.cancelled:
                self._release(self._waiting.popleft())
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

    def _release(self, seq: Sequence) -> bool:
        """Give back the sequence's in-flight slot, once (finish and cancel can race); True if this call did."""
        with self._cond:
            if seq.released:
                return False
            seq.released = True
            self._in_flight -= 1
            return True

    def _send(self, seq: Sequence, event: Event) -> None:
        try:
            seq.sink(event)
        except RuntimeError:  # the client's event loop is gone
            seq.cancel()
        except Exception:  # a broken sink loses its own request, nobody else's
            log.exception("sending an event failed; the request is cancelled")
            seq.cancel()

    def _abandon(self, seqs: list[Sequence], err: BaseException) -> None:
        """End each sequence still open with an error event; the others already had their last event."""
        for seq in seqs:
            seq.cancel()
            if self._release(seq):
                self._send(seq, ErrorEvent(f"Request failed during generation: {err}"))

    @contextmanager
    def _failing(self, seqs: list[Sequence], stage: str) -> Iterator[None]:
        """Run a stage for `seqs`; if it raises, they (only) end with an error."""
        try:
            yield
        except Exception as err:
            log.exception("%s failed", stage)
            self._abandon(seqs, err)

    def _take_batch(self) -> list[Sequence]:
        batch, self._batch = self._batch, _Batch()
        return batch.seqs

    def _fail_all(self, message: str) -> None:
        with self._cond:
            pending = list(self._waiting) + list(self._admitted) + list(self._batch.seqs)
            self._waiting.clear()
            self._admitted = []
            self._batch = _Batch()
        for seq in pending:
            if self._release(seq):
                self._send(seq, ErrorEvent(message))

    def _prefill(self, seq: Sequence) -> Any:
        """Run the prompt and emit the first token; the cache, if the sequence goes on."""
        if seq.cancelled:
            self._release(seq)
            return None
        with self._failing([seq], "prefill"):
            cache = self.loaded.new_cache()
            ids = torch.tensor([seq.request.input_ids], dtype=torch.long)
            every = seq.params.decoder_input_details
            logits = self.loaded.forward(
                ids, cache, every_position=every, position_ids=torch.arange(ids.shape[1]).unsqueeze(0)
            )
            if every:
                seq.prefill = decoding.prefill_tokens(self.loaded.tokenizer, seq.request.input_ids, logits[0])
                logits = logits[:, -1, :]
            return None if self._advance(seq, logits[0]) else cache
        return None

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
        try:
            if cache.length + 1 > cache.capacity:
                cache.reserve(cache.length + min(_columns_needed(batch.seqs), max(KV_CHUNK, cache.length)))
            ids = torch.tensor([[s.last_id] for s in batch.seqs], dtype=torch.long)
            positions = torch.tensor([[s.position] for s in batch.seqs], dtype=torch.long)
            logits = self.loaded.forward(ids, cache, attention_mask=cache.step_mask(), position_ids=positions)
        except Exception as err:
            # Some layers may hold the failed step's column and others not: the cache is lost.
            log.exception("decode step failed")
            self._abandon(self._take_batch(), err)
            return
        self.steps += 1
        plain = [i for i, s in enumerate(batch.seqs) if not s.needs_processing]
        top_n = [batch.seqs[i].params.top_n_tokens or 0 for i in plain]
        choices = decoding.greedy_choices(plain, logits, top_n)
        leaving: set[int] = set()
        for i, seq in enumerate(batch.seqs):
            leaving.add(id(seq))  # until it takes its token and goes on
            with self._failing([seq], "token selection"):
                if not seq.cancelled and not self._advance(seq, logits[i], choices.get(i)):
                    leaving.discard(id(seq))
        self._drop(lambda s: id(s) in leaving)

    def _advance(self, seq: Sequence, logits: torch.Tensor, choice: decoding.Choice | None = None) -> bool:
        """Pick, record and emit the next token; returns True when the sequence is done."""
        if seq.cancelled:
            return True
        if choice is None:
            choice = decoding.select_token(seq.params, seq.generator, seq.all_ids, logits)
        token_id, logprob = choice.token_id, choice.logprob
        loaded = self.loaded
        special = token_id in loaded.special_ids
        if special:
            text = decoding.decode(loaded.tokenizer, [token_id], skip_special_tokens=False)
        else:
            text = seq.decoder.step(token_id)
        seq.all_ids.append(token_id)
        seq.last_id = token_id
        generated = len(seq.tokens) + 1
        reason: FinishReason | None = None
        if generated >= seq.request.max_new_tokens:
            reason = "length"
        elif token_id in loaded.eos_ids:
            reason = "eos_token"
        elif not special and decoding.stop_reached(seq.text, text, seq.request.stop):
            reason = "stop_sequence"
        if reason is not None and not special:
            # Whatever is held back (an incomplete character) goes out with the last token.
            text += seq.decoder.flush()
        top = decoding.alternatives(loaded.tokenizer, loaded.special_ids, choice.top)
        token = Token(token_id, text, logprob, special, top)
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
