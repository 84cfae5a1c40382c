"""What a local endpoint serves and how far its model has come: a local-only route, and its client.

SageMaker says only "Creating" while TGI downloads a model, which can take many minutes;
locally `llm-twin apply` can do better and show the bytes. DescribeEndpoint has no field for
it, so the emulator answers, beside moto, on loopback only:

    GET /llm-twin-api/endpoints/<name>   the `ServingModel` of the endpoint's newest variant server

It is not authenticated, like moto's own `/moto-api/` and the quota route: the emulator
listens on 127.0.0.1 alone. The CLI reads it through `llm_twin.control.local_target`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

if TYPE_CHECKING:
    from llm_twin_local.aws.runtime.lifecycle import LocalRuntime
    from llm_twin_local.aws.runtime.servers import ModelServer

PATH_PREFIX = "/llm-twin-api/endpoints/"


@dataclass(frozen=True)
class ServingModel:
    """One endpoint's model as the local runtime has it now."""

    endpoint: str
    model_id: str
    """What the container asked for: LOCAL_MODEL_ID, else HF_MODEL_ID (a Hub id or a path)."""
    source: str
    """hub, disk, s3, stand-in, or missing (a path that is not there)."""
    phase: str
    """starting, downloading, loading, ready, failed or stopped."""
    revision: str | None = None
    """The commit being served (Hub models), else the revision asked for."""
    bytes_done: int = 0
    bytes_total: int = 0
    files_done: int = 0
    files_total: int = 0
    stand_in_reason: str | None = None
    """Why the stand-in serves instead of `model_id` (LOCAL_MODEL=stand-in, or the Hub was unreachable)."""
    failure: str | None = None
    api: str = "tgi"
    """tgi or vllm: the container API the model server speaks (its SM_VLLM_MODEL or HF_MODEL_ID)."""

    @property
    def stand_in(self) -> bool:
        return self.source == "stand-in"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ServingModel:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)


def serving_model(server: ModelServer) -> ServingModel:
    """The route's view of one variant server."""
    transfer = server.transfer
    if server.failure:
        phase = "failed"
    elif server.stopping:
        phase = "stopped"
    elif server.ready:
        phase = "ready"
    elif transfer is not None and server.model_dir is None:
        phase = "downloading"
    elif server.model_dir is not None:
        phase = "loading"
    else:
        phase = "starting"
    choice = server.choice
    return ServingModel(
        endpoint=server.endpoint_name,
        model_id=choice.model_id if choice is not None else "",
        source="stand-in" if server.stand_in else (choice.kind if choice is not None else "disk"),
        phase=phase,
        revision=(transfer.commit if transfer is not None else None) or (choice.revision if choice else None),
        bytes_done=transfer.done if transfer is not None else 0,
        bytes_total=transfer.total if transfer is not None else 0,
        files_done=transfer.files_done if transfer is not None else 0,
        files_total=transfer.files if transfer is not None else 0,
        stand_in_reason=server.stand_in_reason,
        failure=server.failure,
        api=choice.api if choice is not None else "tgi",
    )


class ProgressMiddleware:
    """Answers GET /llm-twin-api/endpoints/<name>; everything else passes through."""

    def __init__(self, app: WSGIApplication, runtime: LocalRuntime) -> None:
        self.app = app
        self.runtime = runtime

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(PATH_PREFIX):
            return self.app(environ, start_response)
        name = unquote(path[len(PATH_PREFIX) :])
        server = self.runtime.latest(name) if environ.get("REQUEST_METHOD") == "GET" else None
        if server is None:
            return _respond(
                start_response, "404 Not Found", {"error": f"no local endpoint {name} runs a model"}
            )
        return _respond(start_response, "200 OK", serving_model(server).to_json())


def _respond(start_response: StartResponse, status: str, payload: dict[str, Any]) -> list[bytes]:
    body = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def fetch_serving_model(base_url: str, endpoint: str, *, timeout: float = 2.0) -> ServingModel | None:
    """Client side: the endpoint's `ServingModel`, or None when the emulator runs no model for it."""
    url = f"{base_url.rstrip('/')}{PATH_PREFIX}{quote(endpoint, safe='')}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return ServingModel.from_json(json.loads(answer.read()))
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise OSError(f"{url} answered {exc.code}") from exc
