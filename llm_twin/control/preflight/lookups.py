"""Transport for preflight: STS, Service Quotas, config.json from S3, a local dir or the Hub.

Every lookup turns its failure into a typed answer (`error`, `denied`, `skipped`), so the
pure checks in `llm_twin.control.preflight.checks` decide what it means; nothing here raises for a
lookup that could not be made. The Hub is asked with a short timeout, because on an
offline machine (or one whose DNS hangs) preflight must not hang with it.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from llm_twin.config import Settings
from llm_twin.control.aws import AwsClients
from llm_twin.control.preflight.checks import (
    HubLookup,
    IdentityLookup,
    ModelLookup,
    PreflightInputs,
    QuotaLookup,
    model_facts,
)
from llm_twin.protocol.quota_codes import ENDPOINT_QUOTA_CODES, SERVICE_CODE, endpoint_quota_name

HUB_TIMEOUT_SECONDS = 3.0
DEFAULT_HUB_URL = "https://huggingface.co"
DENIED_CODES = frozenset({"AccessDeniedException", "AccessDenied", "UnauthorizedOperation"})
STAND_IN_NOTE = (
    "the local target downloads LOCAL_MODEL_ID (or HF_MODEL_ID) from there too, and serves its stand-in "
    "tiny model instead while the Hub cannot be reached (LOCAL_MODEL=auto)"
)
# A wrong endpoint or a dropped packet must cost seconds, not botocore's default minutes.
LOOKUP_CONFIG = Config(connect_timeout=5, read_timeout=15, retries={"max_attempts": 2, "mode": "standard"})

T = TypeVar("T")


def is_hub_model(settings: Settings) -> bool:
    """True when TGI downloads HF_MODEL_ID from the Hub at start-up."""
    return not settings.model.data_s3_uri and not settings.model.hf_model_id.startswith("/")


def lookup_identity(clients: AwsClients) -> IdentityLookup:
    try:
        answer = clients.client("sts", config=LOOKUP_CONFIG).get_caller_identity()
    except (ClientError, BotoCoreError) as exc:
        return IdentityLookup(error=str(exc))
    return IdentityLookup(account=answer["Account"], arn=answer["Arn"])


def _no_such_quota(exc: ClientError) -> bool:
    return bool(exc.response["Error"]["Code"] == "NoSuchResourceException")


def lookup_endpoint_quota(clients: AwsClients, instance_type: str) -> QuotaLookup:
    """The applied (else default) value of '<type> for endpoint usage'.

    The known code is asked first; a type missing from the code table is found by name
    in ListServiceQuotas. An IAM denial comes back as `denied`, for a WARN, not a crash.
    """
    name = endpoint_quota_name(instance_type)
    code = ENDPOINT_QUOTA_CODES.get(instance_type)
    service = clients.client("service-quotas", config=LOOKUP_CONFIG)
    try:
        if code is not None:
            for ask in (service.get_service_quota, service.get_aws_default_service_quota):
                try:
                    quota = ask(ServiceCode=SERVICE_CODE, QuotaCode=code)["Quota"]
                    return QuotaLookup(code=code, name=name, value=float(quota["Value"]))
                except ClientError as exc:
                    if not _no_such_quota(exc):
                        raise
        for page in service.get_paginator("list_service_quotas").paginate(ServiceCode=SERVICE_CODE):
            for quota in page.get("Quotas", []):
                if quota.get("QuotaName") == name:
                    return QuotaLookup(code=quota["QuotaCode"], name=name, value=float(quota["Value"]))
    except ClientError as exc:
        # AWS says AccessDeniedException; moto's IAM check answers a bare 403.
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        denied = exc.response["Error"]["Code"] in DENIED_CODES or status == 403
        return QuotaLookup(code=code, name=name, error=str(exc), denied=denied)
    except BotoCoreError as exc:
        return QuotaLookup(code=code, name=name, error=str(exc))
    return QuotaLookup(code=code, name=name, error=f"Service Quotas has no '{name}' quota in this region")


# -- config.json ---------------------------------------------------------------------------------


def _facts_from(
    source: str, config_text: str | bytes, index_text: str | bytes | None, weights_bytes: int | None
) -> ModelLookup:
    try:
        config = json.loads(config_text)
        index = json.loads(index_text) if index_text else None
        if not isinstance(config, Mapping):
            raise ValueError("config.json is not a JSON object")
        total = (index or {}).get("metadata", {}).get("total_size") if isinstance(index, Mapping) else None
        facts = model_facts(
            config,
            source=source,
            index_total_size=int(total) if isinstance(total, int | float) and total > 0 else None,
            weights_bytes=weights_bytes or None,
        )
    except (ValueError, TypeError) as exc:
        return ModelLookup(error=f"{source}: {exc}")
    return ModelLookup(facts=facts)


def read_local_model(directory: Path) -> ModelLookup:
    """config.json, the index and the safetensors sizes of a checkpoint on this machine."""
    config = directory / "config.json"
    if not config.is_file():
        return ModelLookup(error=f"{directory} has no config.json")
    index = directory / "model.safetensors.index.json"
    weights = sum(p.stat().st_size for p in directory.glob("*.safetensors"))
    return _facts_from(
        f"local checkpoint {directory}",
        config.read_text(),
        index.read_text() if index.is_file() else None,
        weights,
    )


def _split_s3(uri: str) -> tuple[str, str]:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    return bucket, prefix


def read_s3_model(clients: AwsClients, uri: str, *, path_style: bool) -> ModelLookup:
    """config.json under MODEL_DATA_S3_URI, plus the sizes of the safetensors beside it."""
    config = LOOKUP_CONFIG.merge(Config(s3={"addressing_style": "path"})) if path_style else LOOKUP_CONFIG
    s3 = clients.client("s3", config=config)
    bucket, prefix = _split_s3(uri)

    def get(key: str) -> bytes | None:
        try:
            body: bytes = s3.get_object(Bucket=bucket, Key=prefix + key)["Body"].read()
            return body
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise

    try:
        config_bytes = get("config.json")
        if config_bytes is None:
            return ModelLookup(
                error=f"no config.json under {uri}: push the model first (llm-twin model push)"
            )
        index = get("model.safetensors.index.json")
        weights = 0
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            weights += sum(o["Size"] for o in page.get("Contents", []) if o["Key"].endswith(".safetensors"))
    except (ClientError, BotoCoreError) as exc:
        return ModelLookup(error=f"could not read {uri}: {exc}")
    return _facts_from(uri, config_bytes, index, weights)


def _within(seconds: float, call: Callable[[], T]) -> T | None:
    """`call()`'s result, or None when it does not return in time (DNS ignores socket timeouts)."""
    box: list[T] = []
    worker = threading.Thread(target=lambda: box.append(call()), daemon=True)
    worker.start()
    worker.join(seconds)
    return box[0] if box else None


