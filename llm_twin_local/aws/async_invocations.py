"""InvokeEndpointAsync in the emulator: generations longer than the 60-second real-time limit.

    POST /endpoints/<name>/async-invocations   (X-Amzn-SageMaker-InputLocation: s3://...)

answered as SageMaker answers it: 202 with the `InferenceId` in the body and the
`X-Amzn-SageMaker-OutputLocation` / `-FailureLocation` headers (botocore's service model
names them). The request is then run in a background thread: the input object is read
from the emulator's S3, posted to the endpoint's model server (`/invocations`, with the
async timeout instead of the real-time one), and the answer is written to
`<S3OutputPath>/<InferenceId>.out`, or the error to `<S3FailurePath>/<InferenceId>-error.out`
(under S3OutputPath when no failure path is configured).

Requests queue as on AWS: at most `MaxConcurrentInvocationsPerInstance` (default 4) of
an endpoint's run on its model server at once; the rest wait their turn.

Only endpoints whose config has an `AsyncInferenceConfig` accept it, as on AWS. The
endpoint lookup, the serving checks and the HTTP call to the model server are the
real-time runtime's (`RuntimeMiddleware`), so both paths fail the same way.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from wsgiref.types import StartResponse, WSGIEnvironment

from llm_twin_local.aws import authz
from llm_twin_local.aws.runtime.proxy import InvocationError, RuntimeMiddleware, read_body, runtime_call
from llm_twin_local.aws.runtime.servers import ModelServer

if TYPE_CHECKING:
    from moto.s3.models import S3Backend

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 4
"""MaxConcurrentInvocationsPerInstance when the config leaves it out."""
ASYNC_INVOCATION_TIMEOUT = 900.0
"""SageMaker's default InvocationTimeoutSeconds for async requests (the maximum is 3600)."""
MAX_INVOCATION_TIMEOUT = 3600
_ASYNC_PATH = re.compile(r"^/endpoints/(?P<name>[^/]+)/(?P<kind>async-invocations)$")
_S3_URI = re.compile(r"^s3://(?P<bucket>[^/]+)/(?P<key>.+)$")


@dataclass(frozen=True)
class AsyncJob:
    """One accepted async invocation: where its input is and where its result goes."""

    inference_id: str
    input_location: str
    output_location: str
    failure_location: str
    timeout: float
    endpoint_arn: str
    concurrency: int


def output_locations(config: Mapping[str, Any], inference_id: str) -> tuple[str, str]:
    """(output, failure) S3 URIs of one request under an endpoint config's AsyncInferenceConfig."""
    output_config = config.get("OutputConfig") or {}
    output_path = str(output_config["S3OutputPath"]).rstrip("/")
    failure_path = str(output_config.get("S3FailurePath") or output_path).rstrip("/")
    return f"{output_path}/{inference_id}.out", f"{failure_path}/{inference_id}-error.out"


def _split(uri: str) -> tuple[str, str]:
    match = _S3_URI.match(uri)
    if match is None:
        raise InvocationError(400, "ValidationError", f"{uri!r} is not an S3 URI (s3://bucket/key).")
    return match["bucket"], match["key"]


def _s3(account: str) -> S3Backend:
    from moto.s3.models import s3_backends

    return s3_backends[account]["aws"]


def read_object(account: str, uri: str) -> bytes:
    """The bytes of an object in the emulator's S3; a ValidationError answer when it is missing."""
    bucket, key = _split(uri)
    try:
        stored = _s3(account).get_object(bucket, key)
    except Exception as exc:  # noqa: BLE001 - moto raises a different type per missing piece
        raise InvocationError(400, "ValidationError", f"Could not access InputLocation {uri}: {exc}") from exc
    if stored is None:
        raise InvocationError(
            400, "ValidationError", f"Could not access InputLocation {uri}: no such object."
        )
    return bytes(stored.value)


def write_object(account: str, uri: str, data: bytes) -> None:
    bucket, key = _split(uri)
    _s3(account).put_object(bucket, key, data)


