"""vLLM's completion and chat bodies, read as its pydantic models read them, checked in its order.

`read_completion` and `read_chat` check the body's shape (what pydantic refuses before any
handler runs: types, the int64 seed, `stream_options` without `stream`, an empty prompt);
`Refusal` carries the answer. Unknown fields are ignored, as vLLM's models allow extra keys.
Fields vLLM serves but the stand-in's engine cannot (n > 1, logprobs, echo, tools, ...) are
refused with 501, as vLLM refuses what it does not implement: never silently ignored.
Length and sampling checks run once the prompt is tokenized (`plan`), from `protocol.vllm`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from llm_twin.protocol import vllm
from llm_twin.protocol.vllm import Problem, SamplingParams

from .errors import ModelServerError
from .openai_params import chat_messages
from .params import GenerateParameters, ParameterError

Kind = Literal["chat", "completion"]
REQUEST_TYPE = {"chat": "ChatCompletionRequest", "completion": "CompletionRequest"}

# Fields vLLM takes whose default the engine serves; any other value is refused (501).
_UNSUPPORTED_UNLESS: dict[str, tuple[object, ...]] = {
    "n": (None, 1),
    "best_of": (None, 1),
    "echo": (None, False),
    "logprobs": (None, False),
    "top_logprobs": (None, 0),
    "prompt_logprobs": (None,),
    "logit_bias": (None, {}),
    "suffix": (None,),
    "use_beam_search": (None, False),
    "stop_token_ids": (None, []),
    "ignore_eos": (None, False),
    "min_tokens": (None, 0),
    "presence_penalty": (None, 0, 0.0),
    "frequency_penalty": (None, 0, 0.0),
    "min_p": (None, 0, 0.0),
    "tools": (None, []),
    "response_format": (None, {"type": "text"}),
    "structured_outputs": (None,),
    "include_stop_str_in_output": (None, False),
    "skip_special_tokens": (None, True),
    "prompt_embeds": (None,),
}


class Refusal(ModelServerError):
    """A request vLLM answers with an error body (`problem.body()`, status `problem.status`)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def _shape(kind: Kind, name: str, what: str) -> Refusal:
    """pydantic's refusal of one field (vLLM answers a RequestValidationError with 400)."""
    return Refusal(Problem(f"1 validation error for {REQUEST_TYPE[kind]}\n{name}\n  {what}"))


