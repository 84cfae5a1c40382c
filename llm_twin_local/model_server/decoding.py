"""From logits to a token (greedy or sampled), and from tokens to text that is whole UTF-8."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from .events import PrefillToken, Token
from .params import GenerateParameters

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


def decode(tokenizer: PreTrainedTokenizerBase, ids: list[int], **options: bool) -> str:
    """The text of one sequence of ids (transformers types `decode` as a batch's list[str] too)."""
    text = tokenizer.decode(ids, **options)
    if not isinstance(text, str):
        raise TypeError(f"decoding one sequence gave {type(text).__name__}, not str")
    return text


RAW = {"skip_special_tokens": False, "clean_up_tokenization_spaces": False}
"""Decode options that keep every character of the ids (TGI's for token texts)."""


class IncrementalDecoder:
    """TGI's prefix/read-offset detokenizer: emits text only once it is whole UTF-8."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, prompt_ids: list[int]) -> None:
        self._tokenizer = tokenizer
        self._ids = list(prompt_ids)
        self._read = len(self._ids)
        self._prefix = max(self._read - 5, 0)

    def _decode(self, ids: list[int]) -> str:
        return decode(self._tokenizer, ids, **RAW)

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


def needs_processing(params: GenerateParameters, generator: torch.Generator | None) -> bool:
    """Whether the logits go through processors (sampling or a repetition penalty)."""
    penalty = params.repetition_penalty
    return generator is not None or (penalty is not None and penalty != 1.0)


@dataclass(frozen=True)
class Choice:
    """The token picked at one step, and the alternatives asked for (`top_n_tokens`)."""

    token_id: int
    logprob: float
    """log_softmax of the scores the token was picked from (after the request's processors)."""
    top: tuple[tuple[int, float], ...] = ()
    """(id, logprob) from the same scores, likeliest first; empty unless asked."""


def top_alternatives(logprobs: torch.Tensor, n: int) -> tuple[tuple[int, float], ...]:
    """The `n` likeliest (id, logprob) of a 1-D `logprobs`, as TGI's `batch_top_tokens` picks them.

    Every token as likely as the n-th comes along (ties are not cut arbitrarily), and a
    token the processors removed (-inf) never does, so there may be more or fewer than n.
    """
    if n <= 0:
        return ()
    n = min(n, logprobs.shape[0])
    nth = torch.topk(logprobs, n).values[-1]
    if nth == float("-inf"):
        nth = torch.tensor(torch.finfo(logprobs.dtype).min, dtype=logprobs.dtype)
    count = int((logprobs >= nth).sum())
    top = torch.topk(logprobs, count)
    return tuple(zip(top.indices.tolist(), top.values.tolist(), strict=True))


def alternatives(
    tokenizer: PreTrainedTokenizerBase, special_ids: frozenset[int], top: tuple[tuple[int, float], ...]
) -> tuple[Token, ...]:
    """A choice's top tokens, each text decoded alone (as TGI's `batch_decode` of their ids)."""
    return tuple(Token(i, decode(tokenizer, [i], **RAW), logprob, i in special_ids) for i, logprob in top)


def select_token(
    params: GenerateParameters, generator: torch.Generator | None, seen_ids: list[int], logits: torch.Tensor
) -> Choice:
    """Apply the request's logits processors and pick the next token (logits: 1-D, vocab)."""
    scores = logits
    penalty = params.repetition_penalty
    if penalty is not None and penalty != 1.0:
        seen = torch.tensor(sorted(set(seen_ids)), dtype=torch.long)
        seen = seen[seen < scores.shape[0]]
        picked = scores.gather(0, seen)
        picked = torch.where(picked < 0, picked * penalty, picked / penalty)
        scores = scores.scatter(0, seen, picked)
    top_n = params.top_n_tokens or 0
    if generator is None:
        logprobs = torch.log_softmax(scores, dim=-1)
        token = int(torch.argmax(scores))
        return Choice(token, float(logprobs[token]), top_alternatives(logprobs, top_n))
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
    token = int(torch.multinomial(logprobs.exp(), 1, generator=generator))
    return Choice(token, float(logprobs[token]), top_alternatives(logprobs, top_n))


def greedy_choices(plain: list[int], logits: torch.Tensor, top_n: list[int]) -> dict[int, Choice]:
    """The choices of the batch rows in `plain` (greedy, no processors), in one pass.

    `top_n[j]` is row `plain[j]`'s `top_n_tokens`; rows that ask for none cost nothing more.
    """
    if not plain:
        return {}
    rows = logits if len(plain) == logits.shape[0] else logits[plain]
    token_ids = rows.argmax(dim=-1, keepdim=True)
    all_logprobs = torch.log_softmax(rows, dim=-1)
    logprobs = all_logprobs.gather(1, token_ids)
    return {
        i: Choice(token_id, logprob, top_alternatives(all_logprobs[j], n) if n else ())
        for j, (i, token_id, logprob, n) in enumerate(
            zip(plain, token_ids[:, 0].tolist(), logprobs[:, 0].tolist(), top_n, strict=True)
        )
    }


def prefill_tokens(
    tokenizer: PreTrainedTokenizerBase, ids: list[int], logits: torch.Tensor
) -> list[PrefillToken]:
    """The prompt's tokens with the logprob the model gave each (`logits`: every position)."""
    logprobs = torch.log_softmax(logits[:-1], dim=-1)
    tokens = [PrefillToken(ids[0], decode(tokenizer, [ids[0]]), None)]
    for position, token_id in enumerate(ids[1:]):
        tokens.append(
            PrefillToken(token_id, decode(tokenizer, [token_id]), float(logprobs[position, token_id]))
        )
    return tokens


def stop_reached(text: str, new_text: str, stops: tuple[str, ...]) -> bool:
    """Whether appending `new_text` completes a stop sequence (only the tail can)."""
    if not stops:
        return False
    tail = text[-64:] + new_text
    window = len(new_text) + max(len(s) for s in stops)
    return any(stop in tail[-window:] for stop in stops)
