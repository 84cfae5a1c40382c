"""`llm-twin infer PROMPT`: stream the endpoint's tokens to stdout as they arrive.

Every byte goes through boto3's sagemaker-runtime, the path a real endpoint uses; on the
local target that is the emulator's runtime, called with the deployer's key the
bootstrap wrote. SERVING_BACKEND says which body the container reads (TGI's generate or
vLLM's completion); the printed text and the `--json` events are the same on both. Output
is flushed per token. Exit codes: 0 done, 1 the call or the
stream failed (the text already printed is kept), 2 a bad option, 130 interrupted.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import click

from llm_twin.cli import context
from llm_twin.cli.context import interrupts
from llm_twin.cli.options import endpoint_options, positive
from llm_twin.client.endpoint import (
    ASYNC_TIMEOUT,
    ChatResult,
    GenerationResult,
    LLMInferenceSagemakerEndpoint,
    async_bucket,
    aws_clients,
)
from llm_twin.client.parameters import (
    MAX_NEW_TOKENS_OPTION,
    TEMPERATURE_OPTION,
    TOP_P_OPTION,
    OptionRule,
    request_parameters,
)
from llm_twin.client.stream import ChatDelta, TokenEvent
from llm_twin.config import Settings
from llm_twin.config.credentials import Credentials
from llm_twin.control import local_target
from llm_twin.errors import InferenceError, LlmTwinError
from llm_twin.protocol.text import first_surrogate, invalid_byte

Event = TokenEvent | GenerationResult | ChatDelta | ChatResult


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


def _checked(rule: OptionRule) -> Callable[[click.Context, click.Parameter, float | None], float | None]:
    """A Click callback holding an option to the client's rule for it (what the request can express)."""

    def check(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
        problem = rule.problem(value)
        if problem is not None:
            raise click.BadParameter(problem)
        return value

    return check


def _emit(obj: dict[str, Any]) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False))


def _event_json(event: Event) -> dict[str, Any]:
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
    client: LLMInferenceSagemakerEndpoint,
    settings: Settings,
    credentials: Credentials,
    as_json: bool,
    timeout: float,
) -> GenerationResult:
    """Submit through S3, say where the answer will land (stderr, or a JSON event), then poll."""
    s3 = aws_clients(settings, credentials).client("s3")
    bucket = async_bucket(client.sagemaker_client, client.endpoint_name)
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


def _visible_text(event: Event) -> str:
    if isinstance(event, TokenEvent):
        return "" if event.token.special else event.token.text
    if isinstance(event, ChatDelta):
        return event.content
    return ""


@dataclass
class _Output:
    """What `infer` printed, so an error or a Ctrl-C ends the partial line (and, with --json, says why)."""

    as_json: bool
    printed: bool = False

    def text(self, text: str) -> None:
        # `printed` is set before the echo: a Ctrl-C landing right after a flush must still
        # end the printed line.
        self.printed = True
        click.echo(text, nl=False)  # click.echo flushes: one token, one flush

    def event(self, event: Event) -> None:
        if self.as_json:
            _emit(_event_json(event))
        elif isinstance(event, GenerationResult | ChatResult):
            if not self.printed:  # the whole text, when no token came before it
                self.text(event.text if isinstance(event, GenerationResult) else event.content)
        elif text := _visible_text(event):
            self.text(text)

    def close(self, error: LlmTwinError | None) -> None:
        """Before the root handler's line: the partial line ended, the JSON error event emitted."""
        if self.printed:
            click.echo()
        if self.as_json and error is not None:
            partial = error.partial_text if isinstance(error, InferenceError) else ""
            _emit(
                {
                    "event": "error",
                    "error": type(error).__name__,
                    "message": str(error),
                    "partial_text": partial,
                }
            )


def _events(
    client: LLMInferenceSagemakerEndpoint,
    prompt: str,
    parameters: dict[str, Any],
    *,
    chat: bool,
    stream: bool,
) -> Iterable[Event]:
    """The call the options ask for, as the events it yields (one result when not streamed)."""
    if chat:
        messages = [{"role": "user", "content": prompt}]
        if stream:
            return client.chat(messages, stream=True, **parameters)
        return [client.chat(messages, **parameters)]
    client.set_payload(prompt, parameters)
    return client.stream() if stream else [client.generate()]


@click.command()
@click.argument("prompt", callback=_prompt)
@click.option(
    "--max-new-tokens",
    type=int,
    default=None,
    callback=_checked(MAX_NEW_TOKENS_OPTION),
    help="Tokens to generate at most.",
)
@click.option(
    "--temperature",
    type=float,
    default=None,
    callback=_checked(TEMPERATURE_OPTION),
    help="Sampling temperature; 0 is greedy.",
)
@click.option(
    "--top-p",
    type=float,
    default=None,
    callback=_checked(TOP_P_OPTION),
    help="Nucleus sampling mass, in (0, 1].",
)
@click.option("--stop", multiple=True, callback=_stops, help="Stop sequence (repeatable).")
@click.option("--seed", type=int, default=None, help="Sampling seed, for reproducible output.")
@click.option("--no-stream", is_flag=True, help="One InvokeEndpoint call; print the text at the end.")
@click.option("--chat", is_flag=True, help="Use the Messages API (on TGI it needs MESSAGES_API_ENABLED).")
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
    callback=positive,
    help="With --async: seconds to wait for the output object.",
)
@click.pass_context
@interrupts("Interrupted: the generation was stopped; the text above is what arrived.")
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
    if use_async and chat:
        raise click.BadParameter(
            "--async sends a generate body, not a chat; drop --chat", param_hint="--async"
        )
    parameters = request_parameters(
        chat=chat, max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, stop=stop, seed=seed
    )
    output = _Output(as_json)
    context.on_error(output.close)
    settings = context.settings(ctx)
    credentials = context.inference_identity(settings)
    client = LLMInferenceSagemakerEndpoint.from_settings(
        settings, credentials=credentials, endpoint_name=endpoint, read_timeout=read_timeout
    )
    context.notice(local_target.stand_in_notice(settings, client.endpoint_name))
    if use_async:
        client.set_payload(prompt, parameters)
        events: Iterable[Event] = [_run_async(client, settings, credentials, as_json, async_timeout)]
    else:
        events = _events(client, prompt, parameters, chat=chat, stream=not no_stream)
    for event in events:
        output.event(event)
    if not as_json:
        click.echo()
