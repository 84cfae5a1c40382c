"""Faster S3 uploads in the emulator, so parallel multipart uploads can run side by side.

Measured with bench/bench_push.py on moto 5.2.1: `model push` (multipart, parts in
parallel) was 0.7x the speed of a plain put_object loop. The server, not the client, was
the limit (py-spy: client threads waiting on the socket), and most of its time held the GIL:

- CompleteMultipartUpload made about five full copies of the object in one request thread
  (each part read back twice, appended to a bytearray, again to a second bytearray for the
  default CRC64NVME checksum, then copied to `bytes`), before writing it out;
- every part was spooled to a temporary file, read back for its MD5 ETag, read again at
  completion;
- werkzeug read each request body 64 KiB at a time, appending each piece;
- any value above the in-memory limit was written to memory first, then copied to its file.

Here: a part keeps the request's bytes, with its MD5 and checksum computed at once (in
parallel with the other parts); completion writes the parts one after another into the
object's file; a body is read into one buffer of its length; a large value goes straight
to its file. ETags, checksums and content are unchanged (tests/unit/llm_twin_local/aws/test_multipart.py).
The last two help a single PutObject as much as a multipart upload. CopyObject also keeps
a checksum's type (`model push` copies unchanged files from an earlier version).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from typing import cast

from moto.s3 import models as s3_models
from moto.s3.exceptions import EntityTooSmall, InvalidPart, MalformedXML, NoSuchUpload
from moto.s3.utils import compute_checksum
from moto.settings import S3_UPLOAD_PART_MIN_SIZE
from moto.utilities.utils import md5_hash
from werkzeug import wsgi

from llm_twin_local.aws.registry import PATCHES


class KeptPart(s3_models.FakeKey):
    """A part made by `_set_part`: moto's part, plus the request's bytes and checksum it keeps."""

    part_bytes: bytes
    """The part's content, kept until completion instead of in moto's spooled buffer."""
    part_checksums: dict[str, bytes]
    """The part's raw checksum by algorithm, computed when the part arrived."""


def _complete(
    self: s3_models.FakeMultipart, body: Iterator[tuple[int, str]]
) -> tuple[PartChain, str, tuple[str, str, int] | None]:
    """moto's FakeMultipart.complete with one read per part and one copy of the whole object."""
    algorithm = self.metadata.get("x-amz-checksum-algorithm")
    checksum_type = self.metadata.get("x-amz-checksum-type")
    builder = s3_models.MultipartChecksumBuilder(algorithm, checksum_type)
    chunks: list[bytes] = []
    md5s = bytearray()
    last: s3_models.FakeKey | None = None
    for number, etag in body:
        part = self.parts.get(number)
        if part is None or part.etag.replace('"', "") != etag.replace('"', ""):
            raise InvalidPart()
        if last is not None and last.contentsize < S3_UPLOAD_PART_MIN_SIZE:
            raise EntityTooSmall()
        value = _part_bytes(part)
        md5s.extend(bytes.fromhex(part.etag.replace('"', "")))
        if builder.checksum_type == "COMPOSITE":
            kept = part.part_checksums if isinstance(part, KeptPart) else {}
            precomputed = kept.get(builder.checksum_algorithm)
            if precomputed is None:
                builder.addPart(value)
            else:
                builder.checksum.extend(precomputed)
                builder.part_count += 1
        chunks.append(value)
        last = part
    if not chunks:
        raise MalformedXML
    whole = PartChain(chunks)
    if builder.checksum_type == "COMPOSITE":
        checksum = builder.build()
    else:
        checksum = ("FULL_OBJECT", compute_checksum(b"".join(chunks), builder.checksum_algorithm).decode(), 1)
    full_etag = md5_hash()
    full_etag.update(bytes(md5s))
    return whole, f"{full_etag.hexdigest()}-{len(chunks)}", checksum


class PartChain:
    """A completed upload's bytes as its parts, written one after another into the object's buffer.

    Joining them first would copy the whole object once more, in the one thread that
    completes the upload; `_write_value` accepts this in place of `bytes`.
    """

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.size = sum(len(chunk) for chunk in chunks)

    def __len__(self) -> int:
        return self.size


def _write_value(self: s3_models.FakeKey, new_value: bytes | str | PartChain) -> None:
    """moto's FakeKey.value setter, minus a copy: a value bigger than the in-memory limit goes
    straight to the temporary file, instead of into memory first and then copied out."""
    if isinstance(new_value, str):
        new_value = new_value.encode(s3_models.DEFAULT_TEXT_ENCODING)
    buffer = self._value_buffer
    buffer.seek(0)
    buffer.truncate()
    if len(new_value) > self._max_buffer_size:
        buffer.rollover()  # a no-op once rolled over
    for chunk in new_value.chunks if isinstance(new_value, PartChain) else (new_value,):
        buffer.write(chunk)
    self.contentsize = len(new_value)


