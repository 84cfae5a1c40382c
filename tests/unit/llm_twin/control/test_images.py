import pytest

from llm_twin.control.images import resolve_tgi_image, supported_versions
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
