"""The key check of the model-data download, as a pure unit (the emulator test is in test_sources).

The refused names are AWS's own list, read from botocore's service model below, so the
rules are checked against AWS's text, not against a copy of ours.
"""

from __future__ import annotations

import re
from pathlib import Path

import botocore.session
import pytest

from llm_twin_local.aws.runtime.model_data import PrefixObject, check_keys, inside, unsafe_reason

URI = "s3://bucket/models/m/v1/"


def _aws_rules() -> str:
    model = botocore.session.get_session().get_service_model("sagemaker")
    text = model.shape_for("S3ModelDataSource").members["CompressionType"].documentation
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", text))


def test_the_refused_names_are_the_ones_aws_documents() -> None:
    rules = _aws_rules()
    for documented in (
        "An empty or blank string",
        "null bytes",
        "longer than 255 bytes",
        "A single dot (.)",
        "A double dot (..)",
        "ends with a slash (/) which violates SageMaker restrictions",
    ):
        assert documented in rules


@pytest.mark.parametrize(
    "relative",
    [
        "config.json",
        "tokenizer/tokenizer.json",
        "a/b/c/model-00001-of-00002.safetensors",
        ".hidden",
        "..dots-are-fine-inside-a-name",
        "x" * 255,
    ],
)
def test_relative_paths_of_plain_names_are_accepted(relative: str) -> None:
    assert unsafe_reason(relative) is None


@pytest.mark.parametrize(
    ("relative", "reason"),
    [
        ("../../../outside", "'..'"),
        ("a/../../outside", "'..'"),
        ("..", "'..'"),
        ("./config.json", "'.'"),
        ("/etc/cron.d/planted", "absolute path"),
        ("a//b", "empty or blank"),
        ("a/ /b", "empty or blank"),
        ("folder/", "empty or blank"),
        ("", "empty or blank"),
        ("..\\..\\outside", "backslash"),
        ("a\\b", "backslash"),
        ("a\0b", "null byte"),
        ("x" * 256, "longer than 255 bytes"),
        ("é" * 128, "longer than 255 bytes"),
    ],
)
def test_keys_that_are_not_safe_relative_paths_are_refused(relative: str, reason: str) -> None:
    assert reason in (unsafe_reason(relative) or "")


def test_the_whole_set_fails_on_one_bad_key_naming_it() -> None:
    objects = [
        PrefixObject("models/m/v1/config.json", "config.json", None),
        PrefixObject("models/m/v1/../../../x", "../../../x", None),
    ]
    with pytest.raises(
        OSError, match=r"refusing the key s3://bucket/models/m/v1/\.\./\.\./\.\./x: it has a '\.\.'"
    ):
        check_keys(URI, objects)


def test_a_file_that_another_key_needs_as_a_directory_is_refused() -> None:
    objects = [
        PrefixObject("models/m/v1/weights", "weights", None),
        PrefixObject("models/m/v1/weights/part1", "weights/part1", None),
    ]
    with pytest.raises(OSError, match="needs weights as a directory"):
        check_keys(URI, objects)


def test_a_symlink_out_of_the_root_is_caught_when_resolved(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "link").symlink_to(outside)
    assert inside(root, "sub/file") == root.resolve() / "sub" / "file"
    with pytest.raises(OSError, match="outside"):
        inside(root, "link/planted")
