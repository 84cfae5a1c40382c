import pytest

from llm_twin.config import load_settings
from llm_twin.config.model import DEFAULT_VLLM_VERSION
from llm_twin.config.rules import REGIONS
from llm_twin.control import images
from llm_twin.control.images import newest_version, resolve_tgi_image, resolve_vllm_image, supported_versions
from llm_twin.errors import SettingsError


def test_alias_resolves_to_the_full_dlc_tag() -> None:
    image = resolve_tgi_image("3.3", "eu-central-1")
    assert image.version == "3.3.6"
    assert image.tag == "2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04"
    assert image.uri("eu-central-1") == (
        "763104351884.dkr.ecr.eu-central-1.amazonaws.com/huggingface-pytorch-tgi-inference:"
        "2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04"
    )


def test_region_without_the_image_has_no_uri() -> None:
    assert resolve_tgi_image("3.3.6", "xx-nowhere-1").uri("xx-nowhere-1") is None


def test_unknown_version_lists_the_allowed_ones() -> None:
    with pytest.raises(
        SettingsError, match=r"TGI_VERSION='9.9.9' is not in the DLC catalogue; allowed: .*3\.3\.6"
    ):
        resolve_tgi_image("9.9.9", "eu-central-1")
    assert "3.3.6" in supported_versions()


# -- vLLM: the huggingface-vllm family, checked against the SDK's own image_uris.retrieve --


@pytest.mark.parametrize("version", ["0.29", "0.29.0", "0.21.0", "0.14.0"])
@pytest.mark.parametrize("region", ["eu-central-1", "af-south-1", "cn-north-1", "us-gov-west-1"])
def test_vllm_image_is_the_one_the_sdk_retrieves(version: str, region: str) -> None:
    from sagemaker.core import image_uris  # the referee: ~3 s to import, so only here

    expected = image_uris.retrieve(
        "huggingface-vllm",
        region=region,
        version=version,
        image_scope="inference",
        instance_type="ml.g5.2xlarge",
    )
    assert resolve_vllm_image(version, region).uri(region) == expected


def test_the_default_vllm_version_is_the_newest_in_the_catalogue() -> None:
    assert DEFAULT_VLLM_VERSION == newest_version("vllm") == "0.29.0"


def test_unknown_vllm_version_lists_the_allowed_ones() -> None:
    with pytest.raises(SettingsError) as error:
        resolve_vllm_image("0.30.0", "eu-central-1")  # in AWS's own `vllm` family, not huggingface-vllm
    assert str(error.value) == (
        "VLLM_VERSION='0.30.0' is not in the huggingface-vllm DLC catalogue; allowed: 0.14.0, 0.17.0, "
        "0.21.0, 0.22.1, 0.25.1, 0.26.0, 0.27.1, 0.28.0, 0.29.0 (or a major.minor alias)"
    )


def test_a_region_without_the_vllm_image_is_refused_naming_the_regions_with_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = load_settings({"SERVING_BACKEND": "vllm"}, None)
    monkeypatch.setattr(images, "backend_image", lambda s: resolve_vllm_image("0.29.0", "xx-nowhere-1"))
    with pytest.raises(SettingsError) as error:
        images.require_image(settings)
    message = str(error.value)
    assert message.startswith(
        "VLLM_VERSION=0.29.0 has no huggingface-vllm image in AWS_REGION=eu-central-1; regions with it: "
    )
    assert "eu-central-1, " in message and message.endswith(" (or set VLLM_IMAGE_URI)")


def test_every_settings_region_has_the_default_vllm_image() -> None:
    missing = [r for r in sorted(REGIONS) if resolve_vllm_image(DEFAULT_VLLM_VERSION, r).account is None]
    assert missing == []


def test_the_image_override_skips_the_catalogue() -> None:
    settings = load_settings({"SERVING_BACKEND": "vllm", "VLLM_IMAGE_URI": "example.com/vllm:mine"}, None)
    assert images.explicit_image(settings) == "example.com/vllm:mine"
    images.require_image(settings)
