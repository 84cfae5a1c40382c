"""`llm-twin serve`: the SSE gateway for browsers, with the AWS credentials kept server-side.

Starlette and uvicorn come with the `serve` extra, so they are imported when the
command runs, not when the CLI loads. Exit codes: 2 for a bad option or setting (nothing
started), 1 when the endpoint cannot be reached at start, 130 after Ctrl-C.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from llm_twin.cli import context
from llm_twin.cli.context import interrupts
from llm_twin.cli.options import endpoint_options
from llm_twin.client.endpoint import LLMInferenceSagemakerEndpoint
from llm_twin.config import build_settings
from llm_twin.config.spec import SPEC
from llm_twin.control.aws import EndpointState
from llm_twin.control.deploy.deployment import Deployment
from llm_twin.errors import SettingsError

if TYPE_CHECKING:
    from llm_twin.gateway import EndpointHealth


def _host(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    parse = SPEC["GATEWAY_HOST"][1]
    try:
        host: str = parse("--host", value)
    except SettingsError as exc:
        raise click.BadParameter(str(exc).removeprefix(f"--host={value!r} is invalid: ")) from None
    return host


def endpoint_health(deployment: Deployment) -> Callable[[], EndpointHealth]:
    """The gateway's /health source: the endpoint as DescribeEndpoint shows it, in the gateway's terms."""
    from llm_twin.gateway import EndpointHealth

    def health(state: EndpointState) -> EndpointHealth:
        return EndpointHealth(name=state.name, status=state.status, failure_reason=state.failure_reason)

    return lambda: health(deployment.endpoint_state())


@click.command()
@click.option(
    "--host", default=None, callback=_host, help="Address to bind; default GATEWAY_HOST (127.0.0.1)."
)
@click.option(
    "--port", type=click.IntRange(1, 65535), default=None, help="Port to bind; default GATEWAY_PORT (8080)."
)
@endpoint_options
@click.pass_context
@interrupts("Interrupted: the gateway was stopped.")
def serve(
    ctx: click.Context, host: str | None, port: int | None, endpoint: str | None, read_timeout: float
) -> None:
    """Serve the chat page and SSE streams of the endpoint's tokens to browsers."""
    settings = context.settings(ctx)
    if endpoint:
        settings = build_settings({"names.endpoint_name": endpoint}, base=settings)
    host = host or settings.gateway.host
    port = port or settings.gateway.port

    import uvicorn

    from llm_twin.gateway import GatewayConfig, create_app
    from llm_twin.gateway.limits import ConnectionLimits, reserve_descriptors, uvicorn_options
    from llm_twin.gateway.login import CODE_TTL, LoginCodes, RedactLoginCodes
    from llm_twin.gateway.token import gateway_token, is_loopback

    limits = ConnectionLimits(
        settings.gateway.header_timeout, settings.gateway.body_timeout, settings.gateway.max_connections
    )
    reserve_descriptors(limits)

    token = gateway_token(settings.gateway.token, host, settings.state.dir)
    base = LLMInferenceSagemakerEndpoint.from_settings(
        settings, credentials=context.inference_identity(settings), read_timeout=read_timeout
    )
    deployment = Deployment(settings)
    state = deployment.endpoint_state()
    # A login link only where nobody else can reach the port first.
    login = LoginCodes() if is_loopback(host) else None
    config = GatewayConfig(
        token.token,
        settings.gateway.cors_origins,
        settings.gateway.max_body_bytes,
        login=login,
        backend=settings.model.backend,
    )
    # One boto3 client for all requests (it is thread-safe); a payload per request.
    app = create_app(config, base.copy, endpoint_health(deployment))
    shown_host = f"[{host}]" if ":" in host else host
    click.echo(f"» endpoint {state.name} is {state.status}, serving {settings.model.backend}")
    if settings.model.backend == "vllm":
        click.echo(
            "» vLLM: /v1/completions and /v1/chat/completions relayed as they are; "
            "TGI's POST /, /generate and /generate_stream answer 404"
        )
    click.echo(f"» chat page and streams on http://{shown_host}:{port}/ (Ctrl-C stops)")
    if login is not None:
        # The one place the code is ever shown: the access log redacts it.
        click.echo(
            f"» open the chat page with http://{shown_host}:{port}/?login={login.new_code()} "
            f"(works once, within {CODE_TTL / 60:g} minutes)"
        )
    else:
        click.echo("» the chat page asks for the bearer token (GATEWAY_TOKEN): no login link off loopback")
    if token.generated_file is not None:
        click.echo(
            f"» bearer token for API clients generated for this run, in {token.generated_file} "
            "(GATEWAY_TOKEN sets one)"
        )
    origins = ", ".join(settings.gateway.cors_origins) or "none (same origin only)"
    click.echo(
        f"» cross-origin pages allowed: {origins}; bodies up to {settings.gateway.max_body_bytes} bytes"
    )
    click.echo(
        f"» headers within {limits.header_timeout:g} s, bodies within {limits.body_timeout:g} s, "
        f"at most {limits.max_connections} connections"
    )
    logging.getLogger("uvicorn.access").addFilter(RedactLoginCodes())
    uvicorn.run(app, host=host, port=port, log_level="info", **uvicorn_options(limits))
