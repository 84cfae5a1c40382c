"""Resolve a TGI version to the full Hugging Face DLC image tag, offline.

The catalogue is the JSON that the sagemaker SDK's `image_uris.retrieve` reads,
shipped in the `sagemaker-core` distribution. We read the file directly: importing
the SDK costs ~3 s of start-up for a lookup that needs none of it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from typing import Any

from llm_twin.config import Settings
from llm_twin.errors import SettingsError

CATALOGUE = "sagemaker/core/image_uri_config/huggingface-llm.json"


@dataclass(frozen=True)
class TgiImage:
    """A TGI Deep Learning Container for one region."""

    version: str
    """The TGI release, e.g. 3.3.6."""
    repository: str
    """ECR repository, huggingface-pytorch-tgi-inference."""
    tag: str
    """Full tag, e.g. 2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04."""
    account: str | None
    """AWS account that hosts the image in the region; None when not offered there."""

    def uri(self, region: str) -> str | None:
        """The pullable image URI, or None when the region has no such image."""
        if self.account is None:
            return None
        suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
        return f"{self.account}.dkr.ecr.{region}.{suffix}/{self.repository}:{self.tag}"


@cache
def _catalogue() -> dict[str, Any]:
    path = metadata.distribution("sagemaker-core").locate_file(CATALOGUE)
    catalogue: dict[str, Any] = json.loads(path.read_text())["inference"]
    return catalogue


def supported_versions() -> list[str]:
    """Every TGI version the catalogue knows, full versions then aliases."""
    catalogue = _catalogue()
    return [*catalogue["versions"], *catalogue.get("version_aliases", {})]


def resolve_tgi_image(version: str, region: str) -> TgiImage:
    """Map `3.3` or `3.3.6` to its DLC; SettingsError names the versions allowed."""
    catalogue = _catalogue()
    full = catalogue.get("version_aliases", {}).get(version, version)
    entry = catalogue["versions"].get(full)
    if entry is None:
        raise SettingsError(
            f"TGI_VERSION={version!r} is not in the DLC catalogue; "
            f"allowed: {', '.join(sorted(catalogue['versions']))} (or a major.minor alias)"
        )
    tag = f"{entry['tag_prefix']}-gpu-{entry['py_versions'][0]}-{entry['container_version']['gpu']}"
    return TgiImage(
        version=full,
        repository=entry["repository"],
        tag=tag,
        account=entry["registries"].get(region),
    )


def require_image(settings: Settings) -> None:
    """Stop before anything runs when the region has no DLC image for the configured TGI version.

    An endpoint whose image cannot be pulled fails only after its whole start-up timeout.
    """
    model = settings.model
    if not model.image_uri and resolve_tgi_image(model.tgi_version, settings.region).account is None:
        raise SettingsError(
            f"TGI_VERSION={model.tgi_version} has no DLC image in AWS_REGION={settings.region}: "
            "pick another region or set TGI_IMAGE_URI"
        )
