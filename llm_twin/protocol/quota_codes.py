"""Service Quotas codes of SageMaker's "<instance type> for endpoint usage" quotas.

The quota that stops a GPU endpoint is per instance type and *per use*: "ml.g5.2xlarge
for endpoint usage" is not "ml.g5.2xlarge for training job usage". A quota code is the
same in every region. These codes were read with `aws service-quotas list-service-quotas
--service-code sagemaker` (us-east-1, 2026-08-17); an instance type missing here is found
by its quota *name* through ListServiceQuotas instead, so the table is a shortcut, not a
limit.
"""

from __future__ import annotations

SERVICE_CODE = "sagemaker"
CODES_READ_ON = "2026-08-17"

ENDPOINT_QUOTA_CODES: dict[str, str] = {
    "ml.g5.xlarge": "L-1928E07B",
    "ml.g5.2xlarge": "L-9614C779",
    "ml.g5.4xlarge": "L-C1B9A48D",
    "ml.g5.12xlarge": "L-65C4BD00",
    "ml.g6.xlarge": "L-D470D954",
    "ml.g6.2xlarge": "L-98BDE811",
    "ml.g6.4xlarge": "L-DFB10FDE",
    "ml.g6.12xlarge": "L-0A29AACF",
    "ml.g6e.xlarge": "L-B0729CB4",
    "ml.g6e.2xlarge": "L-F8D7F460",
    "ml.g6e.4xlarge": "L-93531071",
    "ml.g6e.8xlarge": "L-96A28D02",
    "ml.g6e.12xlarge": "L-60313EA3",
    "ml.g6e.16xlarge": "L-2930A179",
    "ml.g6e.24xlarge": "L-AE407E8B",
    "ml.g6e.48xlarge": "L-E0C458EA",
    "ml.p4d.24xlarge": "L-09F79647",
    "ml.p4de.24xlarge": "L-456B4C5F",
    "ml.p5.48xlarge": "L-16AF71F1",
}


def endpoint_quota_name(instance_type: str) -> str:
    """The quota's name as Service Quotas spells it."""
    return f"{instance_type} for endpoint usage"
