"""Service Quotas for SageMaker in the embedded local AWS, and a knob for tests to set them.

moto 5.2.1 knows Service Quotas only for `vpc` and has no ListServiceQuotas, so
`llm-twin preflight` could not read "ml.g5.2xlarge for endpoint usage" locally. This
module adds, for ServiceCode `sagemaker`:

    GetServiceQuota / GetAWSDefaultServiceQuota   by quota code
    ListServiceQuotas / ListAWSDefaultServiceQuotas  every "<type> for endpoint usage" quota

for every instance type in the GPU table (`llm_twin.protocol.gpus`). Codes come from
`llm_twin.protocol.quota_codes`; a type without a known code gets a stable made-up `L-` code,
valid in the emulator only. Every quota starts at `DEFAULT_ENDPOINT_QUOTA`, so a local
apply is never blocked; a test sets one (to 0, say) through the admin route

    POST /llm-twin-api/quotas  {"instance_type": "ml.g5.2xlarge", "value": 0,
                                "region": "eu-central-1", "account_id": "123456789012"}

(`set_endpoint_quota` below sends it). Values live on moto's backend, so they are
forgotten with everything else when the emulator stops. The route is not authenticated:
like moto's own `/moto-api/`, it exists only on loopback.
"""

from __future__ import annotations

import hashlib
import json
import urllib.request
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypedDict
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from moto.core.models import DEFAULT_ACCOUNT_ID

from llm_twin.protocol import gpus
from llm_twin.protocol.quota_codes import ENDPOINT_QUOTA_CODES, SERVICE_CODE, endpoint_quota_name
from llm_twin_local.aws.registry import PATCHES

if TYPE_CHECKING:
    from moto.servicequotas.models import ServiceQuotasBackend
    from moto.servicequotas.responses import ServiceQuotasResponse

DEFAULT_ENDPOINT_QUOTA = 8.0
"""What every endpoint-usage quota reads until a test changes it."""
ADMIN_PATH = "/llm-twin-api/quotas"
SERVICE_NAME = "Amazon SageMaker"


def quota_code(instance_type: str) -> str:
    """The real code when known, else a stable emulator-only one."""
    known = ENDPOINT_QUOTA_CODES.get(instance_type)
    if known:
        return known
    return "L-" + hashlib.sha256(instance_type.encode()).hexdigest()[:8].upper()


def _instance_types() -> list[str]:
    return sorted({*gpus.GPU_TABLE, *ENDPOINT_QUOTA_CODES})


QUOTAS_ATTRIBUTE = "_llm_twin_sagemaker_quotas"
"""Where the quota values tests set live on moto's backend (moto keeps none for SageMaker)."""


def _values(backend: ServiceQuotasBackend) -> dict[str, float]:
    """Quota values set by tests, by code, kept on the backend so they die with it."""
    values: dict[str, float] = backend.__dict__.setdefault(QUOTAS_ATTRIBUTE, {})
    return values


def _quota(
    backend: ServiceQuotasBackend, instance_type: str, *, default_only: bool = False
) -> dict[str, Any]:
    """One quota as Service Quotas answers it, in the untyped dict moto's backend passes on."""
    code = quota_code(instance_type)
    value = DEFAULT_ENDPOINT_QUOTA if default_only else _values(backend).get(code, DEFAULT_ENDPOINT_QUOTA)
    return {
        "ServiceCode": SERVICE_CODE,
        "ServiceName": SERVICE_NAME,
        "QuotaArn": f"arn:aws:servicequotas:{backend.region_name}:{backend.account_id}:{SERVICE_CODE}/{code}",
        "QuotaCode": code,
        "QuotaName": endpoint_quota_name(instance_type),
        "Value": float(value),
        "Unit": "None",
        "Adjustable": True,
        "GlobalQuota": False,
    }


def _sagemaker_quotas(backend: ServiceQuotasBackend, *, default_only: bool = False) -> list[dict[str, Any]]:
    return [_quota(backend, t, default_only=default_only) for t in _instance_types()]


def _find(backend: ServiceQuotasBackend, code: str, *, default_only: bool = False) -> dict[str, Any] | None:
    return next(
        (q for q in _sagemaker_quotas(backend, default_only=default_only) if q["QuotaCode"] == code), None
    )


def get_aws_default_service_quota(
    backend: ServiceQuotasBackend, service_code: str, quota_code: str
) -> dict[str, Any]:
    """GetAWSDefaultServiceQuota, which moto lacks: SageMaker's default, other services' quota as moto has it."""
    from moto.servicequotas.exceptions import NoSuchResource

    if service_code == SERVICE_CODE:
        found = _find(backend, quota_code, default_only=True)
        if found is None:
            raise NoSuchResource
        return found
    return backend.get_service_quota(service_code, quota_code)


