"""`RuntimeMiddleware`: sagemaker-runtime invocations, answered in front of moto.

An invocation is authorized (under LOCAL_AWS_ENFORCE_IAM), sent to the model server that
serves the endpoint now (the old one while an update starts the new one), and answered
as AWS answers: the body as it is for InvokeEndpoint, event-stream `PayloadPart`s as they
are produced for InvokeEndpointWithResponseStream. The container's errors are AWS's
ModelError (424), carrying its status and message. Every other request goes to moto.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import threading
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import quote, unquote
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from moto.sagemaker import models as sm_models

from llm_twin.protocol import eventstream
from llm_twin_local.aws import authz
from llm_twin_local.aws.runtime import faults
from llm_twin_local.aws.runtime.choice import MODEL_ID_ENV, VLLM_MODEL_ENV
from llm_twin_local.aws.runtime.faults import Faults, Jitter, Reshaper
from llm_twin_local.aws.runtime.lifecycle import LocalRuntime
from llm_twin_local.aws.runtime.servers import ModelServer, gone

INVOKE_TIMEOUT = 60.0
"""SageMaker's own limit on one InvokeEndpoint call."""
STREAM_READ_TIMEOUT = 300.0
"""The longest silence between two parts of a stream before it is cut."""
EVENT_STREAM = "application/vnd.amazon.eventstream"

_INVOCATION_PATH = re.compile(r"^/endpoints/(?P<name>[^/]+)/(?P<kind>invocations(?:-response-stream)?)$")
_CREDENTIAL_SCOPE = re.compile(r"Credential=(?P<key>[^/,\s]+)/\d{8}/(?P<region>[^/]+)/(?P<service>[^/]+)/")


class InvocationError(Exception):
    """An AWS error answer: HTTP status, error code, message and extra body fields."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.extra = extra

    def respond(self, start_response: StartResponse) -> list[bytes]:
        body = json.dumps({"message": str(self), **self.extra}).encode()
        start_response(
            f"{self.status} {http.client.responses.get(self.status, 'Error')}",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("x-amzn-ErrorType", self.code),
            ],
        )
        return [body]


@dataclass(frozen=True)
class RuntimeCall:
    """A SigV4-signed sagemaker-runtime POST: the endpoint, the route, the caller's account."""

    name: str
    kind: str
    account: str
    region: str


def runtime_call(environ: WSGIEnvironment, path: re.Pattern[str]) -> RuntimeCall | None:
    """The call when `environ` is a signed sagemaker POST to `path`; None leaves it to moto."""
    match = path.match(environ.get("PATH_INFO", ""))
    scope = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if environ.get("REQUEST_METHOD") != "POST" or match is None or scope is None:
        return None
    if scope["service"] != "sagemaker":
        return None
    from moto.iam.models import get_account_id_from

    account = get_account_id_from(scope["key"])
    return RuntimeCall(unquote(match["name"]), match["kind"], account, scope["region"])


def read_body(environ: WSGIEnvironment) -> bytes:
    """The request body: its Content-Length, or all of a chunked one; none without either.

    A body with no length that is not chunked cannot be read to its end on a connection
    kept alive: reading would wait for the client to hang up.
    """
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    body: bytes = stream.read(int(length)) if length else b""
    if not length and environ.get("wsgi.input_terminated"):
        body = stream.read()
    return body


