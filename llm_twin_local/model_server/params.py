"""Request parameters, parsed and validated the way TGI 3.3's router does it.

`parse_generate_request` reads a decoded JSON body into typed parameters (type errors only:
TGI's serde rejects those before any check, as a 422 on every route); `validate` runs TGI's
checks once the inputs are tokenized, in TGI's order, with TGI's words. The rules, order and
messages are `llm_twin.protocol.tgi`'s; the OpenAI-shaped routes map their bodies onto these
parameters in `openai_params`.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import overload

from llm_twin.protocol.tgi import (
    DEFAULT_TGI_VERSION,
    Limits,
    Sampling,
    best_of_problem,
    granted_new_tokens,
    length_problem,
    parameter_problem,
    truncate_problem,
)
from llm_twin.protocol.tgi import FinishReason as FinishReason  # the server's modules read it here

_MISSING = object()


class ParameterError(ValueError):
    """A request TGI's router refuses, in TGI's words; the app answers it with its own error
    (a shape error while parsing, `Input validation error: ...` once validating)."""


@dataclass(frozen=True)
class GenerateParameters:
    """The `parameters` object of a TGI request, as given (None: not given)."""

    max_new_tokens: int | None = None
    """Tokens to generate at most; None is TGI's default (`protocol.tgi.granted_new_tokens`)."""
    temperature: float | None = None
    """Divides the logits; None leaves them alone."""
    top_p: float | None = None
    """Nucleus sampling mass in (0, 1)."""
    top_k: int | None = None
    """Keep only the k most likely tokens."""
    repetition_penalty: float | None = None
    """CTRL-style penalty on tokens already seen (prompt included); 1.0 is none."""
    frequency_penalty: float | None = None
    """Penalty growing with each token's count so far, in [-2, 2]."""
    typical_p: float | None = None
    """Typical decoding mass in (0, 1)."""
    stop: tuple[str, ...] = ()
    """Generation stops once the text contains one of these (it is kept in the output)."""
    seed: int | None = None
    """Sampling seed; a random one is drawn when sampling without one."""
    do_sample: bool = False
    """Sample instead of greedy decoding (implied by any warper, like TGI)."""
    return_full_text: bool | None = None
    """Prepend the prompt to `generated_text`; None is the route's default (false, true on POST /)."""
    details: bool = False
    """Return finish reason, token count, seed and per-token details."""
    decoder_input_details: bool = False
    """Also return the prompt tokens in `details.prefill`."""
    truncate: int | None = None
    """Keep only the last `truncate` tokens of the prompt."""
    top_n_tokens: int | None = None
    """Alternatives to report with each token (`top_tokens`), at most `Limits.max_top_n_tokens`."""
    best_of: int | None = None
    """Generations to run, the best returned; the stand-in allows 1 (`Limits.max_best_of`)."""
    grammar: object | None = None
    """A grammar constraint; the stand-in has none, as TGI with `--disable-grammar-support`."""

    @property
    def sampling(self) -> bool:
        """TGI's rule: sample when asked to, or when any warper changes the distribution."""
        return (
            self.do_sample
            or (self.temperature is not None and self.temperature != 1.0)
            or (self.top_k is not None and self.top_k != 0)
            or (self.top_p is not None and self.top_p < 1.0)
            or (self.typical_p is not None and self.typical_p < 1.0)
        )

    def checked(self) -> Sampling:
        """What TGI checks before tokenizing."""
        return Sampling(
            best_of=self.best_of,
            do_sample=self.do_sample,
            temperature=self.temperature,
            repetition_penalty=self.repetition_penalty,
            frequency_penalty=self.frequency_penalty,
            top_k=self.top_k,
            top_p=self.top_p,
            typical_p=self.typical_p,
            max_new_tokens=self.max_new_tokens,
            stop_count=len(self.stop),
            seed=self.seed,
            top_n_tokens=self.top_n_tokens,
        )


@dataclass(frozen=True)
class GenerateRequest:
    """A parsed request, before tokenization."""

    inputs: str
    """The prompt text (for chat, the rendered template)."""
    parameters: GenerateParameters
    stream: bool = False
    """Only meaningful on the routes that switch on it."""
    add_special_tokens: bool = True
    """Chat prompts already carry their `<s>` from the template."""


@dataclass
class ValidRequest:
    """A request ready for the engine: tokenized, truncated and within every limit."""

    inputs: str
    input_ids: list[int]
    parameters: GenerateParameters
    max_new_tokens: int
    """Granted by TGI's length rules (`protocol.tgi.granted_new_tokens`)."""
    seed: int | None
    """The seed used for sampling, None for greedy decoding (reported in `details`)."""
    stop: tuple[str, ...] = field(default_factory=tuple)

    @property
    def input_length(self) -> int:
        return len(self.input_ids)


