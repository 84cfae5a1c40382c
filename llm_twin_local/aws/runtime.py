"""The local SageMaker runtime: a real model server behind every TGI endpoint the emulator hosts.

moto stores endpoints but runs nothing, and neither moto nor LocalStack speaks
`InvokeEndpointWithResponseStream`. This module closes both gaps inside the emulator:

    CreateEndpoint / UpdateEndpoint   start `python -m llm_twin_local.model_server` for the variant's
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
                                      With a blue/green DeploymentConfig, a new server that answers
                                      takes the traffic and bakes for WaitIntervalInSeconds (capped
                                      by LLM_TWIN_BAKE_CAP_SECONDS, default 5); a rollback alarm in
                                      ALARM meanwhile sends traffic back to the old server
                                      (RollingBack, then InService with a FailureReason naming it).
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
                                    of every stream, for LLM_TWIN_STALL_SECONDS (default 600) or
                                    until the model server dies, whichever comes first.
    LLM_TWIN_FAULT=KIND[@N]         (read per invocation) one fault in every stream; a request's
                                    CustomAttributes `llm-twin-fault=KIND[@N]` (or `=none`) replaces
                                    it and the stall, so one emulator serves every kind. Re-cuts, the
                                    events unchanged: split_lines (every line across two parts),
                                    split_utf8 (every multi-byte character across two parts),
                                    coalesce (the whole stream in one part), no_final_newline (the
                                    stream ends right after the last JSON). Breaks, after the Nth
                                    PayloadPart (default 1): model_stream_error,
                                    internal_stream_failure, tgi_error (TGI's own error event, then
                                    the end), reset (a TCP reset of the client's connection),
                                    truncate (a clean end of the stream, mid-generation).
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
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, unquote

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.sagemaker import models as sm_models
from moto.sagemaker import responses as sm_responses
from moto.sagemaker.exceptions import ValidationError as SageMakerValidationError

from llm_twin.protocol import eventstream
from llm_twin_local.aws import authz, model_data, patches, reaper

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
BAKE_CAP_ENV = "LLM_TWIN_BAKE_CAP_SECONDS"
DEFAULT_BAKE_CAP_SECONDS = 5.0
FAULT_ENV = "LLM_TWIN_FAULT"
FAULT_ATTRIBUTE = "llm-twin-fault"
"""The CustomAttributes key that picks one invocation's stream fault, over LLM_TWIN_FAULT."""
RESET_GRACE_SECONDS = 0.5
"""How long a `reset` waits before the reset, so the client has read the parts before it."""
TGI_ENVIRONMENT = "HF_MODEL_ID"
EVENT_STREAM = "application/vnd.amazon.eventstream"