class RuntimeMiddleware:
    """Answers sagemaker-runtime invocations; everything else goes to moto's app."""

    def __init__(self, app: WSGIApplication, runtime: LocalRuntime, jitter: Jitter | None = None) -> None:
        self.app = app
        self.runtime = runtime
        self.jitter = jitter
        self._throttled = 0
        self._throttle_lock = threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        call = runtime_call(environ, _INVOCATION_PATH)
        if call is None:
            return self.app(environ, start_response)
        name, account = call.name, call.account
        body = read_body(environ)
        custom_attributes = environ.get("HTTP_X_AMZN_SAGEMAKER_CUSTOM_ATTRIBUTES")
        injected = Faults.from_environ(os.environ).for_request(custom_attributes)
        try:
            if authz.enabled():
                check = authz.invocation_check(account, call.region, name, call.kind)
                self.authorize(environ, account, body, check)
            server = self.serving(account, call.region, name)
            self._throttle(injected)
            if call.kind == "invocations":
                return self._invoke(server, environ, body, start_response)
            return self._stream(server, environ, body, start_response, injected)
        except InvocationError as exc:
            return exc.respond(start_response)

    def authorize(self, environ: WSGIEnvironment, account: str, body: bytes, check: authz.Check) -> None:
        """The caller's key, signature and policies, as moto checks them for its own services."""
        from moto.core.exceptions import JsonRESTError
        from werkzeug.datastructures import EnvironHeaders

        try:
            authz.authorize_request(
                [check],
                account_id=account,
                method=environ["REQUEST_METHOD"],
                path=_request_uri(environ),
                body=body,
                headers=cast(Mapping[str, str], EnvironHeaders(environ)),
            )
        except JsonRESTError as exc:
            raise InvocationError(exc.code, exc.error_type, exc.message) from exc

    def serving(self, account: str, region: str, name: str) -> ModelServer:
        """The model server that answers endpoint `name` now; an AWS error when none may."""
        backend = sm_models.sagemaker_backends[account][region]
        endpoint = backend.endpoints.get(name)
        if endpoint is None:
            raise InvocationError(400, "ValidationError", f"Endpoint {name} of account {account} not found.")
        server = self.runtime.server_for(endpoint.arn)
        # AWS keeps serving on the old variant while an update's new one starts.
        serving_old = (
            endpoint.endpoint_status in ("Updating", "RollingBack") and server is not None and server.ready
        )
        if endpoint.endpoint_status != "InService" and not serving_old:
            reason = f" FailureReason: {endpoint.failure_reason}" if endpoint.failure_reason else ""
            raise InvocationError(
                400,
                "ValidationError",
                f"Endpoint {name} of account {account} is not in service "
                f"(status {endpoint.endpoint_status}).{reason}",
            )
        if server is None or not server.ready:
            raise InvocationError(
                424,
                "ModelError",
                f"Endpoint {name} has no running container: the local emulator runs only TGI and vLLM "
                f"models (a container environment with {MODEL_ID_ENV} or {VLLM_MODEL_ENV}).",
            )
        return server

    def request(
        self, server: ModelServer, environ: WSGIEnvironment, body: bytes, timeout: float
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """POST `body` to the server's /invocations; a status of 300 or more is AWS's ModelError."""
        headers = {
            "Content-Type": environ.get("CONTENT_TYPE") or "application/json",
            "Accept": environ.get("HTTP_X_AMZN_SAGEMAKER_ACCEPT") or environ.get("HTTP_ACCEPT") or "*/*",
            "Content-Length": str(len(body)),
        }
        custom = environ.get("HTTP_X_AMZN_SAGEMAKER_CUSTOM_ATTRIBUTES")
        if custom:
            headers["X-Amzn-SageMaker-Custom-Attributes"] = custom
        connection = http.client.HTTPConnection(*server.host, timeout=timeout)
        try:
            connection.request("POST", "/invocations", body=body, headers=headers)
            response = connection.getresponse()
        except OSError as exc:
            connection.close()
            raise InvocationError(
                424,
                "ModelError",
                f"Received no response from primary: {exc}. See {server.log_path}",
                OriginalStatusCode=0,
            ) from exc
        if response.status >= 300:
            original = response.read().decode(errors="replace")
            connection.close()
            kind = "client" if response.status < 500 else "server"
            raise InvocationError(
                424,
                "ModelError",
                f'Received {kind} error ({response.status}) from primary with message "{original}". '
                f"See {server.log_path}",
                OriginalStatusCode=response.status,
                OriginalMessage=original,
                LogStreamArn=str(server.log_path),
            )
        return connection, response

    def _throttle(self, injected: Faults) -> None:
        with self._throttle_lock:
            if self._throttled >= injected.throttle_first:
                return
            self._throttled += 1
            count = self._throttled
        raise InvocationError(
            400,
            "ThrottlingException",
            f"Rate exceeded ({faults.THROTTLE_FIRST_ENV}={injected.throttle_first}: invocation {count} "
            "is throttled on purpose).",
        )

    def _variant_headers(self, server: ModelServer, content_type: str) -> list[tuple[str, str]]:
        return [("X-Amzn-Invoked-Production-Variant", server.variant_name), ("Content-Type", content_type)]

    def _invoke(
        self, server: ModelServer, environ: WSGIEnvironment, body: bytes, start_response: StartResponse
    ) -> list[bytes]:
        connection, response = self.request(server, environ, body, INVOKE_TIMEOUT)
        try:
            payload = response.read()
        except OSError as exc:
            raise InvocationError(
                424, "ModelError", f"Reading the primary's response failed: {exc}", OriginalStatusCode=0
            ) from exc
        finally:
            connection.close()
        content_type = response.getheader("Content-Type") or "application/json"
        start_response(
            "200 OK", [*self._variant_headers(server, content_type), ("Content-Length", str(len(payload)))]
        )
        return [payload]

    def _stream(
        self,
        server: ModelServer,
        environ: WSGIEnvironment,
        body: bytes,
        start_response: StartResponse,
        injected: Faults,
    ) -> Iterator[bytes]:
        connection, response = self.request(server, environ, body, STREAM_READ_TIMEOUT)
        headers = self._variant_headers(server, EVENT_STREAM)
        headers.append(("X-Amzn-SageMaker-Content-Type", response.getheader("Content-Type") or ""))
        start_response("200 OK", headers)
        fault = injected.stream_fault
        parts: Generator[bytes, None, None] = self._relay(
            server, connection, response, Reshaper.for_stream(fault, self.jitter)
        )
        if fault is not None and fault.kind in faults.BREAKING_FAULTS:
            parts = faults.broken(parts, fault, server, environ)
        if injected.stall_after_parts is None:
            return parts
        return faults.stalled(parts, injected.stall_after_parts, injected.stall_seconds, server)

    def _relay(
        self,
        server: ModelServer,
        connection: http.client.HTTPConnection,
        response: http.client.HTTPResponse,
        reshaper: Reshaper,
    ) -> Generator[bytes, None, None]:
        try:
            while True:
                failure = None
                try:
                    data = response.read1(65536)
                except TimeoutError:
                    data = b""
                    failure = eventstream.model_stream_error(
                        f"The model produced no output for {STREAM_READ_TIMEOUT:.0f}s.",
                        "ModelInvocationTimeExceeded",
                    )
                except (OSError, http.client.HTTPException) as exc:
                    data = b""
                    if gone(server):
                        failure = eventstream.internal_stream_failure(
                            f"The model container of variant {server.variant_name} went away mid-stream."
                        )
                    else:
                        failure = eventstream.model_stream_error(
                            f"Reading the model's stream failed: {exc!r}", "ModelError"
                        )
                # Whatever is held goes out before the end, or before the error that ends the stream.
                for piece in reshaper.feed(data) if data else reshaper.end():
                    yield eventstream.payload_part(piece)
                if failure is not None:
                    yield failure
                if not data:
                    return
        finally:
            with contextlib.suppress(OSError):
                connection.close()


def _request_uri(environ: WSGIEnvironment) -> str:
    """The path and query as the client signed them (the server's raw one when it keeps it)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return str(raw)
    query = environ.get("QUERY_STRING")
    return quote(environ.get("PATH_INFO", "")) + (f"?{query}" if query else "")