def list_service_quotas(backend: ServiceQuotasBackend, service_code: str) -> list[dict[str, Any]]:
    """ListServiceQuotas, which moto lacks: SageMaker's quotas, other services' defaults."""
    if service_code == SERVICE_CODE:
        return _sagemaker_quotas(backend)
    return backend.list_aws_default_service_quotas(service_code)


def _patch_backend() -> None:
    from moto.servicequotas import models
    from moto.servicequotas.exceptions import NoSuchResource

    cls = models.ServiceQuotasBackend
    get_quota = cls.get_service_quota
    list_defaults = cls.list_aws_default_service_quotas

    def get_service_quota(self: ServiceQuotasBackend, service_code: str, quota_code: str) -> dict[str, Any]:
        if service_code == SERVICE_CODE:
            found = _find(self, quota_code)
            if found is None:
                raise NoSuchResource
            return found
        return get_quota(self, service_code, quota_code)

    def list_aws_default_service_quotas(
        self: ServiceQuotasBackend, service_code: str
    ) -> list[dict[str, Any]]:
        if service_code == SERVICE_CODE:
            return _sagemaker_quotas(self, default_only=True)
        return list_defaults(self, service_code)

    cls.get_service_quota = get_service_quota
    cls.list_aws_default_service_quotas = list_aws_default_service_quotas
    # Calls moto does not have: added to the backend, by name.
    for name, method in (
        ("get_aws_default_service_quota", get_aws_default_service_quota),
        ("list_service_quotas", list_service_quotas),
    ):
        setattr(cls, name, method)


class _Request(TypedDict, total=False):
    """The JSON body of a Service Quotas call, as far as these calls read it."""

    ServiceCode: str
    QuotaCode: str


def _params(response: ServiceQuotasResponse) -> _Request:
    params: _Request = json.loads(response.body or "{}")
    return params


def _patch_responses() -> None:
    from moto.servicequotas import responses

    cls = responses.ServiceQuotasResponse

    def list_quotas(self: ServiceQuotasResponse) -> str:
        quotas = list_service_quotas(self.backend, str(_params(self).get("ServiceCode")))
        return json.dumps({"Quotas": quotas})

    def get_default_quota(self: ServiceQuotasResponse) -> str:
        params = _params(self)
        quota = get_aws_default_service_quota(
            self.backend, str(params.get("ServiceCode")), str(params.get("QuotaCode"))
        )
        return json.dumps({"Quota": quota})

    # Actions moto does not have: added to its response class, by name.
    for name, method in (
        ("list_service_quotas", list_quotas),
        ("get_aws_default_service_quota", get_default_quota),
    ):
        setattr(cls, name, method)


@PATCHES.once("servicequotas.sagemaker_endpoints")
def apply() -> None:
    """Teach moto's Service Quotas the SageMaker endpoint quotas."""
    _patch_backend()
    _patch_responses()


def set_quota_value(account_id: str, region: str, instance_type: str, value: float) -> dict[str, Any]:
    """Set one endpoint-usage quota in this process's backend; returns the quota as AWS shows it."""
    from moto.servicequotas.models import servicequotas_backends

    backend = servicequotas_backends[account_id][region]
    _values(backend)[quota_code(instance_type)] = float(value)
    return _quota(backend, instance_type)


class QuotaAdminMiddleware:
    """WSGI layer in front of moto answering POST /llm-twin-api/quotas; the rest passes through."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != ADMIN_PATH:
            return self.app(environ, start_response)
        if environ.get("REQUEST_METHOD") != "POST":
            return _respond(start_response, "405 Method Not Allowed", {"error": "POST a JSON quota"})
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = json.loads(environ["wsgi.input"].read(length) or b"{}")
            instance_type = str(body["instance_type"])
            value = float(body["value"])
            if value < 0:
                raise ValueError("value must be >= 0")
            region = str(body.get("region") or "eu-central-1")
            account_id = str(body.get("account_id") or DEFAULT_ACCOUNT_ID)
        except (KeyError, ValueError, TypeError) as exc:
            return _respond(
                start_response,
                "400 Bad Request",
                {
                    "error": f"expected JSON with instance_type and a value >= 0 (optional region, account_id): {exc}"
                },
            )
        quota = set_quota_value(account_id, region, instance_type, value)
        return _respond(start_response, "200 OK", {"Quota": quota})


def _respond(start_response: StartResponse, status: str, payload: Mapping[str, object]) -> list[bytes]:
    body = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def set_endpoint_quota(
    endpoint_url: str,
    instance_type: str,
    value: float,
    *,
    region: str = "eu-central-1",
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """Client side of the admin route: set a quota in a running emulator (for tests)."""
    payload = {"instance_type": instance_type, "value": value, "region": region, "account_id": account_id}
    request = urllib.request.Request(
        endpoint_url.rstrip("/") + ADMIN_PATH,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        quota: dict[str, Any] = json.loads(response.read())["Quota"]
    return quota
