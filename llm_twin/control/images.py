"""Resolve a TGI or vLLM version to its full Hugging Face DLC image, per region, offline.

The catalogue is the JSON that the sagemaker SDK's `image_uris.retrieve` reads, shipped in
the `sagemaker-core` distribution: `huggingface-llm` for TGI, `huggingface-vllm` for vLLM.
We read the files directly: importing the SDK costs ~3 s of start-up for a lookup that
needs none of it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from typing import Any

from llm_twin.config import Settings
from llm_twin.errors import SettingsError
from llm_twin.protocol.backends import Backend

CATALOGUE_DIR = "sagemaker/core/image_uri_config"
FAMILIES: dict[Backend, str] = {"tgi": "huggingface-llm", "vllm": "huggingface-vllm"}
"""The catalogue file (image_uris.retrieve's framework name) of each backend's DLC."""
CATALOGUE = f"{CATALOGUE_DIR}/{FAMILIES['tgi']}.json"


@dataclass(frozen=True)
class DlcImage:
    """A Hugging Face Deep Learning Container of one version, for one region."""

    version: str
    """The serving release, e.g. 3.3.6 (TGI) or 0.29.0 (vLLM)."""
    repository: str
    """ECR repository, e.g. huggingface-pytorch-tgi-inference or huggingface-vllm."""
    tag: str
    """Full tag, e.g. 2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04."""
    account: str | None
    """AWS account that hosts the image in the region; None when not offered there."""
    regions: tuple[str, ...] = ()
    """Every region the catalogue offers this version in, for the message when one is missing."""

    def uri(self, region: str) -> str | None:
        """The pullable image URI, or None when the region has no such image."""
        if self.account is None:
            return None
        suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
        return f"{self.account}.dkr.ecr.{region}.{suffix}/{self.repository}:{self.tag}"


@cache
def _catalogue(family: str = FAMILIES["tgi"]) -> dict[str, Any]:
    path = metadata.distribution("sagemaker-core").locate_file(f"{CATALOGUE_DIR}/{family}.json")
    catalogue: dict[str, Any] = json.loads(path.read_text())["inference"]
    return catalogue


def supported_versions(backend: Backend = "tgi") -> list[str]:
    """Every version the backend's catalogue knows, full versions then aliases."""
    catalogue = _catalogue(FAMILIES[backend])
    return [*catalogue["versions"], *catalogue.get("version_aliases", {})]


def newest_version(backend: Backend) -> str:
    """The highest full version in the backend's catalogue."""
    versions = _catalogue(FAMILIES[backend])["versions"]
    return max(versions, key=lambda v: tuple(int(part) for part in v.split(".")))


def _resolve(backend: Backend, setting: str, version: str, region: str) -> DlcImage:
    family = FAMILIES[backend]
    catalogue = _catalogue(family)
    full = catalogue.get("version_aliases", {}).get(version, version)
    entry = catalogue["versions"].get(full)
    if entry is None:
        where = "the DLC catalogue" if backend == "tgi" else f"the {family} DLC catalogue"
        raise SettingsError(
            f"{setting}={version!r} is not in {where}; "
            f"allowed: {', '.join(sorted(catalogue['versions']))} (or a major.minor alias)"
        )
    tag = f"{entry['tag_prefix']}-gpu-{entry['py_versions'][0]}-{entry['container_version']['gpu']}"
    return DlcImage(
        version=full,
        repository=entry["repository"],
        tag=tag,
        account=entry["registries"].get(region),
        regions=tuple(sorted(entry["registries"])),
    )


def resolve_tgi_image(version: str, region: str) -> DlcImage:
    """Map `3.3` or `3.3.6` to its DLC; SettingsError names the versions allowed."""
    return _resolve("tgi", "TGI_VERSION", version, region)


def resolve_vllm_image(version: str, region: str) -> DlcImage:
    """Map `0.29` or `0.29.0` to its huggingface-vllm DLC; SettingsError names the versions allowed."""
    return _resolve("vllm", "VLLM_VERSION", version, region)


def explicit_image(settings: Settings) -> str:
    """The image override of the chosen backend (TGI_IMAGE_URI or VLLM_IMAGE_URI), or ""."""
    model = settings.model
    return model.vllm_image_uri if model.backend == "vllm" else model.image_uri


def backend_image(settings: Settings) -> DlcImage:
    """The catalogue's image for the chosen backend's version in AWS_REGION."""
    model = settings.model
    if model.backend == "vllm":
        return resolve_vllm_image(model.vllm_version, settings.region)
    return resolve_tgi_image(model.tgi_version, settings.region)


def require_image(settings: Settings) -> None:
    """Stop before anything runs when the region has no DLC image for the configured version.

    An endpoint whose image cannot be pulled fails only after its whole start-up timeout.
    """
    model = settings.model
    if explicit_image(settings):
        return
    image = backend_image(settings)
    if image.account is not None:
        return
    if model.backend == "tgi":
        raise SettingsError(
            f"TGI_VERSION={model.tgi_version} has no DLC image in AWS_REGION={settings.region}: "
            "pick another region or set TGI_IMAGE_URI"
        )
    raise SettingsError(
        f"VLLM_VERSION={model.vllm_version} has no {FAMILIES['vllm']} image in AWS_REGION={settings.region}; "
        f"regions with it: {', '.join(image.regions)} (or set VLLM_IMAGE_URI)"
    )
