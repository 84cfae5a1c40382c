"""The local SageMaker runtime: a real model server behind every TGI endpoint the emulator hosts.

moto stores endpoints but runs nothing, and neither moto nor LocalStack speaks
`InvokeEndpointWithResponseStream`. This module closes both gaps inside the emulator:

    CreateEndpoint / UpdateEndpoint   start `python -m llm_twin.model_server` for the variant's
                                      model on a free loopback port, with the model's container
                                      environment; the endpoint is Creating (or Updating) until
                                      the server's /ping answers, then InService. A server that
                                      dies makes the endpoint Failed, with a FailureReason.
    DeleteEndpoint                    stops the server.
    InvokeEndpoint[WithResponseStream]  answered by `RuntimeMiddleware`, a WSGI layer in front of
                                      moto that proxies to the server's /invocations; the stream
                                      is re-encoded as AWS event-stream `PayloadPart`s as it is
                                      produced, so boto3 decodes it exactly as it decodes AWS.
                                      An endpoint that is Updating keeps serving on its old server.
                                      Under LOCAL_AWS_ENFORCE_IAM the caller is authorized first,
                                      on the endpoint's ARN, by the checks of `authz`.

Only models whose container sets HF_MODEL_ID (a TGI container) get a server; any other
model stays the metadata moto keeps. HF_MODEL_ID is served from disk when it names a
directory; a Hub repo id is served by a stand-in, the tiny random test checkpoint, made
once under the emulator's state directory. The stand-in is logged and shown on the
endpoint's `DeployedImages` (see `STAND_IN_IMAGE`), which `llm-twin status` prints.

Debugging knobs, in the emulator's environment, so clients are tested against a bad day:

    LLM_TWIN_CHUNK_JITTER=1         (read when the emulator builds its app) cuts every payload
                                    part at random byte boundaries, the way real networks cut
                                    them; LLM_TWIN_CHUNK_JITTER_SEED picks the sequence.
    LLM_TWIN_THROTTLE_FIRST=N       (read per invocation) answers the first N invocations that
                                    reach a serving endpoint with ThrottlingException.
    LLM_TWIN_STALL_AFTER_PARTS=N    (read per invocation) goes silent after the Nth PayloadPart
                                    of every stream, for LLM_TWIN_STALL_SECONDS (default 600).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.sagemaker import models as sm_models
from moto.sagemaker import responses as sm_responses
from moto.sagemaker.exceptions import ValidationError as SageMakerValidationError

from llm_twin import eventstream
from llm_twin.local import authz

log = logging.getLogger(__name__)

STAND_IN_IMAGE = "llm-twin-model-server:stand-in-tiny"
"""`ResolvedImage` of a variant served by the stand-in model instead of its HF_MODEL_ID."""
STAND_IN_CONTEXT = 131072
"""The stand-in's context length: Llama 3.1's, so the book's token limits are accepted."""
DEFAULT_STARTUP_TIMEOUT = 600.0
PING_INTERVAL = 0.2
INVOKE_TIMEOUT = 60.0
"""SageMaker's own limit on one InvokeEndpoint call."""
STREAM_READ_TIMEOUT = 300.0
"""The longest silence between two parts of a stream before it is cut."""
STOP_GRACE = 5.0
JITTER_ENV = "LLM_TWIN_CHUNK_JITTER"
JITTER_SEED_ENV = "LLM_TWIN_CHUNK_JITTER_SEED"
THROTTLE_FIRST_ENV = "LLM_TWIN_THROTTLE_FIRST"
STALL_AFTER_PARTS_ENV = "LLM_TWIN_STALL_AFTER_PARTS"
STALL_SECONDS_ENV = "LLM_TWIN_STALL_SECONDS"
DEFAULT_STALL_SECONDS = 600.0
TGI_ENVIRONMENT = "HF_MODEL_ID"
EVENT_STREAM = "application/vnd.amazon.eventstream"

