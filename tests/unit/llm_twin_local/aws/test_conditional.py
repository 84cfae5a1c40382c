"""Conditional S3 writes on the emulator: what Terraform's S3 lock file relies on."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from llm_twin_local.aws.daemon import LocalAws, free_port
from tests.conftest import client

BUCKET = "llm-twin-locks"


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    emulator = LocalAws(Path(tmp_path_factory.mktemp("conditional")), free_port())
    emulator.up()
    s3 = client(emulator.port, "s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    yield s3
    emulator.down()


def _take(s3, key: str, who: int) -> bool:
    try:
        s3.put_object(Bucket=BUCKET, Key=key, Body=f"holder {who}".encode(), IfNoneMatch="*")
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "PreconditionFailed"
        return False
    return True


def test_exactly_one_of_many_simultaneous_creators_wins(s3) -> None:
    for round_ in range(5):
        key = f"state/round-{round_}.tflock"
        with ThreadPoolExecutor(max_workers=12) as pool:
            won = list(pool.map(lambda who, key=key: _take(s3, key, who), range(12)))
        assert won.count(True) == 1
        holder = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
        assert holder == f"holder {won.index(True)}"


def test_if_match_replaces_only_the_version_it_names(s3) -> None:
    first = s3.put_object(Bucket=BUCKET, Key="state/tfstate", Body=b"v1")["ETag"]
    s3.put_object(Bucket=BUCKET, Key="state/tfstate", Body=b"v2", IfMatch=first)
    with pytest.raises(ClientError, match="PreconditionFailed"):
        s3.put_object(Bucket=BUCKET, Key="state/tfstate", Body=b"v3", IfMatch=first)
    assert s3.get_object(Bucket=BUCKET, Key="state/tfstate")["Body"].read() == b"v2"
