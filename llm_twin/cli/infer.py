"""`llm-twin infer PROMPT`: stream the endpoint's tokens to stdout as they arrive.

Every byte goes through boto3's sagemaker-runtime, the path a real endpoint uses; on the
local target that is the emulator's runtime, so no AWS credentials are involved. Output
is flushed per token. Exit codes: 0 done, 1 the call or the stream failed (the text
already printed is kept), 2 a bad option, 130 interrupted.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from llm_twin.client.endpoint import (
    ASYNC_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    ChatResult,
    GenerationResult,
    LLMInferenceSagemakerEndpoint,
    async_bucket,
    aws_clients,
)
from llm_twin.client.stream import ChatDelta, TokenEvent
from llm_twin.config import load_settings
from llm_twin.control.images import require_image
from llm_twin.errors import InferenceError, LlmTwinError
from llm_twin.protocol.text import first_surrogate, invalid_byte


def _utf8(what: str, text: str) -> str:
    """`text`, or a usage error naming its first character that UTF-8 cannot carry to the endpoint."""
    index = first_surrogate(text)
    if index is None:
        return text
    byte = invalid_byte(text[index])
    if byte is not None:  # a byte of the argument or of stdin that did not decode
        raise click.BadParameter(f"{what} is not valid UTF-8: byte 0x{byte:02x} at character {index}")
    raise click.BadParameter(
        f"{what} holds a lone surrogate \\u{ord(text[index]):04x} at character {index}, which is not valid Unicode"
    )


def _read_stdin() -> str:
    # Decoded here, not by sys.stdin: a byte that is not UTF-8 becomes a named usage error,
    # not a UnicodeDecodeError traceback (strict locales) or a surrogate sent on (C locale).
    stream = sys.stdin
    if not hasattr(stream, "buffer"):
        return stream.read()
    return stream.buffer.read().decode(stream.encoding or "utf-8", errors="surrogateescape")


def _prompt(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if value == "-":
        value = _read_stdin()
    if not value.strip():
        raise click.BadParameter("the prompt is empty")
    return _utf8("the prompt", value)


def _stops(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(_utf8("the stop sequence", stop) for stop in value)


def _at_least_one(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
    if value is not None and value < 1:
        raise click.BadParameter("must be at least 1")
    return value


def _non_negative(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and not value >= 0:
        raise click.BadParameter("must be >= 0 (0 means greedy decoding)")
    return value


def _unit_interval(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and not 0 < value <= 1:
        raise click.BadParameter("must be in (0, 1]")
    return value


def _positive(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not value > 0:
        raise click.BadParameter("must be > 0")
    return value


def endpoint_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """`--endpoint` and `--read-timeout`, the same for `infer` and `serve`."""
    command = click.option(
        "--read-timeout",
        type=float,
        default=DEFAULT_READ_TIMEOUT,
        show_default=True,
        callback=_positive,
        help="Seconds without a byte from the endpoint before a stream is given up.",
    )(command)
    return click.option("--endpoint", default=None, help="Endpoint name; defaults to the configured one.")(
        command
    )


def _parameters(
    chat: bool,
    max_new_tokens: int | None,
    temperature: float | None,
    top_p: float | None,
    stop: tuple[str, ...],
    seed: int | None,
) -> dict[str, Any]:
    """Request parameters under TGI's names (generate) or OpenAI's (Messages API)."""
    parameters: dict[str, Any] = {}
    if max_new_tokens is not None:
        parameters["max_tokens" if chat else "max_new_tokens"] = max_new_tokens
    if chat:
        # The Messages API takes OpenAI's meanings: temperature 0 is greedy, top_p 1 no cut.
        parameters.update(
            {k: v for k, v in (("temperature", temperature), ("top_p", top_p)) if v is not None}
        )
    else:
        # TGI's generate refuses temperature 0; null removes the sampling defaults instead.
        if temperature == 0:
            parameters.update(temperature=None, top_p=None, do_sample=False)
        elif temperature is not None:
            parameters["temperature"] = temperature
        if top_p is not None and "do_sample" not in parameters:
            parameters["top_p"] = None if top_p == 1 else top_p
    if stop:
        parameters["stop"] = list(stop)
    if seed is not None:
        parameters["seed"] = seed
    if not chat:
        parameters["details"] = True
    return parameters


def _emit(obj: dict[str, Any]) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False))


def _event_json(event: TokenEvent | GenerationResult | ChatDelta | ChatResult) -> dict[str, Any]:
    if isinstance(event, TokenEvent):
        token = event.token
        return {
            "event": "token",
            "index": event.index,
            "id": token.id,
            "text": token.text,
            "logprob": token.logprob,
            "special": token.special,
        }
    if isinstance(event, ChatDelta):
        return {"event": "delta", "content": event.content, "finish_reason": event.finish_reason}
    if isinstance(event, ChatResult):
        return {"event": "result", "text": event.content, "finish_reason": event.finish_reason}
    return {
        "event": "result",
        "text": event.text,
        "finish_reason": event.finish_reason,
        "generated_tokens": event.generated_tokens,
    }


def _run_async(
    client: LLMInferenceSagemakerEndpoint, settings: Any, as_json: bool, timeout: float
) -> GenerationResult:
    """Submit through S3, say where the answer will land (stderr, or a JSON event), then poll."""
    clients = aws_clients(settings)
    s3 = clients.client("s3")
    bucket = async_bucket(clients.client("sagemaker"), client.endpoint_name)
    invocation = client.submit_async(s3, bucket)
    if as_json:
        _emit(
            {
                "event": "submitted",
                "inference_id": invocation.inference_id,
                "input_location": invocation.input_location,
                "output_location": invocation.output_location,
                "failure_location": invocation.failure_location,
            }
        )
    else:
        click.echo(
            f"» async inference {invocation.inference_id} submitted; waiting for {invocation.output_location}",
            err=True,
        )
    return client.wait_async(s3, invocation, timeout=timeout)


def _visible_text(event: Any) -> str:
    if isinstance(event, TokenEvent):
        return "" if event.token.special else event.token.text
    if isinstance(event, ChatDelta):
        return event.content
    return ""


@click.command()
@click.argument("prompt", callback=_prompt)
@click.option(
    "--max-new-tokens", type=int, default=None, callback=_at_least_one, help="Tokens to generate at most."
)
@click.option(
    "--temperature",
    type=float,
    default=None,
    callback=_non_negative,
    help="Sampling temperature; 0 is greedy.",
)
@click.option(
    "--top-p", type=float, default=None, callback=_unit_interval, help="Nucleus sampling mass, in (0, 1]."
)
@click.option("--stop", multiple=True, callback=_stops, help="Stop sequence (repeatable).")
@click.option("--seed", type=int, default=None, help="Sampling seed, for reproducible output.")
@click.option("--no-stream", is_flag=True, help="One InvokeEndpoint call; print the text at the end.")
@click.option("--chat", is_flag=True, help="Use the Messages API (MESSAGES_API_ENABLED on the endpoint).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event on stdout, for scripts.")
@endpoint_options
@click.option(
    "--async",
    "use_async",
    is_flag=True,
    help="InvokeEndpointAsync: upload the payload to S3, then poll for the answer (over 60 s is fine).",
)
@click.option(
    "--async-timeout",
    type=float,
    default=ASYNC_TIMEOUT,
    show_default=True,
    callback=_positive,
    help="With --async: seconds to wait for the output object.",
)
@click.pass_context
def infer(
    ctx: click.Context,
    prompt: str,
    max_new_tokens: int | None,
    temperature: float | None,
    top_p: float | None,
    stop: tuple[str, ...],
    seed: int | None,
    no_stream: bool,
    chat: bool,
    as_json: bool,
    endpoint: str | None,
    read_timeout: float,
    use_async: bool,
    async_timeout: float,
) -> None:
    """Generate from PROMPT ('-' reads it from stdin), printing tokens as they arrive."""
    env_file = (ctx.find_root().obj or {}).get("env_file", Path(".env"))
    if use_async and chat:
        raise click.BadParameter("--async sends TGI's generate payload; drop --chat", param_hint="--async")
    parameters = _parameters(chat, max_new_tokens, temperature, top_p, stop, seed)
    printed = False
    try:
        settings = load_settings(os.environ, env_file)
        require_image(settings)
        client = LLMInferenceSagemakerEndpoint.from_settings(
            settings, endpoint_name=endpoint, read_timeout=read_timeout
        )
        events: Any
        if use_async:
            client.set_payload(prompt, parameters)
            events = [_run_async(client, settings, as_json, async_timeout)]
        elif chat:
            messages = [{"role": "user", "content": prompt}]
            answer = client.chat(messages, stream=not no_stream, **parameters)
            events = [answer] if isinstance(answer, ChatResult) else answer
        elif no_stream:
            client.set_payload(prompt, parameters)
            events = [client.generate()]
        else:
            client.set_payload(prompt, parameters)
            events = client.stream()
        for event in events:
            if as_json:
                _emit(_event_json(event))
                continue
            # `printed` is set before the echo: a Ctrl-C landing right after a flush must still
            # end the printed line.
            if isinstance(event, GenerationResult | ChatResult):
                if not printed:
                    printed = True
                    click.echo(event.text if isinstance(event, GenerationResult) else event.content, nl=False)
                continue
            text = _visible_text(event)
            if text:
                printed = True
                click.echo(text, nl=False)  # click.echo flushes: one token, one flush
        if not as_json:
            click.echo()
    except LlmTwinError as exc:
        if printed:
            click.echo()
        if as_json:
            partial = exc.partial_text if isinstance(exc, InferenceError) else ""
            _emit(
                {"event": "error", "error": type(exc).__name__, "message": str(exc), "partial_text": partial}
            )
        click.echo(f"{type(exc).__name__}: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        if printed:
            click.echo()
        click.echo("Interrupted: the generation was stopped; the text above is what arrived.", err=True)
        sys.exit(130)
