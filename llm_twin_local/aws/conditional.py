"""Atomic S3 conditional writes in the emulator: what Terraform's S3 lock file relies on.

moto 5.2.1 already answers `PutObject` with `If-None-Match: *` or `If-Match: <etag>` (and
`DeleteObject` with `If-Match`) with 412 PreconditionFailed, but it checks the condition
and then writes as two separate steps, while the server handles requests on many threads.
Two Terraform runs taking the same lock at the same moment could then both see "no
object" and both win. Here every conditional write runs its check and its write under one
lock, as S3 guarantees; unconditional writes are left as they were.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from moto.core.common_types import TYPE_RESPONSE
from moto.s3 import responses as s3_responses

from llm_twin_local.aws.registry import PATCHES

CONDITION_HEADERS = ("If-None-Match", "If-Match")
_WRITE_LOCK = threading.Lock()


S3Handler = Callable[[s3_responses.S3Response], TYPE_RESPONSE]
"""A moto S3Response handler: it answers (status, headers, body)."""


def _conditional(response: s3_responses.S3Response) -> bool:
    headers = response.headers
    return any(headers.get(name) for name in CONDITION_HEADERS)


def _serialized(original: S3Handler) -> Callable[..., TYPE_RESPONSE]:
    # Callable[..., ...]: mypy reads a precise Callable assigned to a class as a method taking self twice.
    def write(self: s3_responses.S3Response) -> TYPE_RESPONSE:
        if not _conditional(self):
            return original(self)
        with _WRITE_LOCK:
            return original(self)

    # A function takes any attribute; typeshed's Callable has none. __wrapped__ names moto's original.
    write.__wrapped__ = original  # type: ignore[attr-defined]
    return write


@PATCHES.once("s3.conditional_writes")
def apply() -> None:
    """Make conditional PutObject / DeleteObject atomic."""
    cls = s3_responses.S3Response
    cls.put_object = _serialized(cls.put_object)
    cls.delete_object = _serialized(cls.delete_object)
