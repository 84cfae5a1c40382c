"""`LocalRuntime`: an endpoint's model servers through CreateEndpoint, UpdateEndpoint and DeleteEndpoint.

Statuses follow AWS: Creating (or Updating) until the new server answers /ping, then
InService; Failed, with a FailureReason, when a server cannot start or dies. An update
that cannot start its server, or whose blue/green bake sees a rollback alarm, goes
RollingBack and back to InService on the old server, which never stopped serving.
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moto.core.utils import utcnow

from llm_twin_local.aws.runtime import hub, memory, reaper, servers
from llm_twin_local.aws.runtime.choice import SAGEMAKER_MODEL_DIR, VLLM_MODEL_ENV, api_of, choose
from llm_twin_local.aws.runtime.rollout import Rollout, alarm_state
from llm_twin_local.aws.runtime.servers import ModelServer
from llm_twin_local.aws.runtime.sources import ModelSources, model_data_uri, resolved_image

if TYPE_CHECKING:
    from moto.sagemaker.models import FakeEndpoint, SageMakerModelBackend

log = logging.getLogger(__name__)


class LocalRuntime:
    """Every model server the emulator runs, keyed by endpoint ARN."""

    def __init__(self, state_dir: Path | None = None) -> None:
        if state_dir is None:
            state_dir = Path(tempfile.mkdtemp(prefix="llm-twin-runtime-"))
        self.dir = Path(state_dir) / "emulator" / "endpoints"
        self.sources = ModelSources(Path(state_dir))
        self.servers: dict[str, ModelServer] = {}
        self.launched: dict[str, ModelServer] = {}
        """The newest server started for each endpoint name (serving, or still starting)."""
        self._lock = threading.Lock()
        self.registry = reaper.Registry.for_state_dir(Path(state_dir))

    # -- lifecycle driven by the SageMaker API --------------------------------------------

    def create(self, backend: SageMakerModelBackend, endpoint: FakeEndpoint) -> None:
        """Start serving a new endpoint; it stays Creating until the server answers /ping."""
        variant = _first_variant(backend, endpoint.endpoint_config_name)
        container = _served_container(backend, variant)
        if container is None:
            return
        endpoint.endpoint_status = "Creating"
        server = self._launch(endpoint, variant, container)
        _show_image(endpoint, server, container)
        with self._lock:
            self.servers[endpoint.arn] = server

        def settle() -> None:
            ready = servers.await_ready(server, _startup_timeout(variant))
            _show_image(endpoint, server, container)  # a Hub model's commit, or the stand-in, is known now
            if ready:
                endpoint.endpoint_status = "InService"
                endpoint.last_modified_time = utcnow()
                self._watch(endpoint, server)
            elif not server.stopping:
                endpoint.endpoint_status = "Failed"
                _set_failure(endpoint, server.failure)
                endpoint.last_modified_time = utcnow()

        threading.Thread(target=settle, name=f"endpoint-{endpoint.endpoint_name}", daemon=True).start()

    def update(self, backend: SageMakerModelBackend, endpoint: FakeEndpoint, config_name: str) -> None:
        """Switch to `config_name` once its server answers; on failure keep the old one, as AWS rolls back."""
        new_config = backend.endpoint_configs[config_name]
        variant = _first_variant(backend, config_name)
        container = _served_container(backend, variant)

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
            if servers.await_ready(server, _startup_timeout(variant)):
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
            _set_failure(
                endpoint,
                f"update to {config_name} rolled back{Rollout.of(endpoint).phrase()}: {server.failure}",
            )
            endpoint.endpoint_status = "InService" if current is not None and current.alive() else "Failed"
            endpoint.last_modified_time = utcnow()

        threading.Thread(target=settle, name=f"endpoint-{endpoint.endpoint_name}", daemon=True).start()

    def _bake(
        self, backend: SageMakerModelBackend, endpoint: FakeEndpoint, server: ModelServer
    ) -> str | None:
        """Blue/green baking: traffic goes to the new server while the rollback alarms are watched.

        Returns the first rollback alarm found in ALARM (the old server is serving again by then),
        or None once the wait is over (at once without blue/green).
        """
        rollout = Rollout.of(endpoint)
        seconds = rollout.bake_seconds(os.environ)
        if seconds <= 0:
            return None
        with self._lock:
            previous = self.servers.get(endpoint.arn)
            self.servers[endpoint.arn] = server
        deadline = time.monotonic() + seconds
        fired = None
        while fired is None and time.monotonic() < deadline:
            fired = next((name for name in rollout.alarms if alarm_state(backend, name) == "ALARM"), None)
            if fired is None:
                time.sleep(servers.PING_INTERVAL)
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
            running = list(self.servers.values())
            self.servers.clear()
        for server in running:
            server.stopping = True
            if server.process is not None and server.alive():
                server.process.terminate()
        for server in running:
            server.stop()

    def server_for(self, endpoint_arn: str) -> ModelServer | None:
        with self._lock:
            return self.servers.get(endpoint_arn)

    def latest(self, endpoint_name: str) -> ModelServer | None:
        """The newest server started for `endpoint_name`, for the progress route."""
        with self._lock:
            return self.launched.get(endpoint_name)

    # -- internals ----------------------------------------------------------------------------

    def _launch(
        self, endpoint: FakeEndpoint, variant: Mapping[str, Any], container: Mapping[str, Any]
    ) -> ModelServer:
        environment = dict(container.get("Environment") or {})
        choice = choose(environment, model_data_uri(container))
        self.dir.mkdir(parents=True, exist_ok=True)
        server = ModelServer(
            endpoint_name=endpoint.endpoint_name,
            variant_name=variant["VariantName"],
            model_name=variant["ModelName"],
            model_dir=Path(choice.model_id).expanduser() if choice.kind == "disk" else None,
            stand_in=choice.kind == "stand-in",
            log_path=self.dir / f"{endpoint.endpoint_name}-{int(time.time() * 1000)}.log",
            model_data_uri=choice.s3_uri,
            account_id=endpoint.arn.split(":")[4],
            choice=choice,
            stand_in_reason=choice.stand_in_reason,
        )
        if server.stand_in:
            self._say_stand_in(server)
        with self._lock:
            self.launched[endpoint.endpoint_name] = server
        threading.Thread(
            target=self._start,
            args=(server, environment),
            name=f"start-{endpoint.endpoint_name}",
            daemon=True,
        ).start()
        return server

    def _say_stand_in(self, server: ModelServer) -> None:
        log.warning(
            "endpoint %s: serving the tiny stand-in test model from %s instead of %s (%s)",
            server.endpoint_name,
            self.sources.stand_in_dir,
            server.choice.model_id if server.choice is not None else "?",
            server.stand_in_reason,
        )

    def _start(self, server: ModelServer, environment: dict[str, str]) -> None:
        """Ready the server's model directory, then its process; a failure is the server's `failure`."""
        try:
            choice = server.choice
            if choice is not None and choice.kind == "missing" and choice.model_id == SAGEMAKER_MODEL_DIR:
                raise OSError(
                    f"{VLLM_MODEL_ENV}={SAGEMAKER_MODEL_DIR} names the model data SageMaker mounts, but the model "
                    "has no ModelDataSource: set MODEL_DATA_S3_URI, or name a Hub repo id in HF_MODEL_ID"
                )
            if server.choice is not None and server.choice.kind == "missing":
                raise OSError(
                    f"{server.choice.setting}={server.choice.model_id} is not a directory on this machine: "
                    "name a checkpoint directory or a Hub repo id"
                )
            if server.choice is not None and server.choice.kind == "hub":
                server.model_dir = self._from_hub(server, environment)
            if server.stand_in:
                server.model_dir = self.sources.stand_in()
            elif server.model_data_uri:
                server.model_dir = self.sources.fetch(server.account_id, server.model_data_uri)
            if server.model_dir is not None and not server.stand_in:
                server.model_dir = self.sources.as_safetensors(server.model_dir)
                _check_memory(server)
            if server.stopping:
                return
            servers.spawn(server, environment, self.registry)
            if server.stopping:
                server.stop()
        except hub.Cancelled:
            pass
        except hub.HubFailure as failure:
            server.failure = str(failure)
        except (OSError, subprocess.SubprocessError) as exc:
            server.failure = server.failure or f"the model server could not start: {exc}"
        with server.changed:
            server.changed.notify_all()

    def _from_hub(self, server: ModelServer, environment: dict[str, str]) -> Path | None:
        """The Hub model's snapshot; None when the stand-in serves because the Hub cannot be reached."""
        choice = server.choice
        assert choice is not None
        model = hub.HubModel.from_environment(
            choice.model_id, choice.setting, choice.revision, choice.dtype, environment
        )
        server.transfer = hub.Transfer()

        def check() -> None:
            if server.stopping or server.failure:
                raise hub.Cancelled

        try:
            return hub.prepare(model, server.transfer, check)
        except hub.HubFailure as failure:
            if not (failure.unreachable and choice.mode == "auto"):
                raise
            server.stand_in, server.stand_in_reason, server.transfer = True, failure.cause, None
            self._say_stand_in(server)
            return None

    def _watch(self, endpoint: FakeEndpoint, server: ModelServer) -> None:
        """An exit nobody asked for fails the endpoint, while `server` is still the one serving it."""

        def fail() -> None:
            if self.server_for(endpoint.arn) is server:
                endpoint.endpoint_status = "Failed"
                _set_failure(endpoint, server.failure)
                endpoint.last_modified_time = utcnow()

        servers.watch(server, fail)