class AsyncInvocations:
    """WSGI layer in front of `RuntimeMiddleware`: takes async invocations, passes the rest on."""

    def __init__(self, realtime: RuntimeMiddleware) -> None:
        self.realtime = realtime
        self.jobs: dict[str, threading.Thread] = {}
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._slots_lock = threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        call = runtime_call(environ, _ASYNC_PATH)
        if call is None:
            return self.realtime(environ, start_response)
        name, account = call.name, call.account
        try:
            body = read_body(environ)
            if authz.enabled():
                check = authz.invocation_check(account, call.region, name, call.kind)
                self.realtime.authorize(environ, account, body, check)
            job, server = self._accept(environ, account, call.region, name)
        except InvocationError as exc:
            return exc.respond(start_response)
        thread = threading.Thread(
            target=self._run,
            args=(job, server, account, dict(_forwarded(environ))),
            name=f"async-{job.inference_id}",
            daemon=True,
        )
        self.jobs[job.inference_id] = thread
        thread.start()
        answer = json.dumps({"InferenceId": job.inference_id}).encode()
        start_response(
            "202 Accepted",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(answer))),
                ("X-Amzn-SageMaker-OutputLocation", job.output_location),
                ("X-Amzn-SageMaker-FailureLocation", job.failure_location),
            ],
        )
        return [answer]

    def _accept(
        self, environ: WSGIEnvironment, account: str, region: str, name: str
    ) -> tuple[AsyncJob, ModelServer]:
        """Validate the request against the endpoint's config; the job to run and its server."""
        from moto.sagemaker import models as sm_models

        backend = sm_models.sagemaker_backends[account][region]
        endpoint = backend.endpoints.get(name)
        config = backend.endpoint_configs.get(endpoint.endpoint_config_name) if endpoint is not None else None
        # AWS's AsyncInferenceConfig as the caller sent it; moto leaves it untyped.
        async_config: Mapping[str, Any] = (
            getattr(config, "async_inference_config", None) if config is not None else None
        ) or {}
        if endpoint is not None and not async_config.get("OutputConfig", {}).get("S3OutputPath"):
            raise InvocationError(
                400,
                "ValidationError",
                f"Endpoint {name} of account {account} is not an asynchronous endpoint: its config "
                f"{endpoint.endpoint_config_name} has no AsyncInferenceConfig.",
            )
        server = self.realtime.serving(account, region, name)
        assert endpoint is not None  # serving() answers a missing endpoint with AWS's error
        input_location = environ.get("HTTP_X_AMZN_SAGEMAKER_INPUTLOCATION") or ""
        if not input_location:
            raise InvocationError(400, "ValidationError", "InputLocation is required for async invocations.")
        read_object(account, input_location)  # missing input fails now, as AWS checks it up front
        inference_id = environ.get("HTTP_X_AMZN_SAGEMAKER_INFERENCE_ID") or str(uuid.uuid4())
        output, failure = output_locations(async_config, inference_id)
        return (
            AsyncJob(
                inference_id=inference_id,
                input_location=input_location,
                output_location=output,
                failure_location=failure,
                timeout=_timeout(environ.get("HTTP_X_AMZN_SAGEMAKER_INVOCATIONTIMEOUTSECONDS")),
                endpoint_arn=endpoint.arn,
                concurrency=int(
                    (async_config.get("ClientConfig") or {}).get("MaxConcurrentInvocationsPerInstance")
                    or DEFAULT_CONCURRENCY
                ),
            ),
            server,
        )

    def _run(self, job: AsyncJob, server: ModelServer, account: str, environ: WSGIEnvironment) -> None:
        """Generate when a slot is free, then write exactly one of the output and the failure object."""
        try:
            payload = read_object(account, job.input_location)
            with self._slot(job):
                connection, response = self.realtime.request(server, environ, payload, job.timeout)
                try:
                    result = response.read()
                finally:
                    connection.close()
        except InvocationError as exc:
            self._fail(job, account, f"{exc.code}: {exc}")
        except Exception as exc:  # noqa: BLE001 - any failure must reach the failure object
            self._fail(job, account, f"InternalFailure: {exc!r}")
        else:
            write_object(account, job.output_location, result)
        finally:
            self.jobs.pop(job.inference_id, None)

    def _slot(self, job: AsyncJob) -> threading.BoundedSemaphore:
        """The endpoint's queue: one semaphore per endpoint, sized by its config."""
        with self._slots_lock:
            return self._slots.setdefault(job.endpoint_arn, threading.BoundedSemaphore(job.concurrency))

    @staticmethod
    def _fail(job: AsyncJob, account: str, message: str) -> None:
        log.warning("async inference %s failed: %s", job.inference_id, message)
        write_object(account, job.failure_location, message.encode())


def _timeout(raw: str | None) -> float:
    try:
        value = int(raw) if raw else 0
    except ValueError:
        value = 0
    return float(min(value, MAX_INVOCATION_TIMEOUT)) if value > 0 else ASYNC_INVOCATION_TIMEOUT


def _forwarded(environ: WSGIEnvironment) -> Iterable[tuple[str, str]]:
    """The headers `_request` forwards to the model server; the input object is the body.

    InvokeEndpointAsync names the content type in X-Amzn-SageMaker-Content-Type, since
    the HTTP body is empty.
    """
    content_type = environ.get("HTTP_X_AMZN_SAGEMAKER_CONTENT_TYPE") or "application/json"
    yield "CONTENT_TYPE", content_type
    for key in ("HTTP_X_AMZN_SAGEMAKER_ACCEPT", "HTTP_X_AMZN_SAGEMAKER_CUSTOM_ATTRIBUTES"):
        if environ.get(key):
            yield key, environ[key]