_INVOCATION_PATH = re.compile(r"^/endpoints/(?P<name>[^/]+)/(?P<kind>invocations(?:-response-stream)?)$")
_CREDENTIAL_SCOPE = re.compile(r"Credential=(?P<key>[^/,\s]+)/\d{8}/(?P<region>[^/]+)/(?P<service>[^/]+)/")
_STAND_IN_SCRIPT = (
    "import sys; from llm_twin.model_server.checkpoint import SIZES, create_test_checkpoint; "
    "s = SIZES['tiny']; create_test_checkpoint(sys.argv[1], hidden_size=s.hidden_size, layers=s.layers, "
    "vocab_size=s.vocab_size, heads=s.heads, intermediate_size=s.intermediate_size, "
    "max_position_embeddings=int(sys.argv[2]))"
)


# -- the model-server processes ---------------------------------------------------------------


@dataclass
class ModelServer:
    """One model-server process serving one production variant of one endpoint."""

    endpoint_name: str
    variant_name: str
    model_name: str
    model_dir: Path | None
    """None while the stand-in is still being made."""
    stand_in: bool
    log_path: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    ready: bool = False
    failure: str | None = None
    stopping: bool = False
    changed: threading.Condition = field(default_factory=threading.Condition)

    @property
    def host(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """Terminate, then kill after a grace period; safe to call twice."""
        self.stopping = True
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class LocalRuntime:
    """Every model server the emulator runs, keyed by endpoint ARN."""

    def __init__(self, state_dir: Path | None = None) -> None:
        if state_dir is None:
            state_dir = Path(tempfile.mkdtemp(prefix="llm-twin-runtime-"))
        self.dir = Path(state_dir) / "emulator" / "endpoints"
        self.stand_in_dir = Path(state_dir) / "emulator" / "stand-in-model"
        self.servers: dict[str, ModelServer] = {}
        self._lock = threading.Lock()
        self._stand_in_lock = threading.Lock()

    # -- lifecycle driven by the SageMaker API --------------------------------------------

    def create(self, backend: Any, endpoint: Any) -> None:
        """Start serving a new endpoint; it stays Creating until the server answers /ping."""
        variant = _first_variant(backend, endpoint.endpoint_config_name)
        container = _tgi_container(backend, variant)
        if container is None:
            return
        endpoint.endpoint_status = "Creating"
        server = self._launch(endpoint, variant, container)
        _show_image(endpoint, server, container)
        with self._lock:
            self.servers[endpoint.arn] = server

        def settle() -> None:
            if self._await_ready(server, variant):
                endpoint.endpoint_status = "InService"
                endpoint.last_modified_time = utcnow()
                self._watch(endpoint, server)
            elif not server.stopping:
                endpoint.endpoint_status = "Failed"
                endpoint.failure_reason = server.failure
                endpoint.last_modified_time = utcnow()

        threading.Thread(target=settle, name=f"endpoint-{endpoint.endpoint_name}", daemon=True).start()

    def update(self, backend: Any, endpoint: Any, config_name: str) -> None:
        """Switch to `config_name` once its server answers; on failure keep the old one, as AWS rolls back."""
        new_config = backend.endpoint_configs[config_name]
        variant = _first_variant(backend, config_name)
        container = _tgi_container(backend, variant)

        def switch(server: ModelServer | None) -> None:
            endpoint.endpoint_config_name = config_name
            endpoint.production_variants = endpoint._process_production_variants(
                new_config.production_variants
            )
            endpoint.failure_reason = None
            with self._lock:
                old = self.servers.pop(endpoint.arn, None)
                if server is not None:
                    self.servers[endpoint.arn] = server
            if old is not None:
                old.stop()
            if server is not None:
                _show_image(endpoint, server, container or {})
            endpoint.endpoint_status = "InService"
            endpoint.last_modified_time = utcnow()

        if container is None:
            switch(None)
            return
        endpoint.endpoint_status = "Updating"
        server = self._launch(endpoint, variant, container)

        def settle() -> None:
            if self._await_ready(server, variant):
                switch(server)
                self._watch(endpoint, server)
                return
            server.stop()
            current = self.server_for(endpoint.arn)
            endpoint.failure_reason = f"update to {config_name} rolled back: {server.failure}"
            endpoint.endpoint_status = "InService" if current is not None and current.alive() else "Failed"
            endpoint.last_modified_time = utcnow()

        threading.Thread(target=settle, name=f"endpoint-{endpoint.endpoint_name}", daemon=True).start()

    def delete(self, endpoint_arn: str) -> None:
        with self._lock:
            server = self.servers.pop(endpoint_arn, None)
        if server is not None:
            server.stop()

    def stop_all(self) -> None:
        """Stop every model server (the emulator is going away); no process is left behind."""
        with self._lock:
            servers = list(self.servers.values())
            self.servers.clear()
        for server in servers:
            server.stopping = True
            if server.alive():
                server.process.terminate()  # type: ignore[union-attr]
        for server in servers:
            server.stop()

    def server_for(self, endpoint_arn: str) -> ModelServer | None:
        with self._lock:
            return self.servers.get(endpoint_arn)

    # -- internals ----------------------------------------------------------------------------

    def _launch(self, endpoint: Any, variant: Mapping[str, Any], container: Mapping[str, Any]) -> ModelServer:
        environment = dict(container.get("Environment") or {})
        model_id = environment[TGI_ENVIRONMENT]
        on_disk = Path(model_id).expanduser()
        stand_in = not on_disk.is_dir()
        self.dir.mkdir(parents=True, exist_ok=True)
        server = ModelServer(
            endpoint_name=endpoint.endpoint_name,
            variant_name=variant["VariantName"],
            model_name=variant["ModelName"],
            model_dir=None if stand_in else on_disk,
            stand_in=stand_in,
            log_path=self.dir / f"{endpoint.endpoint_name}-{int(time.time() * 1000)}.log",
        )
        if stand_in:
            log.warning(
                "endpoint %s: HF_MODEL_ID %r is not a local directory; serving the tiny stand-in test "
                "model from %s instead",
                endpoint.endpoint_name,
                model_id,
                self.stand_in_dir,
            )
        threading.Thread(
            target=self._start,
            args=(server, environment),
            name=f"start-{endpoint.endpoint_name}",
            daemon=True,
        ).start()
        return server

    def _start(self, server: ModelServer, environment: dict[str, str]) -> None:
        try:
            if server.stand_in:
                server.model_dir = self._ensure_stand_in()
            if server.stopping:
                return
            from llm_twin.local.daemon import free_port

            server.port = free_port()
            env = {**os.environ, **environment}
            # Several servers share two cores with the emulator; one thread each is plenty for the tiny model.
            env.setdefault("OMP_NUM_THREADS", "1")
            env.pop("PORT", None)
            with open(server.log_path, "ab") as log_file:
                server.process = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "llm_twin.model_server",
                        "--model-dir",
                        str(server.model_dir),
                        "--port",
                        str(server.port),
                        "--model-id",
                        environment[TGI_ENVIRONMENT],
                    ],
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=env,
                )
            if server.stopping:
                server.stop()
        except (OSError, subprocess.SubprocessError) as exc:
            server.failure = f"the model server could not start: {exc}"
        with server.changed:
            server.changed.notify_all()

    def _ensure_stand_in(self) -> Path:
        """Make the stand-in checkpoint once; a half-written one is never used."""
        with self._stand_in_lock:
            if (self.stand_in_dir / "config.json").is_file():
                return self.stand_in_dir
            partial = self.stand_in_dir.with_name(self.stand_in_dir.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            result = subprocess.run(
                [sys.executable, "-c", _STAND_IN_SCRIPT, str(partial), str(STAND_IN_CONTEXT)],
                capture_output=True,
                stdin=subprocess.DEVNULL,
                timeout=300,
            )
            if result.returncode != 0:
                tail = result.stderr.decode(errors="replace").strip().splitlines()[-1:]
                raise OSError(f"making the stand-in model failed: {' '.join(tail)}")
            partial.rename(self.stand_in_dir)
            return self.stand_in_dir

    def _await_ready(self, server: ModelServer, variant: Mapping[str, Any]) -> bool:
        """True once /ping answers 200; False (with `failure` set) when it dies or times out."""
        timeout = float(variant.get("ContainerStartupHealthCheckTimeoutInSeconds") or DEFAULT_STARTUP_TIMEOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if server.stopping or server.failure:
                return False
            process = server.process
            if process is not None:
                if process.poll() is not None:
                    server.failure = _exit_reason(server, process.returncode)
                    return False
                if _pings(server.port):
                    server.ready = True
                    log.info(
                        "endpoint %s: model server on port %d is ready", server.endpoint_name, server.port
                    )
                    return True
            with server.changed:
                server.changed.wait(PING_INTERVAL)
        server.failure = (
            f"The primary container for production variant {server.variant_name} did not pass the ping "
            f"health check within {timeout:.0f}s. See {server.log_path}"
        )
        server.stop()
        server.stopping = False
        return False

    def _watch(self, endpoint: Any, server: ModelServer) -> None:
        """Block until the server exits; an exit nobody asked for fails the endpoint."""

        def wait() -> None:
            assert server.process is not None
            code = server.process.wait()
            if server.stopping:
                return
            server.failure = _exit_reason(server, code)
            log.warning("endpoint %s: %s", server.endpoint_name, server.failure)
            if self.server_for(endpoint.arn) is server:
                endpoint.endpoint_status = "Failed"
                endpoint.failure_reason = server.failure
                endpoint.last_modified_time = utcnow()

        threading.Thread(target=wait, name=f"watch-{endpoint.endpoint_name}", daemon=True).start()


def _exit_reason(server: ModelServer, code: int) -> str:
    return (
        f"The primary container for production variant {server.variant_name} exited with code {code}. "
        f"See {server.log_path}"
    )


def _pings(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=1) as reply:
            return reply.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _first_variant(backend: Any, config_name: str) -> dict[str, Any]:
    variants = backend.endpoint_configs[config_name].production_variants
    return variants[0] if variants else {}


def _tgi_container(backend: Any, variant: Mapping[str, Any]) -> dict[str, Any] | None:
    """The variant's primary container when it is a TGI one (HF_MODEL_ID set), else None."""
    model = backend._models.get(variant.get("ModelName"))
    if model is None:
        return None
    container = model.primary_container or {}
    if not (container.get("Environment") or {}).get(TGI_ENVIRONMENT):
        return None
    return container


def _show_image(endpoint: Any, server: ModelServer, container: Mapping[str, Any]) -> None:
    """Record what actually serves the variant where DescribeEndpoint shows it: DeployedImages."""
    resolved = STAND_IN_IMAGE if server.stand_in else f"llm-twin-model-server:{server.model_dir}"
    for variant in endpoint.production_variants:
        if variant.get("VariantName") == server.variant_name:
            variant["DeployedImages"] = [
                {
                    "SpecifiedImage": container.get("Image", ""),
                    "ResolvedImage": resolved,
                    "ResolutionTime": utcnow(),
                }
            ]


# -- moto hooks -----------------------------------------------------------------------------------


_INSTALLED: list[LocalRuntime] = []


def install(runtime: LocalRuntime) -> None:
    """Route moto's endpoint lifecycle through `runtime` (once per process; the first runtime wins)."""
    if _INSTALLED:
        return
    _INSTALLED.append(runtime)
    backend_cls = sm_models.SageMakerModelBackend
    create = backend_cls.create_endpoint
    delete = backend_cls.delete_endpoint

    def create_endpoint(self: Any, endpoint_name: str, endpoint_config_name: str, tags: Any) -> Any:
        endpoint = create(self, endpoint_name, endpoint_config_name, tags)
        runtime.create(self, endpoint)
        return endpoint

    def delete_endpoint(self: Any, endpoint_name: str) -> None:
        endpoint = self.endpoints.get(endpoint_name)
        delete(self, endpoint_name)
        if endpoint is not None:
            runtime.delete(endpoint.arn)

    def update_endpoint(self: Any) -> ActionResult:
        backend = self.sagemaker_backend
        name = self._get_param("EndpointName")
        config_name = self._get_param("EndpointConfigName")
        endpoint = backend.endpoints.get(name)
        if endpoint is None:
            arn = sm_models.FakeEndpoint.arn_formatter(name, backend.account_id, backend.region_name)
            raise SageMakerValidationError(message=f"Could not find endpoint '{arn}'.")
        backend.describe_endpoint_config(config_name)  # raises AWS's error for an unknown config
        if endpoint.endpoint_status not in ("InService", "Failed"):
            raise SageMakerValidationError(
                message=f"Cannot update in-progress endpoint '{endpoint.arn}' (status {endpoint.endpoint_status})."
            )
        runtime.update(backend, endpoint, config_name)
        return ActionResult({"EndpointArn": endpoint.arn})

    backend_cls.create_endpoint = create_endpoint
    backend_cls.delete_endpoint = delete_endpoint
    sm_responses.SageMakerResponse.update_endpoint = update_endpoint


# -- the runtime API (WSGI) ----------------------------------------------------------------------


@dataclass(frozen=True)
class Jitter:
    """Cuts parts at random byte boundaries, reproducibly for one seed."""

    seed: int

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Jitter | None:
        if environ.get(JITTER_ENV, "").strip().lower() not in ("1", "true", "yes", "on"):
            return None
        return cls(int(environ.get(JITTER_SEED_ENV) or "0"))

    def cutter(self) -> Callable[[bytes], Iterator[bytes]]:
        rng = random.Random(self.seed)

        def cut(data: bytes) -> Iterator[bytes]:
            start = 0
            while start < len(data):
                size = rng.randint(1, max(1, min(len(data) - start, 16)))
                yield data[start : start + size]
                start += size

        return cut


@dataclass(frozen=True)
class Faults:
    """Failures the runtime injects on purpose; none unless the environment asks."""

    throttle_first: int = 0
    """Answer this many invocations, the first ones, with ThrottlingException."""
    stall_after_parts: int | None = None
    """Go silent after this many PayloadParts of every stream; None never stalls."""
    stall_seconds: float = DEFAULT_STALL_SECONDS
    """How long a stall lasts before the stream goes on."""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Faults:
        stall_seconds = _number(environ, STALL_SECONDS_ENV, float)
        return cls(
            throttle_first=_number(environ, THROTTLE_FIRST_ENV, int) or 0,
            stall_after_parts=_number(environ, STALL_AFTER_PARTS_ENV, int),
            stall_seconds=DEFAULT_STALL_SECONDS if stall_seconds is None else stall_seconds,
        )


def _number(environ: Mapping[str, str], name: str, kind: Callable[[str], Any]) -> Any:
    """A non-negative number from the environment; unset or invalid (logged) is None."""
    raw = environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = kind(raw)
    except ValueError:
        value = -1
    if value < 0:
        log.warning("ignoring %s=%r: not a non-negative number", name, raw)
        return None
    return value


class InvocationError(Exception):
    """An AWS error answer: HTTP status, error code, message and extra body fields."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.extra = extra

    def respond(self, start_response: Callable[..., Any]) -> list[bytes]:
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


class RuntimeMiddleware:
    """Answers sagemaker-runtime invocations; everything else goes to moto's app."""

    def __init__(self, app: Callable[..., Any], runtime: LocalRuntime, jitter: Jitter | None = None) -> None:
        self.app = app
        self.runtime = runtime
        self.jitter = jitter
        self._throttled = 0
        self._throttle_lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        match = _INVOCATION_PATH.match(environ.get("PATH_INFO", ""))
        scope = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if (
            environ.get("REQUEST_METHOD") != "POST"
            or match is None
            or scope is None
            or scope["service"] != "sagemaker"
        ):
            return self.app(environ, start_response)
        from moto.iam.models import get_account_id_from

        name = unquote(match["name"])
        account = get_account_id_from(scope["key"])
        body = _read_body(environ)
        faults = Faults.from_environ(os.environ)
        try:
            if authz.enabled():
                check = authz.invocation_check(account, scope["region"], name, match["kind"])
                self._authorize(environ, account, body, check)
            server = self._serving(account, scope["region"], name)
            self._throttle(faults)
            if match["kind"] == "invocations":
                return self._invoke(server, environ, body, start_response)
            return self._stream(server, environ, body, start_response, faults)
        except InvocationError as exc:
            return exc.respond(start_response)

    def _authorize(self, environ: Mapping[str, Any], account: str, body: bytes, check: authz.Check) -> None:
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
                headers=EnvironHeaders(environ),
            )
        except JsonRESTError as exc:
            raise InvocationError(exc.code, exc.error_type, exc.message) from exc

    def _throttle(self, faults: Faults) -> None:
        with self._throttle_lock:
            if self._throttled >= faults.throttle_first:
                return
            self._throttled += 1
            count = self._throttled
        raise InvocationError(
            400,
            "ThrottlingException",
            f"Rate exceeded ({THROTTLE_FIRST_ENV}={faults.throttle_first}: invocation {count} is throttled "
            "on purpose).",
        )

    def _serving(self, account: str, region: str, name: str) -> ModelServer:
        backend = sm_models.sagemaker_backends[account][region]
        endpoint = backend.endpoints.get(name)
        if endpoint is None:
            raise InvocationError(400, "ValidationError", f"Endpoint {name} of account {account} not found.")
        server = self.runtime.server_for(endpoint.arn)
        # AWS keeps serving on the old variant while an update's new one starts.
        serving_old = endpoint.endpoint_status == "Updating" and server is not None and server.ready
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
                f"Endpoint {name} has no running container: the local emulator runs only TGI models "
                f"(a container environment with {TGI_ENVIRONMENT}).",
            )
        return server

    def _request(
        self, server: ModelServer, environ: Mapping[str, Any], body: bytes, timeout: float
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
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

    def _variant_headers(self, server: ModelServer, content_type: str) -> list[tuple[str, str]]:
        return [("X-Amzn-Invoked-Production-Variant", server.variant_name), ("Content-Type", content_type)]

    def _invoke(
        self, server: ModelServer, environ: Mapping[str, Any], body: bytes, start_response: Callable[..., Any]
    ) -> list[bytes]:
        connection, response = self._request(server, environ, body, INVOKE_TIMEOUT)
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
        environ: Mapping[str, Any],
        body: bytes,
        start_response: Callable[..., Any],
        faults: Faults,
    ) -> Iterator[bytes]:
        connection, response = self._request(server, environ, body, STREAM_READ_TIMEOUT)
        headers = self._variant_headers(server, EVENT_STREAM)
        headers.append(("X-Amzn-SageMaker-Content-Type", response.getheader("Content-Type") or ""))
        start_response("200 OK", headers)
        parts = self._relay(server, connection, response)
        if faults.stall_after_parts is None:
            return parts
        return _stalled(parts, faults.stall_after_parts, faults.stall_seconds, server)

    def _relay(
        self, server: ModelServer, connection: http.client.HTTPConnection, response: http.client.HTTPResponse
    ) -> Generator[bytes, None, None]:
        cut = self.jitter.cutter() if self.jitter else None
        try:
            while True:
                try:
                    data = response.read1(65536)
                except TimeoutError:
                    yield eventstream.model_stream_error(
                        f"The model produced no output for {STREAM_READ_TIMEOUT:.0f}s.",
                        "ModelInvocationTimeExceeded",
                    )
                    return
                except (OSError, http.client.HTTPException) as exc:
                    if _gone(server):
                        yield eventstream.internal_stream_failure(
                            f"The model container of variant {server.variant_name} went away mid-stream."
                        )
                    else:
                        yield eventstream.model_stream_error(
                            f"Reading the model's stream failed: {exc!r}", "ModelError"
                        )
                    return
                if not data:
                    return
                if cut is None:
                    yield eventstream.payload_part(data)
                else:
                    for piece in cut(data):
                        yield eventstream.payload_part(piece)
        finally:
            with contextlib.suppress(OSError):
                connection.close()


def _stalled(
    parts: Generator[bytes, None, None], after: int, seconds: float, server: ModelServer
) -> Iterator[bytes]:
    """`parts`, with a silence of `seconds` once `after` of them went out."""
    try:
        for sent, part in enumerate(parts, start=1):
            yield part
            if sent == after:
                log.warning(
                    "endpoint %s: stalling the stream for %.0fs after %d parts (%s)",
                    server.endpoint_name,
                    seconds,
                    after,
                    STALL_AFTER_PARTS_ENV,
                )
                time.sleep(seconds)
    finally:
        parts.close()


def _request_uri(environ: Mapping[str, Any]) -> str:
    """The path and query as the client signed them (the server's raw one when it keeps it)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return raw
    query = environ.get("QUERY_STRING")
    return quote(environ.get("PATH_INFO", "")) + (f"?{query}" if query else "")


def _gone(server: ModelServer) -> bool:
    """True when the server process has exited; its socket closes a moment before it is reaped."""
    process = server.process
    if process is None:
        return True
    try:
        process.wait(1.0)
    except subprocess.TimeoutExpired:
        return False
    return True


def _read_body(environ: Mapping[str, Any]) -> bytes:
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    if length:
        return stream.read(int(length))
    return stream.read()
