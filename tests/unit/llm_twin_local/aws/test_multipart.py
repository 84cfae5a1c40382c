"""The emulator's leaner multipart upload path, through boto3: same bytes, ETags and checksums as S3 defines them."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.exceptions import ClientDisconnected
from werkzeug.wsgi import LimitedStream

from llm_twin_local.aws import multipart
from tests.conftest import client, emulator_with_bucket

BUCKET = "llm-twin-multipart-test"
PART = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    with emulator_with_bucket(tmp_path_factory.mktemp("multipart"), BUCKET) as emulator:
        yield client(emulator.port, "s3")


def test_multipart_object_etag_and_composite_checksum(s3) -> None:
    parts = [os.urandom(PART), os.urandom(PART), os.urandom(1234)]
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="big", ChecksumAlgorithm="CRC32")["UploadId"]
    answers = [
        s3.upload_part(
            Bucket=BUCKET, Key="big", UploadId=upload, PartNumber=number, Body=body, ChecksumAlgorithm="CRC32"
        )
        for number, body in enumerate(parts, start=1)
    ]
    assert [a["ETag"].strip('"') for a in answers] == [hashlib.md5(p).hexdigest() for p in parts]
    listed = s3.list_parts(Bucket=BUCKET, Key="big", UploadId=upload)["Parts"]
    assert [p["Size"] for p in listed] == [len(p) for p in parts]
    s3.complete_multipart_upload(
        Bucket=BUCKET,
        Key="big",
        UploadId=upload,
        MultipartUpload={
            "Parts": [
                {"ETag": a["ETag"], "PartNumber": n, "ChecksumCRC32": a["ChecksumCRC32"]}
                for n, a in enumerate(answers, start=1)
            ]
        },
    )
    got = s3.get_object(Bucket=BUCKET, Key="big", ChecksumMode="ENABLED")
    assert got["Body"].read() == b"".join(parts)
    expected_etag = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + "-3"
    assert got["ETag"].strip('"') == expected_etag
    composite = b"".join(binascii.crc32(p).to_bytes(4, "big") for p in parts)
    expected_crc = base64.b64encode(binascii.crc32(composite).to_bytes(4, "big")).decode()
    assert got["ChecksumCRC32"].split("-")[0] == expected_crc


def test_a_body_bigger_than_the_memory_limit_round_trips(s3, tmp_path: Path) -> None:
    body = os.urandom(3 * PART + 7)
    s3.put_object(Bucket=BUCKET, Key="single", Body=body)
    got = s3.get_object(Bucket=BUCKET, Key="single")
    assert got["Body"].read() == body and got["ETag"].strip('"') == hashlib.md5(body).hexdigest()
    source = tmp_path / "file"
    source.write_bytes(body)
    s3.upload_file(str(source), BUCKET, "managed")  # the transfer manager: 8 MiB parts, in parallel
    assert s3.get_object(Bucket=BUCKET, Key="managed")["Body"].read() == body


class _Trickle(io.RawIOBase):
    """A socket-like raw stream that hands out at most `step` bytes per read, then EOF."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.step, self.pos = data, step, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = min(self.step, len(buffer), len(self.data) - self.pos)
        buffer[:count] = self.data[self.pos : self.pos + count]
        self.pos += count
        return count


def _limited(data: bytes, limit: int, *, step: int = 1 << 16, is_max: bool = False) -> LimitedStream:
    return LimitedStream(io.BufferedReader(_Trickle(data, step)), limit, is_max=is_max)


def test_a_body_is_read_whole_from_a_stream_that_trickles() -> None:
    multipart.apply()
    body = os.urandom(3 * 1024 * 1024 + 7)
    assert _limited(body + b"next request", len(body), step=4096).readall() == body


def test_a_body_cut_short_is_a_disconnect_not_a_short_read() -> None:
    multipart.apply()
    with pytest.raises(ClientDisconnected):
        _limited(b"x" * 100, 1000).readall()


def test_a_maximum_limit_reads_to_the_end_and_an_exhausted_stream_gives_nothing() -> None:
    multipart.apply()
    stream = _limited(b"y" * 100, 1000, is_max=True)
    assert stream.readall() == b"y" * 100
    exact = _limited(b"z" * 10, 10)
    assert exact.readall() == b"z" * 10
    assert exact.readall() == b""
