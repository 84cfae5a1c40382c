"""A request's JSON body as TGI's axum extractor reads it, and what a stream carries when it fails."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from starlette.requests import Request

from llm_twin.protocol.text import json_text_problem

from .errors import BadRequestError, ShapeError
from .params import ParameterError

Parsed = TypeVar("Parsed")


@dataclass(frozen=True)
class Failure:
    """A request that ended in an error inside a stream: TGI's message and `error_type`; each
    route writes it in its own shape."""

    message: str
    error_type: str


async def read_json(request: Request) -> object:
    """The body as JSON: 400 when it is not JSON at all (axum's JSON extractor)."""
    raw = await request.body()
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BadRequestError(f"Failed to parse the request body as JSON: {err}") from err
    # A lone surrogate (JSON's \ud800 escape) is no text a tokenizer can encode: refused up front.
    problem = json_text_problem(body)
    if problem:
        raise ShapeError(f"Failed to deserialize the JSON body into the target type: {problem}")
    return body


def shape(parse: Callable[[], Parsed]) -> Parsed:
    """Run a parser; its ParameterError is a body of the wrong shape (axum's 422)."""
    try:
        return parse()
    except ParameterError as err:
        raise ShapeError(f"Failed to deserialize the JSON body into the target type: {err}") from err