def _check_memory(server: ModelServer) -> None:
    """OSError naming the way out when the weights at the load dtype would not fit in memory."""
    choice = server.choice
    dtype = choice.dtype if choice is not None and choice.dtype else "auto"
    assert server.model_dir is not None
    fit = memory.directory_fit(server.model_dir, dtype)
    if fit is None or fit.fits:
        return
    if server.model_data_uri:
        named = f"MODEL_DATA_S3_URI={server.model_data_uri}"
    else:
        named = f"{choice.setting}={choice.model_id}" if choice is not None else str(server.model_dir)
    server.failure = hub.too_big_reason(named, fit)
    raise OSError(server.failure)


def _set_failure(endpoint: FakeEndpoint, reason: str | None) -> None:
    """Set the FailureReason DescribeEndpoint shows."""
    # moto's __init__ sets it to None, so its inferred type admits nothing else.
    endpoint.failure_reason = reason  # type: ignore[assignment]


def _startup_timeout(variant: Mapping[str, Any]) -> float:
    return float(
        variant.get("ContainerStartupHealthCheckTimeoutInSeconds") or servers.DEFAULT_STARTUP_TIMEOUT
    )


def _first_variant(backend: SageMakerModelBackend, config_name: str) -> dict[str, Any]:
    variants = backend.endpoint_configs[config_name].production_variants
    return variants[0] if variants else {}


