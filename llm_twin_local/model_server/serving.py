"""What every route shares: one engine, the server's identity, and the way a request is
validated, started and followed (TGI's `generate_internal` / `generate_stream_internal`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from starlette.requests import Request

from llm_twin.protocol.tgi import INPUT_VALIDATION, stream_problem

from .bodies import Failure
from .engine import Engine, ErrorEvent, Finished, TokenEvent
from .errors import GenerationError, IncompleteGenerationError, RequestError, ValidationError
from .generation import Generation, wait_disconnect
from .knobs import GenerationFault
from .params import GenerateRequest, Limits, ParameterError, ValidRequest, validate


@dataclass(frozen=True)
class ServerInfo:
    """What `/info` reports besides the engine's own limits."""

    model_id: str
    limits: Limits
    messages_api_enabled: bool = False
    """Accepted for old SageMaker examples; TGI 3.x has no such switch (the body's shape decides)."""


class Serving:
    """One engine behind TGI's routes, answering as the TGI `version` it stands in for."""

    def __init__(
        self, engine: Engine, info: ServerInfo, *, version: str, fault: GenerationFault | None = None
    ) -> None:
        self.engine = engine
        self.info = info
        self.tokenizer = engine.loaded.tokenizer
        self.version = version
        self.fingerprint = f"{version}-native"
        self.fault = fault

    def validate(self, request: GenerateRequest) -> ValidRequest:
        ids = []
        if request.inputs:
            ids = self.engine.loaded.encode(request.inputs, add_special_tokens=request.add_special_tokens)
        try:
            return validate(request, ids, self.info.limits, version=self.version)
        except ParameterError as err:
            raise ValidationError(INPUT_VALIDATION + str(err)) from err

    def start(self, valid: ValidRequest) -> Generation:
        return Generation(self.engine, valid, self.fault)

    async def finish(self, request: Request, generation: Generation) -> Finished | None:
        """Wait for the last token; None when the client went away first (its sequence is cancelled)."""

        async def last() -> Finished:
            async for item in generation.events():
                if isinstance(item, ErrorEvent):
                    raise GenerationError(item.message)
                if item.finished is not None:
                    return item.finished
            raise IncompleteGenerationError("Incomplete generation")

        finishing = asyncio.ensure_future(last())
        watching = asyncio.ensure_future(wait_disconnect(request.receive))
        try:
            await asyncio.wait({finishing, watching}, return_when=asyncio.FIRST_COMPLETED)
            if finishing.done():
                return finishing.result()
            generation.cancel()
            return None
        finally:
            for task in (finishing, watching):
                task.cancel()
            await asyncio.gather(finishing, watching, return_exceptions=True)

    async def token_events(self, parsed: GenerateRequest) -> AsyncGenerator[TokenEvent | Failure, None]:
        """Check, validate, submit and relay, as TGI's `generate_stream_internal`; an error ends it."""
        params = parsed.parameters
        problem = stream_problem(best_of=params.best_of, decoder_input_details=params.decoder_input_details)
        if problem is not None:
            yield Failure(INPUT_VALIDATION + problem, "validation")
            return
        try:
            generation = self.start(self.validate(parsed))
        except RequestError as err:  # refused before it ran: validation, or a full queue
            yield Failure(str(err), err.error_type)
            return
        try:
            async for item in generation.events():
                if isinstance(item, ErrorEvent):
                    yield Failure(item.message, item.error_type)
                    return
                yield item
        finally:
            generation.cancel()