@dataclass(frozen=True)
class Defaults:
    """The model's generation_config.json, which vLLM applies under the request's own values."""

    values: Mapping[str, float | int] = field(default_factory=dict)

    @classmethod
    def of(cls, model_dir: Path) -> Defaults:
        try:
            config = json.loads((model_dir / "generation_config.json").read_text())
        except (OSError, ValueError):
            return cls()
        names = {"temperature", "top_p", "top_k", "min_p", "repetition_penalty", "max_new_tokens"}
        picked = {
            k: v
            for k, v in config.items()
            if k in names and isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        return cls(picked)


@dataclass(frozen=True)
class VllmRequest:
    """A completion or chat body, read: what the engine runs, and how the answer is written."""

    kind: Kind
    prompts: list[str]
    """Completion prompts; for a chat, the conversation rendered by the chat template (one)."""
    messages: list[dict[str, str]]
    model: str | None
    stream: bool
    include_usage: bool
    continuous_usage: bool
    max_tokens: int | None
    """As asked (a completion's default 16 filled in); None: what the context leaves."""
    sampling: SamplingParams
    seed: int | None
    unsupported: Problem | None = None
    """A field the engine cannot serve: refused once vLLM's own checks have passed."""

    @property
    def add_special_tokens(self) -> bool:
        """A completion prompt gets BOS; a rendered chat template already has it."""
        return self.kind == "completion"


def _number(
    kind: Kind, body: Mapping[str, object], name: str, *, integer: bool = False
) -> float | int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _shape(kind, name, f"Input should be a valid {'integer' if integer else 'number'}")
    if integer:
        if isinstance(value, float) and not value.is_integer():
            raise _shape(kind, name, "Input should be a valid integer, got a number with a fractional part")
        return int(value)
    return float(value)


def _flag(kind: Kind, body: Mapping[str, object], name: str) -> bool:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise _shape(kind, name, "Input should be a valid boolean")
    return bool(value)


def _stop(kind: Kind, body: Mapping[str, object]) -> tuple[str, ...]:
    stop = body.get("stop")
    if stop is None:
        return ()
    if isinstance(stop, str):
        return (stop,)
    if isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        return tuple(stop)
    raise _shape(kind, "stop", "Input should be a valid string or a list of strings")


def _unsupported(body: Mapping[str, object]) -> Problem | None:
    """The first field set to a value the engine cannot serve (checked after vLLM's own checks)."""
    for name, defaults in _UNSUPPORTED_UNLESS.items():
        value = body.get(name)
        if value is None or any(value == d and type(value) is type(d) for d in defaults):
            continue
        return Problem(
            f"`{name}`={json.dumps(value)} is not implemented by the local vLLM stand-in "
            "(its engine serves one sequence per prompt, without logprobs, penalties on presence "
            "or frequency, tools or grammars)",
            name,
            501,
        )
    return None


@dataclass(frozen=True)
class _Common:
    model: str | None
    stream: bool
    include_usage: bool
    continuous_usage: bool
    sampling: SamplingParams
    seed: int | None


def _common(kind: Kind, body: Mapping[str, object], defaults: Defaults) -> _Common:
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise _shape(kind, "model", "Input should be a valid string")
    seed = _number(kind, body, "seed", integer=True)
    low, high = vllm.SEED_RANGE
    if seed is not None and not low <= seed <= high:
        raise _shape(kind, "seed", f"Input should be between {low} and {high}")
    stream = _flag(kind, body, "stream")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise _shape(kind, "stream_options", "Input should be a valid dictionary")
    if options and not stream:
        problem = Problem(
            "Stream options can only be defined when `stream=True`. (parameter=stream_options)",
            "stream_options",
        )
        raise Refusal(problem)
    options = options or {}
    # `StreamOptions.include_usage` defaults to true once the object is given.
    include_usage = bool(options.get("include_usage", True)) if options else False

    def pick(name: str, fallback: float) -> float:
        value = _number(kind, body, name, integer=name in ("top_k", "n"))
        return float(defaults.values.get(name, fallback) if value is None else value)

    sampling = SamplingParams(
        n=int(pick("n", 1)),
        presence_penalty=pick("presence_penalty", 0.0),
        frequency_penalty=pick("frequency_penalty", 0.0),
        repetition_penalty=pick("repetition_penalty", 1.0),
        temperature=pick("temperature", 1.0),
        top_p=pick("top_p", 1.0),
        top_k=int(pick("top_k", 0)),
        min_p=pick("min_p", 0.0),
        min_tokens=int(_number(kind, body, "min_tokens", integer=True) or 0),
        stop=_stop(kind, body),
    )
    return _Common(
        model,
        stream,
        include_usage,
        bool(options.get("continuous_usage_stats")),
        sampling,
        None if seed is None else int(seed),
    )


def read_completion(body: Mapping[str, object], defaults: Defaults) -> VllmRequest:
    """A `CompletionRequest`: `prompt` is a string or a non-empty list of strings."""
    prompt = body.get("prompt")
    if prompt is None or prompt == "":
        raise Refusal(
            Problem(
                "Either prompt or prompt_embeds must be provided and non-empty. (parameter=prompt)", "prompt"
            )
        )
    if isinstance(prompt, str):
        prompts = [prompt]
    elif isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
        prompts = list(prompt)
    else:
        raise _shape("completion", "prompt", "Input should be a valid string or a list of strings")
    common = _common("completion", body, defaults)
    max_tokens = _number("completion", body, "max_tokens", integer=True)
    if max_tokens is None:
        max_tokens = vllm.DEFAULT_COMPLETION_MAX_TOKENS
    return VllmRequest(
        kind="completion",
        prompts=prompts,
        messages=[],
        max_tokens=int(max_tokens),
        unsupported=_unsupported(body),
        model=common.model,
        stream=common.stream,
        include_usage=common.include_usage,
        continuous_usage=common.continuous_usage,
        sampling=replace(common.sampling, max_tokens=None if max_tokens is None else int(max_tokens)),
        seed=common.seed,
    )


def read_chat(body: Mapping[str, object], defaults: Defaults) -> VllmRequest:
    """A `ChatCompletionRequest`: `max_completion_tokens` wins over `max_tokens`; both may be absent."""
    try:
        messages = chat_messages(body)
    except ParameterError as err:
        raise _shape("chat", "messages", str(err)) from err
    common = _common("chat", body, defaults)
    max_tokens = _number("chat", body, "max_completion_tokens", integer=True)
    if max_tokens is None:
        max_tokens = _number("chat", body, "max_tokens", integer=True)
    return VllmRequest(
        kind="chat",
        prompts=[],
        messages=messages,
        max_tokens=None if max_tokens is None else int(max_tokens),
        unsupported=_unsupported(body),
        model=common.model,
        stream=common.stream,
        include_usage=common.include_usage,
        continuous_usage=common.continuous_usage,
        sampling=replace(common.sampling, max_tokens=None if max_tokens is None else int(max_tokens)),
        seed=common.seed,
    )


def plan(
    request: VllmRequest, input_ids: list[int], max_model_len: int, defaults: Defaults
) -> tuple[int, GenerateParameters]:
    """Length check, then `_verify_args`, as vLLM runs them; the tokens granted and the engine's parameters."""
    problem = vllm.length_problem(len(input_ids), request.max_tokens, max_model_len)
    if problem is not None:
        raise Refusal(problem)
    granted = vllm.granted_max_tokens(len(input_ids), request.max_tokens, max_model_len)
    default_max = defaults.values.get("max_new_tokens")
    if default_max is not None and request.max_tokens is None:
        granted = min(granted, int(default_max))
    sampling = request.sampling
    # The chat's max_tokens is checked once resolved (vLLM verifies the SamplingParams it builds).
    resolved = sampling if sampling.max_tokens is not None else replace(sampling, max_tokens=granted)
    problem = vllm.sampling_problem(resolved) or request.unsupported
    if problem is not None:
        raise Refusal(problem)
    if sampling.greedy:
        params = GenerateParameters(max_new_tokens=granted, stop=sampling.stop)
    else:
        params = GenerateParameters(
            max_new_tokens=granted,
            do_sample=True,
            temperature=sampling.temperature,
            top_p=sampling.top_p if sampling.top_p < 1.0 else None,
            top_k=sampling.top_k if sampling.top_k > 0 else None,
            repetition_penalty=sampling.repetition_penalty if sampling.repetition_penalty != 1.0 else None,
            stop=sampling.stop,
            seed=request.seed,
        )
    if sampling.greedy and sampling.repetition_penalty != 1.0:
        params = replace(params, repetition_penalty=sampling.repetition_penalty)
    return granted, params