def _served_container(backend: SageMakerModelBackend, variant: Mapping[str, Any]) -> dict[str, Any] | None:
    """The variant's primary container when a model server stands in for it: a TGI one
    (HF_MODEL_ID set) or a vLLM one (SM_VLLM_MODEL set); else None."""
    name = variant.get("ModelName")
    model = backend._models.get(name) if name is not None else None
    if model is None:
        return None
    container = model.primary_container or {}
    if api_of(container.get("Environment") or {}) is None:
        return None
    return container


def _show_image(endpoint: FakeEndpoint, server: ModelServer, container: Mapping[str, Any]) -> None:
    """Record what actually serves the variant where DescribeEndpoint shows it: DeployedImages."""
    source: object = server.model_data_uri or server.model_dir
    if server.choice is not None and server.choice.kind == "hub":
        commit = server.transfer.commit if server.transfer is not None else None
        source = f"{server.choice.model_id}@{commit or server.choice.revision or 'main'}"
    api = server.choice.api if server.choice is not None else "tgi"
    resolved = resolved_image(api, None if server.stand_in else str(source))
    for variant in endpoint.production_variants:
        if variant.get("VariantName") == server.variant_name:
            variant["DeployedImages"] = [
                {
                    "SpecifiedImage": container.get("Image", ""),
                    "ResolvedImage": resolved,
                    "ResolutionTime": utcnow(),
                }
            ]