_INVOCATION_PATH = re.compile(r"^/endpoints/(?P<name>[^/]+)/(?P<kind>invocations(?:-response-stream)?)$")
_CREDENTIAL_SCOPE = re.compile(r"Credential=(?P<key>[^/,\s]+)/\d{8}/(?P<region>[^/]+)/(?P<service>[^/]+)/")
_STAND_IN_SCRIPT = (
    "import sys; from llm_twin_local.model_server.checkpoint import SIZES, create_test_checkpoint; "
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
    model_data_uri: str | None = None
    """The container's ModelDataSource S3 prefix; downloaded from the emulator's S3 before the start."""
    account_id: str = ""
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
        self.model_cache_dir = Path(state_dir) / "emulator" / "model-cache"
        self.registry = reaper.Registry.for_state_dir(Path(state_dir))
        self._model_cache_lock = threading.Lock()

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
                fired = self._bake(backend, endpoint, server)
                if fired is None:
                    switch(server)
                    self._watch(endpoint, server)
                    return
                server.failure = f"alarm {fired} went to ALARM while the new fleet was baking"
            # AWS shows RollingBack while the new fleet goes; the old one never stopped serving.
            endpoint.endpoint_status = "RollingBack"
            server.stop()
            current = self.server_for(endpoint.arn)
            endpoint.failure_reason = (
                f"update to {config_name} rolled back{_rollout_phrase(endpoint)}: {server.failure}"
            )
            endpoint.endpoint_status = "InService" if current is not None and current.alive() else "Failed"
            endpoint.last_modified_time = utcnow()

        threading.Thread(target=settle, name=f"endpoint-{endpoint.endpoint_name}", daemon=True).start()

    def _bake(self, backend: Any, endpoint: Any, server: ModelServer) -> str | None:
        """Blue/green baking: traffic goes to the new server while the rollback alarms are watched.

        Returns the first rollback alarm found in ALARM (the old server is serving again by then),
        or None once the wait is over. Canary and linear shifts are baked as one step here, for
        WaitIntervalInSeconds capped at LLM_TWIN_BAKE_CAP_SECONDS, so local updates stay quick.
        """
        routing, alarms = _blue_green(endpoint)
        seconds = min(float(routing.get("WaitIntervalInSeconds") or 0), _bake_cap(os.environ))
        if not routing or seconds <= 0:
            return None
        with self._lock:
            previous = self.servers.get(endpoint.arn)
            self.servers[endpoint.arn] = server
        deadline = time.monotonic() + seconds
        fired = None
        while fired is None and time.monotonic() < deadline:
            fired = next((name for name in alarms if _alarm_state(backend, name) == "ALARM"), None)
            if fired is None:
                time.sleep(PING_INTERVAL)
        with self._lock:  # switch() takes the old server from here, and a rollback keeps it
            if previous is not None:
                self.servers[endpoint.arn] = previous
            else:
                self.servers.pop(endpoint.arn, None)
        if fired is not None:
            log.warning("endpoint %s: rolling back, %s is in ALARM", endpoint.endpoint_name, fired)
        return fired

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
        model_data_uri = _model_data_uri(container)
        stand_in = model_data_uri is None and not on_disk.is_dir()
        self.dir.mkdir(parents=True, exist_ok=True)
        server = ModelServer(
            endpoint_name=endpoint.endpoint_name,
            variant_name=variant["VariantName"],
            model_name=variant["ModelName"],
            model_dir=None if stand_in or model_data_uri else on_disk,
            stand_in=stand_in,
            log_path=self.dir / f"{endpoint.endpoint_name}-{int(time.time() * 1000)}.log",
            model_data_uri=model_data_uri,
            account_id=endpoint.arn.split(":")[4],
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
            elif server.model_data_uri:
                server.model_dir = self._fetch_model_data(server.account_id, server.model_data_uri)
            if server.model_dir is not None and not server.stand_in:
                server.model_dir = self._as_safetensors(server.model_dir)
            if server.stopping:
                return
            from llm_twin_local.aws.daemon import free_port

            server.port = free_port()
            env = {**os.environ, **environment}
            # Several servers share two cores with the emulator; one thread each is plenty for the tiny model.
            env.setdefault("OMP_NUM_THREADS", "1")
            env.pop("PORT", None)
            with open(server.log_path, "ab") as log_file:
                server.process = reaper.spawn(
                    [
                        sys.executable,
                        "-m",
                        reaper.MODEL_SERVER_MODULE,
                        "--model-dir",
                        str(server.model_dir),
                        "--port",
                        str(server.port),
                        "--model-id",
                        environment[TGI_ENVIRONMENT],
                    ],
                    registry=self.registry,
                    port=server.port,
                    stdout=log_file,
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
            _run_helper(
                [sys.executable, "-c", _STAND_IN_SCRIPT, str(partial), str(STAND_IN_CONTEXT)],
                timeout=300,
                failure="making the stand-in model failed",
            )
            partial.rename(self.stand_in_dir)
            return self.stand_in_dir

    def _fetch_model_data(self, account_id: str, uri: str) -> Path:
        """Download an S3 prefix from the emulator's own S3, as SageMaker fills /opt/ml/model."""
        objects = model_data.prefix_objects(account_id, uri)
        with self._model_cache_lock:
            return model_data.download(uri, objects, self.model_cache_dir)

    def _as_safetensors(self, model_dir: Path) -> Path:
        """`model_dir`, or a safetensors copy of it when it holds only pickle weights, as TGI converts at boot."""
        from llm_twin.protocol.checkpoints import checkpoint_paths, weight_format_of

        if not any(weight_format_of(p) == "pickle" for p in checkpoint_paths(model_dir)):
            return model_dir
        target = self.model_cache_dir / f"converted-{int(time.time() * 1000)}"
        _run_helper(
            [sys.executable, "-m", "llm_twin.control.models.convert", str(model_dir), str(target)],
            timeout=1800,
            failure=f"converting the pickle weights in {model_dir} failed",
        )
        return target

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


def _blue_green(endpoint: Any) -> tuple[dict[str, Any], list[str]]:
    """The update's traffic routing ({} without blue/green) and its rollback alarm names."""
    config = patches.last_deployment_config(endpoint) or {}
    routing = (config.get("BlueGreenUpdatePolicy") or {}).get("TrafficRoutingConfiguration") or {}
    rollback = (config.get("AutoRollbackConfiguration") or {}).get("Alarms", [])
    return routing, [a["AlarmName"] for a in rollback if a.get("AlarmName")]


def _alarm_state(backend: Any, name: str) -> str | None:
    """A CloudWatch alarm's state in the endpoint's account and region; None when it does not exist."""
    from moto.cloudwatch.models import cloudwatch_backends

    alarm = cloudwatch_backends[backend.account_id][backend.region_name].alarms.get(name)
    return alarm.state_value if alarm is not None else None


def _bake_cap(environ: Mapping[str, str]) -> float:
    cap = _number(environ, BAKE_CAP_ENV, float)
    return DEFAULT_BAKE_CAP_SECONDS if cap is None else cap


def _rollout_phrase(endpoint: Any) -> str:
    """How the update was rolled out, from its DeploymentConfig, for the FailureReason."""
    config = patches.last_deployment_config(endpoint) or {}
    routing = (config.get("BlueGreenUpdatePolicy") or {}).get("TrafficRoutingConfiguration") or {}
    alarms = [
        a.get("AlarmName", "") for a in (config.get("AutoRollbackConfiguration") or {}).get("Alarms", [])
    ]
    if not routing:
        return ""
    watched = f"; rollback alarms: {', '.join(alarms)}" if alarms else ""
    return f" (blue/green {routing.get('Type', 'ALL_AT_ONCE')}{watched})"


def _model_data_uri(container: Mapping[str, Any]) -> str | None:
    """The uncompressed S3 prefix of `ModelDataSource` (CompressionType None), or None."""
    source = (container.get("ModelDataSource") or {}).get("S3DataSource") or {}
    uri = source.get("S3Uri") or ""
    return uri if uri.startswith("s3://") else None


def _run_helper(args: list[str], *, timeout: float, failure: str) -> None:
    """Run a Python helper process (stand-in model, `.bin` conversion); OSError with its last stderr line."""
    result = subprocess.run(args, capture_output=True, stdin=subprocess.DEVNULL, timeout=timeout)
    if result.returncode != 0:
        tail = result.stderr.decode(errors="replace").strip().splitlines()[-1:]
        raise OSError(f"{failure}: {' '.join(tail)}")


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
    source = server.model_data_uri or server.model_dir
    resolved = STAND_IN_IMAGE if server.stand_in else f"llm-twin-model-server:{source}"
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
        if endpoint.endpoint_status == "Failed":
            # AWS: "DeleteEndpoint is the only operation that can be performed on a failed
            # endpoint" (botocore's EndpointStatus); `llm-twin apply` replaces one instead.
            raise SageMakerValidationError(
                message=f"Cannot update endpoint '{endpoint.arn}' in status Failed: it can only be deleted."
            )
        if endpoint.endpoint_status != "InService":
            raise SageMakerValidationError(
                message=f"Cannot update in-progress endpoint '{endpoint.arn}' (status {endpoint.endpoint_status})."
            )
        patches.record_deployment_config(endpoint, self._get_param("DeploymentConfig"))
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
    stream_fault: StreamFault | None = None
    """The fault every stream gets (LLM_TWIN_FAULT), unless its request names another."""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Faults:
        stall_seconds = _number(environ, STALL_SECONDS_ENV, float)
        return cls(
            throttle_first=_number(environ, THROTTLE_FIRST_ENV, int) or 0,
            stall_after_parts=_number(environ, STALL_AFTER_PARTS_ENV, int),
            stall_seconds=DEFAULT_STALL_SECONDS if stall_seconds is None else stall_seconds,
            stream_fault=StreamFault.parse(environ.get(FAULT_ENV, ""), FAULT_ENV),
        )

    def for_request(self, custom_attributes: str | None) -> Faults:
        """These faults, or, when the request has an `llm-twin-fault` attribute, its stream fault instead.

        The attribute replaces both stream knobs of the environment (LLM_TWIN_FAULT and the
        stall), so one emulator serves clean, stalled and broken streams side by side.
        """
        for item in re.split(r"[;,]", custom_attributes or ""):
            key, equals, value = item.partition("=")
            if equals and key.strip() == FAULT_ATTRIBUTE:
                fault = StreamFault.parse(value, f"CustomAttributes {FAULT_ATTRIBUTE}")
                return replace(self, stream_fault=fault, stall_after_parts=None)
        return self


RESHAPING_FAULTS = ("split_lines", "split_utf8", "coalesce", "no_final_newline")
"""Faults that only move the cuts between parts: the client must parse the very same events."""
BREAKING_FAULTS = ("model_stream_error", "internal_stream_failure", "tgi_error", "reset", "truncate")
"""Faults that end the stream after some PayloadParts: the client must fail, keeping the text so far."""


@dataclass(frozen=True)
class StreamFault:
    """One injected stream fault, written `kind` or `kind@N`."""

    kind: str
    """One of RESHAPING_FAULTS or BREAKING_FAULTS."""
    after_parts: int = 1
    """A breaking fault strikes after this many PayloadParts; a shorter stream ends cleanly."""

    @classmethod
    def parse(cls, spec: str, source: str) -> StreamFault | None:
        """None for an empty spec or `none`; an invalid one is logged and ignored, like the other knobs."""
        spec = spec.strip()
        if spec in ("", "none"):
            return None
        kind, at, count = spec.partition("@")
        after = int(count) if count.strip().isdigit() else 0
        if (kind in RESHAPING_FAULTS and not at) or (kind in BREAKING_FAULTS and (not at or after >= 1)):
            return cls(kind, after if at else 1)
        log.warning(
            "ignoring %s=%r: expected one of %s, or one of %s with an optional @N (N >= 1)",
            source,
            spec,
            ", ".join(RESHAPING_FAULTS),
            ", ".join(BREAKING_FAULTS),
        )
        return None


class Reshaper:
    """Cuts a stream's bytes into PayloadParts; only where the cuts fall changes, never the bytes.

    Except for `no_final_newline`, which drops the line breaks that end the stream.
    """

    def __init__(
        self,
        cut: Callable[[bytes], Iterable[bytes]] | None = None,
        hold: Literal["", "all", "newlines"] = "",
    ) -> None:
        self.cut = cut
        # "all" sends everything as one part at the end; "newlines" holds trailing line breaks back.
        self.hold = hold
        self._held: list[bytes] = []

    @classmethod
    def for_stream(cls, fault: StreamFault | None, jitter: Jitter | None) -> Reshaper:
        kind = fault.kind if fault is not None else None
        if kind == "split_lines":
            return cls(_cut_every_line)
        if kind == "split_utf8":
            return cls(_cut_every_character)
        if kind == "coalesce":
            return cls(hold="all")
        if kind == "no_final_newline":
            return cls(hold="newlines")
        return cls(jitter.cutter() if jitter else None)

    def feed(self, data: bytes) -> Iterable[bytes]:
        self._held.append(data)
        if self.hold == "all":
            return ()
        data = b"".join(self._held)
        self._held.clear()
        if self.hold == "newlines":
            body = data.rstrip(b"\r\n")
            if len(body) < len(data):
                self._held.append(data[len(body) :])
            data = body
        if not data:
            return ()
        return (data,) if self.cut is None else self.cut(data)

    def end(self) -> Iterable[bytes]:
        """What is still held when the stream ends (held line breaks are dropped)."""
        held = b"".join(self._held)
        self._held.clear()
        return (held,) if held and self.hold == "all" else ()


def _cut_every_line(data: bytes) -> list[bytes]:
    """Each line of `data` in two pieces, cut at its middle."""
    pieces = []
    start = 0
    while start < len(data):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end + 1
        middle = (start + end) // 2
        pieces += [data[start:middle], data[middle:end]]
        start = end
    return [piece for piece in pieces if piece]


def _cut_every_character(data: bytes) -> list[bytes]:
    """`data` cut right after the first byte of every multi-byte UTF-8 character."""
    cuts = [i + 1 for i, byte in enumerate(data) if byte >= 0xC0 and i + 1 < len(data)]
    return [data[start:end] for start, end in zip([0, *cuts], [*cuts, len(data)], strict=True)]


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


@dataclass(frozen=True)
class RuntimeCall:
    """A SigV4-signed sagemaker-runtime POST: the endpoint, the route, the caller's account."""

    name: str
    kind: str
    account: str
    region: str


def runtime_call(environ: Mapping[str, Any], path: re.Pattern[str]) -> RuntimeCall | None:
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


class RuntimeMiddleware:
    """Answers sagemaker-runtime invocations; everything else goes to moto's app."""

    def __init__(self, app: Callable[..., Any], runtime: LocalRuntime, jitter: Jitter | None = None) -> None:
        self.app = app
        self.runtime = runtime
        self.jitter = jitter
        self._throttled = 0
        self._throttle_lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        call = runtime_call(environ, _INVOCATION_PATH)
        if call is None:
            return self.app(environ, start_response)
        name, account = call.name, call.account
        body = _read_body(environ)
        custom_attributes = environ.get("HTTP_X_AMZN_SAGEMAKER_CUSTOM_ATTRIBUTES")
        faults = Faults.from_environ(os.environ).for_request(custom_attributes)
        try:
            if authz.enabled():
                check = authz.invocation_check(account, call.region, name, call.kind)
                self._authorize(environ, account, body, check)
            server = self._serving(account, call.region, name)
            self._throttle(faults)
            if call.kind == "invocations":
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
        fault = faults.stream_fault
        parts = self._relay(server, connection, response, Reshaper.for_stream(fault, self.jitter))
        if fault is not None and fault.kind in BREAKING_FAULTS:
            parts = _broken(parts, fault, server, environ)
        if faults.stall_after_parts is None:
            return parts
        return _stalled(parts, faults.stall_after_parts, faults.stall_seconds, server)

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
                    if _gone(server):
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


def _broken(
    parts: Generator[bytes, None, None], fault: StreamFault, server: ModelServer, environ: Mapping[str, Any]
) -> Iterator[bytes]:
    """`parts`, ended by `fault` once `fault.after_parts` of them went out."""
    try:
        for sent, part in enumerate(parts, start=1):
            yield part
            if sent < fault.after_parts:
                continue
            log.warning(
                "endpoint %s: breaking the stream with %s after %d parts (%s)",
                server.endpoint_name,
                fault.kind,
                sent,
                FAULT_ENV,
            )
            injected = f"injected by {FAULT_ENV}={fault.kind}@{fault.after_parts}"
            if fault.kind == "model_stream_error":
                yield eventstream.model_stream_error(f"The model stream broke ({injected}).", "StreamBroken")
            elif fault.kind == "internal_stream_failure":
                yield eventstream.internal_stream_failure(f"Internal stream failure ({injected}).")
            elif fault.kind == "tgi_error":
                error = {
                    "error": f"Request failed during generation ({injected})",
                    "error_type": "incomplete_generation",
                }
                compact = json.dumps(error, separators=(",", ":"))
                yield eventstream.payload_part(f"data:{compact}\n\n".encode())
            elif fault.kind == "reset":
                time.sleep(RESET_GRACE_SECONDS)
                _reset(environ)
            # "truncate" ends the stream here, as cleanly as a finished one.
            return
    finally:
        parts.close()


def _reset(environ: Mapping[str, Any]) -> None:
    """Reset the client's TCP connection (RST, not FIN), as a failing network does.

    A socket whose peer is already gone takes over the connection's descriptor: the
    connection's last reference closes with a zero linger, which sends the reset, and the
    server's own later writes fail as they do for any dropped client (quietly), without
    touching a descriptor that another thread may have opened since.
    """
    connection = environ["werkzeug.socket"]
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    stand_in, peer = socket.socketpair()
    peer.close()
    with stand_in:
        os.dup2(stand_in.fileno(), connection.fileno())


def _stalled(
    parts: Generator[bytes, None, None], after: int, seconds: float, server: ModelServer
) -> Iterator[bytes]:
    """`parts`, with a silence of `seconds` once `after` of them went out.

    A model server that dies meanwhile ends the silence: its death, not the stall, is
    what the client must then hear about, at once.
    """
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
                if server.process is None:
                    time.sleep(seconds)
                else:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        server.process.wait(seconds)
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