def _set_part(self: s3_models.FakeMultipart, part_id: int, value: bytes) -> s3_models.FakeKey:
    """moto's FakeMultipart.set_part without copies: the part keeps the request's bytes until completion.

    Its ETag (the part's MD5, which the response carries) is computed from those bytes
    directly, instead of being read back out of a temporary file.
    """
    if part_id < 1:
        raise NoSuchUpload(upload_id=part_id)
    key = KeptPart(
        part_id,  # type: ignore[arg-type]  # moto names a part by its number, as its own set_part does
        b"",
        account_id=self.account_id,
        region_name=self.region_name,
        encryption=self.sse_encryption,
        kms_key_id=self.kms_key_id,
    )
    key.part_bytes = value
    key.contentsize = len(value)
    key._etag = md5_hash(value).hexdigest()
    # The composite checksum's part is computed here, in parallel with the other parts, not at completion.
    algorithm = self.metadata.get("x-amz-checksum-algorithm")
    if algorithm:
        key.part_checksums = {algorithm: compute_checksum(value, algorithm, encode_base64=False)}
    if part_id in self.parts:
        self.parts[part_id].dispose()
    self.parts[part_id] = key
    if part_id not in self.partlist:
        bisect.insort(self.partlist, part_id)
    return key


def _part_bytes(part: s3_models.FakeKey) -> bytes:
    """A part's bytes: kept by `_set_part`, or in moto's buffer for parts made another way (UploadPartCopy)."""
    return part.part_bytes if isinstance(part, KeptPart) else part.value


def _readall(self: wsgi.LimitedStream) -> bytes:
    """werkzeug's LimitedStream.readall as one read of the body's length from the buffered socket.

    The original reads 64 KiB at a time and appends each piece: for a 290 MB body that is
    thousands of Python-level copies holding the GIL, so with several uploads in flight the
    server's threads take turns instead of running side by side. A zero-filled buffer copied
    out to `bytes` at the end still held it for two full passes over the body (py-spy --gil:
    over half of the server's GIL time during `model push`). `BufferedReader.read(n)` makes
    one uninitialised `bytes` of that length and has the kernel fill it with the GIL released.
    """
    if self.is_exhausted:
        self.on_exhausted()
        return b""
    pieces: list[bytes] = []
    while not self.is_exhausted:
        try:
            piece = self._stream.read(self.limit - self._pos)
        except (OSError, ValueError) as error:
            self.on_disconnect(error=error)
            break
        if not piece:
            self.on_disconnect()
            break
        self._pos += len(piece)
        pieces.append(piece)
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)


CopyObject = Callable[..., None]
"""moto's S3Backend.copy_object: (self, src_key, dest_bucket_name, dest_key_name, *options)."""


def _copy_object(original: CopyObject) -> CopyObject:
    def copy_object(
        self: s3_models.S3Backend,
        src_key: s3_models.FakeKey,
        dest_bucket_name: str,
        dest_key_name: str,
        *args: object,
        **kwargs: object,
    ) -> None:
        """moto copies a checksum's value but not its type: a multipart object's COMPOSITE checksum then
        reads as a FULL_OBJECT one, which boto3 recomputes and rejects. The copy keeps both, as S3 does."""
        original(self, src_key, dest_bucket_name, dest_key_name, *args, **kwargs)
        copied = self.get_object(dest_bucket_name, dest_key_name)
        if copied is not None and src_key.checksum_value:
            copied.checksum_type = src_key.checksum_type
            copied.checksum_parts = src_key.checksum_parts

    # A function takes any attribute; typeshed's Callable has none. __wrapped__ names moto's original.
    copy_object.__wrapped__ = original  # type: ignore[attr-defined]
    return copy_object


@PATCHES.once("s3.multipart_uploads")
def apply() -> None:
    """Patch moto's multipart upload in place."""
    # A PartChain where moto's signature says bytes: moto hands it only to the value setter below.
    s3_models.FakeMultipart.complete = _complete  # type: ignore[assignment]
    s3_models.FakeMultipart.set_part = _set_part
    # On the class, `value` is the property object; mypy types a class-level read as its getter.
    moto_value = cast(property, s3_models.FakeKey.value)
    s3_models.FakeKey.value = property(moto_value.fget, _write_value)  # type: ignore[assignment]
    wsgi.LimitedStream.readall = _readall
    s3_models.S3Backend.copy_object = _copy_object(s3_models.S3Backend.copy_object)