def _hub_get(url: str, token: str, timeout: float) -> tuple[int, bytes] | None:
    """(status, body), or None when the Hub did not answer."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""
    except (OSError, ValueError):
        return None


def probe_hub(model_id: str, token: str, hub_url: str, timeout: float) -> HubLookup:
    """Ask the Hub's model API whether the repo exists and is gated."""
    answer = _within(timeout, lambda: _hub_get(f"{hub_url}/api/models/{quote(model_id)}", token, timeout))
    if answer is None:
        return HubLookup(reachable=False)
    status, body = answer
    gated: bool | None = None
    if status == 200:
        try:
            info: Any = json.loads(body)
            gated = bool(info.get("gated")) if isinstance(info, Mapping) else None
        except ValueError:
            gated = None
    return HubLookup(reachable=True, gated=gated, status=status)


def read_hub_model(model_id: str, token: str, hub_url: str, timeout: float) -> ModelLookup:
    def fetch(name: str) -> bytes | None:
        url = f"{hub_url}/{quote(model_id)}/resolve/main/{name}"
        answer = _within(timeout, lambda: _hub_get(url, token, timeout))
        return answer[1] if answer is not None and answer[0] == 200 else None

    config = fetch("config.json")
    if config is None:
        return ModelLookup(skipped=f"config.json of {model_id} could not be read from the Hub")
    return _facts_from(f"the Hub ({model_id})", config, fetch("model.safetensors.index.json"), None)


def lookup_model(
    settings: Settings, clients: AwsClients | None, hub: HubLookup, hub_url: str, timeout: float
) -> ModelLookup:
    """config.json from wherever the endpoint will load the model from."""
    if settings.model.data_s3_uri:
        if clients is None:
            return ModelLookup(
                skipped=f"{settings.model.data_s3_uri} not read: the credentials were not accepted"
            )
        return read_s3_model(clients, settings.model.data_s3_uri, path_style=settings.target == "local")
    if settings.model.hf_model_id.startswith("/"):
        directory = Path(settings.model.hf_model_id)
        if directory.is_dir():
            return read_local_model(directory)
        return ModelLookup(
            skipped=f"HF_MODEL_ID={settings.model.hf_model_id} is a path inside the container, not here"
        )
    if not hub.reachable:
        note = f"; {STAND_IN_NOTE}" if settings.target == "local" else ""
        return ModelLookup(skipped=f"the Hub ({hub_url}) did not answer within {timeout:g} s{note}")
    return read_hub_model(settings.model.hf_model_id, settings.model.hf_token.value, hub_url, timeout)


def gather(
    settings: Settings,
    clients: AwsClients,
    *,
    hub_url: str = DEFAULT_HUB_URL,
    hub_timeout: float = HUB_TIMEOUT_SECONDS,
) -> PreflightInputs:
    """Run every lookup; AWS ones are skipped when STS does not accept the credentials."""
    identity = lookup_identity(clients)
    usable = identity.error is None
    quota = lookup_endpoint_quota(clients, settings.variant.instance_type) if usable else QuotaLookup()
    hub_model = is_hub_model(settings)
    hub = (
        probe_hub(settings.model.hf_model_id, settings.model.hf_token.value, hub_url.rstrip("/"), hub_timeout)
        if hub_model
        else HubLookup()
    )
    model = lookup_model(settings, clients if usable else None, hub, hub_url.rstrip("/"), hub_timeout)
    return PreflightInputs(
        settings=settings, identity=identity, quota=quota, model=model, hub=hub, is_hub_model=hub_model
    )