@overload
def _number(params: Mapping[str, object], name: str, kind: type[int]) -> int | None: ...


@overload
def _number(params: Mapping[str, object], name: str, kind: type[float]) -> float | None: ...


def _number(params: Mapping[str, object], name: str, kind: type[int] | type[float]) -> int | float | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParameterError(f"`{name}` must be a number, got {value!r}")
    if kind is int:
        if isinstance(value, float) and not value.is_integer():
            raise ParameterError(f"`{name}` must be an integer, got {value!r}")
        # TGI's integers are unsigned (u32, u64, usize) but for top_k (i32): serde refuses the rest.
        if (value < 0 and name != "top_k") or value > 2**64 - 1:
            raise ParameterError(f"`{name}` must be an integer from 0 to 2^64 - 1, got {value!r}")
        return int(value)
    return float(value)


def _flag(params: Mapping[str, object], name: str) -> bool | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise ParameterError(f"`{name}` must be a boolean, got {value!r}")
    return value


def _strings(params: Mapping[str, object], name: str) -> tuple[str, ...]:
    value = params.get(name)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise ParameterError(f"`{name}` must be a list of strings, got {value!r}")
    return tuple(s for s in value if s)


def parse_parameters(params: object) -> GenerateParameters:
    """Read TGI's `parameters` object, checking types only (`validate` checks ranges).

    A body without `parameters` samples (TGI's `default_parameters` has `do_sample: true`);
    `"parameters": {}` is greedy, as serde's defaults make it.
    """
    if params is _MISSING:
        return GenerateParameters(do_sample=True)
    if not isinstance(params, dict):
        raise ParameterError("`parameters` must be a JSON object")
    return GenerateParameters(
        max_new_tokens=_number(params, "max_new_tokens", int),
        temperature=_number(params, "temperature", float),
        top_p=_number(params, "top_p", float),
        top_k=_number(params, "top_k", int),
        repetition_penalty=_number(params, "repetition_penalty", float),
        frequency_penalty=_number(params, "frequency_penalty", float),
        typical_p=_number(params, "typical_p", float),
        stop=_strings(params, "stop"),
        seed=_number(params, "seed", int),
        do_sample=bool(_flag(params, "do_sample")),
        return_full_text=_flag(params, "return_full_text"),
        details=bool(_flag(params, "details")),
        decoder_input_details=bool(_flag(params, "decoder_input_details")),
        truncate=_number(params, "truncate", int),
        top_n_tokens=_number(params, "top_n_tokens", int),
        best_of=_number(params, "best_of", int),
        grammar=params.get("grammar"),
    )


def parse_generate_request(body: object) -> GenerateRequest:
    """`{"inputs": str, "parameters": {...}, "stream": bool}` (TGI's CompatGenerateRequest)."""
    if not isinstance(body, dict):
        raise ParameterError("the request body must be a JSON object")
    if "inputs" not in body:
        raise ParameterError("missing field `inputs`")
    inputs = body["inputs"]
    if not isinstance(inputs, str):
        raise ParameterError("`inputs` must be a string")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ParameterError("`stream` must be a boolean")
    return GenerateRequest(
        inputs=inputs, parameters=parse_parameters(body.get("parameters", _MISSING)), stream=stream
    )


def validate(
    request: GenerateRequest,
    input_ids: list[int],
    limits: Limits,
    *,
    version: str = DEFAULT_TGI_VERSION,
    rng: random.Random | None = None,
) -> ValidRequest:
    """All of TGI's checks in its order, then truncate, grant `max_new_tokens` and draw the seed."""
    params = request.parameters
    problem = parameter_problem(params.checked(), limits)
    if problem is None and not request.inputs:
        problem = "`inputs` cannot be empty"
    if problem is None:
        problem = truncate_problem(params.truncate, limits)
    if problem is not None:
        raise ParameterError(problem)
    ids = list(input_ids)
    if params.truncate is not None and len(ids) > params.truncate:
        ids = ids[len(ids) - params.truncate :]  # TGI keeps the last tokens
    if not ids:
        raise ParameterError("`inputs` cannot be empty")
    problem = length_problem(len(ids), params.max_new_tokens, limits, version=version)
    if problem is None and params.grammar is not None:
        problem = "grammar is not supported"
    if problem is None:
        problem = best_of_problem(params.best_of, limits)
    if problem is not None:
        raise ParameterError(problem)
    seed = None
    if params.sampling:
        seed = params.seed if params.seed is not None else (rng or random).getrandbits(63)
    return ValidRequest(
        inputs=request.inputs,
        input_ids=ids,
        parameters=params,
        max_new_tokens=granted_new_tokens(len(ids), params.max_new_tokens, limits, version=version),
        seed=seed,
        stop=params.stop,
    )
