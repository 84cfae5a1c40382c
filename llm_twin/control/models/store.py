"""Model versions in the artifact bucket: push, list, remove (boto3 transport only).

Layout: `s3://<bucket>/models/<name>/<version>/<files...>`, each object carrying its
SHA-256 as metadata, plus `llm-twin-manifest.json` listing every file. The manifest is
written LAST, after every file was checked by HeadObject (size and checksum), and is
removed FIRST before anything under a prefix is overwritten or deleted. So a prefix
without a manifest is never trusted as a model: an interrupted push shows as
incomplete, and a re-run completes it, uploading only what is missing or different.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from llm_twin.control.aws import AwsClients
from llm_twin.control.models.transfer import CHECKSUM_METADATA, DEFAULT_TRANSFER, OnBytes, upload_files
from llm_twin.errors import ModelConflictError, ModelStoreError
from llm_twin.protocol.checkpoints import MANIFEST, Checkpoint, CheckpointFile, Manifest, model_prefix

__all__ = [
    "CHECKSUM_METADATA",
    "DEFAULT_TRANSFER",
    "MANIFEST",
    "ModelStore",
    "PushResult",
    "StoredModel",
    "open_store",
]

MODELS_ROOT = "models/"
COPY_OBJECT_LIMIT = 5 * 1024**3
"""CopyObject's largest source; Hugging Face's own shards stay under it (5 GB)."""


@dataclass(frozen=True)
class PushResult:
    uri: str
    """s3://bucket/models/<name>/<version>/ (what MODEL_DATA_S3_URI takes)."""
    name: str
    version: str
    uploaded: tuple[str, ...]
    copied: tuple[str, ...]
    """Files another complete version of the model already held: copied inside the bucket, not uploaded."""
    skipped: tuple[str, ...]
    """Files already stored with the same size and checksum."""
    removed: tuple[str, ...]
    """Objects of another model deleted under --force."""
    bytes_uploaded: int


@dataclass(frozen=True)
class StoredModel:
    """One model version in the bucket."""

    name: str
    version: str
    uri: str
    objects: int
    bytes: int
    complete: bool
    """False when the manifest is missing: an interrupted push, not to be deployed."""
    created: str = ""


def _fail(action: str, exc: Exception) -> ModelStoreError:
    return ModelStoreError(f"{action} failed: {exc}")


class ModelStore:
    """The models under one bucket, through one S3 client."""

    def __init__(self, s3: Any, bucket: str, transfer_config: TransferConfig = DEFAULT_TRANSFER) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.transfer_config = transfer_config

    def uri(self, prefix: str) -> str:
        return f"s3://{self.bucket}/{prefix}"

    # -- reading -----------------------------------------------------------------------------

    def check_bucket(self) -> None:
        try:
            self.s3.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("404", "NoSuchBucket", "NotFound"):
                raise ModelStoreError(
                    f"the artifact bucket {self.bucket} does not exist yet: run `make apply` (llm-twin apply) first"
                ) from exc
            raise _fail(f"HeadBucket {self.bucket}", exc) from exc
        except BotoCoreError as exc:
            raise _fail(f"HeadBucket {self.bucket}", exc) from exc

    def stored_objects(self, prefix: str) -> dict[str, int]:
        """Key (relative to `prefix`) -> size, for every object under it."""
        found: dict[str, int] = {}
        try:
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    found[item["Key"][len(prefix) :]] = item["Size"]
        except (ClientError, BotoCoreError) as exc:
            raise _fail(f"listing {self.uri(prefix)}", exc) from exc
        return found

    def manifest(self, prefix: str) -> Manifest | None:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=prefix + MANIFEST)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise _fail(f"reading {self.uri(prefix + MANIFEST)}", exc) from exc
        try:
            manifest: Manifest = json.loads(body)
            return manifest
        except ValueError:
            return None

    def stored_checksum(self, key: str) -> tuple[int, str] | None:
        """(size, sha256 metadata) of one object, or None when absent."""
        try:
            head = self.s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise _fail(f"HeadObject {self.uri(key)}", exc) from exc
        return head["ContentLength"], head.get("Metadata", {}).get(CHECKSUM_METADATA, "")

    def list_models(self) -> list[StoredModel]:
        """Every `models/<name>/<version>/` prefix, complete or not."""
        self.check_bucket()
        groups: dict[tuple[str, str], list[tuple[str, int]]] = {}
        for relative, size in self.stored_objects(MODELS_ROOT).items():
            parts = relative.split("/", 2)
            if len(parts) == 3:
                groups.setdefault((parts[0], parts[1]), []).append((parts[2], size))
        models = []
        for (name, version), objects in sorted(groups.items()):
            prefix = model_prefix(name, version)
            has_manifest = any(key == MANIFEST for key, _ in objects)
            manifest = self.manifest(prefix) if has_manifest else None
            models.append(
                StoredModel(
                    name=name,
                    version=version,
                    uri=self.uri(prefix),
                    objects=sum(1 for key, _ in objects if key != MANIFEST),
                    bytes=sum(size for key, size in objects if key != MANIFEST),
                    complete=manifest is not None,
                    created=manifest.get("created", "") if manifest is not None else "",
                )
            )
        return models

    # -- writing -----------------------------------------------------------------------------

    def push(
        self,
        checkpoint: Checkpoint,
        name: str,
        version: str,
        *,
        force: bool = False,
        on_bytes: OnBytes | None = None,
        on_plan: Callable[[int], None] | None = None,
    ) -> PushResult:
        """Upload what is missing or different, verify every file, then write the manifest.

        `on_plan` hears the bytes about to be uploaded (for a progress bar's length);
        `on_bytes` hears them as they go. ModelConflictError when the prefix holds
        another model and `force` is not set; nothing is changed then.
        """
        if checkpoint.weight_format != "safetensors":
            raise ModelStoreError("only safetensors checkpoints are pushed (convert pickle weights first)")
        prefix = model_prefix(name, version)
        self.check_bucket()
        stored = self.stored_objects(prefix)
        ours = {f.relative: f for f in checkpoint.files}
        if MANIFEST in ours:
            raise ModelStoreError(f"the checkpoint holds a file named {MANIFEST}, which llm-twin reserves")

        wanted, skipped = [], []
        conflicts = [r for r in stored if r != MANIFEST and r not in ours]
        for item in checkpoint.files:
            current = self.stored_checksum(prefix + item.relative) if item.relative in stored else None
            if current == (item.size, item.sha256):
                skipped.append(item.relative)
            else:
                wanted.append(item)
                if current is not None:
                    conflicts.append(item.relative)
        manifest = self.manifest(prefix) if MANIFEST in stored else None
        if manifest is not None and _manifest_files(manifest) != {
            f.relative: f.sha256 for f in checkpoint.files
        }:
            conflicts.append(MANIFEST)
        if conflicts and not force:
            raise ModelConflictError(
                f"{self.uri(prefix)} already holds a different model ({len(conflicts)} objects differ, "
                f"e.g. {sorted(conflicts)[0]}): pass --force to replace it, or choose another --version"
            )

        extras = sorted(r for r in stored if r != MANIFEST and r not in ours)
        if MANIFEST in stored and (wanted or extras):
            # From here on the prefix is being rewritten: it must not look complete.
            self._delete([prefix + MANIFEST])
        self._delete([prefix + r for r in extras])
        sources = self._earlier_copies(name, prefix) if wanted else {}
        copies = [(item, sources[item.sha256]) for item in wanted if item.sha256 in sources]
        uploads = [item for item in wanted if item.sha256 not in sources]
        total = sum(f.size for f in uploads)
        if on_plan is not None:
            on_plan(total)
        self._copy(prefix, copies)
        self._upload(checkpoint.root, prefix, uploads, on_bytes)
        self._verify(prefix, checkpoint.files)
        if wanted or extras or manifest is None:
            self._write_manifest(prefix, name, version, checkpoint)
        return PushResult(
            uri=self.uri(prefix),
            name=name,
            version=version,
            uploaded=tuple(f.relative for f in uploads),
            copied=tuple(item.relative for item, _ in copies),
            skipped=tuple(skipped),
            removed=tuple(extras),
            bytes_uploaded=total,
        )

    def _earlier_copies(self, name: str, prefix: str) -> dict[str, tuple[str, int]]:
        """sha256 -> (key, size) of files in the other complete versions of `name` (their manifests vouch)."""
        sources: dict[str, tuple[str, int]] = {}
        root = model_prefix(name, "x")[: -len("x/")]
        for relative in sorted(self.stored_objects(root)):
            version, _, rest = relative.partition("/")
            other = model_prefix(name, version)
            if rest != MANIFEST or other == prefix:
                continue
            listed = self.manifest(other)
            for entry in listed.get("files", []) if listed is not None else []:
                if entry.get("sha256") and entry.get("path"):
                    sources.setdefault(entry["sha256"], (other + entry["path"], int(entry.get("size", 0))))
        return sources

    def _copy(self, prefix: str, copies: list[tuple[CheckpointFile, tuple[str, int]]]) -> None:
        """Server-side copies of unchanged files from an earlier version; nothing crosses the network."""
        for item, (source, size) in copies:
            if size >= COPY_OBJECT_LIMIT:
                raise ModelStoreError(f"{source} is over 5 GiB: CopyObject cannot copy it, push with --force")
            try:
                self.s3.copy_object(
                    Bucket=self.bucket,
                    Key=prefix + item.relative,
                    CopySource={"Bucket": self.bucket, "Key": source},
                    MetadataDirective="REPLACE",
                    Metadata={CHECKSUM_METADATA: item.sha256},
                )
            except (ClientError, BotoCoreError) as exc:
                raise _fail(f"copying {source} to {self.uri(prefix + item.relative)}", exc) from exc

    def _upload(self, root: Path, prefix: str, files: list[CheckpointFile], on_bytes: OnBytes | None) -> None:
        upload_files(self.s3, self.transfer_config, self.bucket, root, prefix, files, on_bytes)

    def _verify(self, prefix: str, files: tuple[CheckpointFile, ...]) -> None:
        for item in files:
            stored = self.stored_checksum(prefix + item.relative)
            if stored != (item.size, item.sha256):
                raise ModelStoreError(
                    f"verifying {self.uri(prefix + item.relative)} failed: stored (size, sha256) {stored}, "
                    f"expected ({item.size}, {item.sha256}); no manifest was written, re-run the push"
                )

    def _write_manifest(self, prefix: str, name: str, version: str, checkpoint: Checkpoint) -> None:
        body: Manifest = {
            "name": name,
            "version": version,
            "format": checkpoint.weight_format,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "files": [{"path": f.relative, "size": f.size, "sha256": f.sha256} for f in checkpoint.files],
        }
        try:
            self.s3.put_object(
                Bucket=self.bucket,
                Key=prefix + MANIFEST,
                Body=json.dumps(body, indent=2).encode(),
                ContentType="application/json",
            )
        except (ClientError, BotoCoreError) as exc:
            raise _fail(f"writing {self.uri(prefix + MANIFEST)}", exc) from exc

    def remove(self, name: str, version: str | None = None, *, keep_uri: str | None = None) -> list[str]:
        """Delete one version, or every version of `name`; the manifests go first.

        ModelConflictError, before anything is deleted, when one of them is `keep_uri`
        (the prefix the settings deploy). Returns the prefixes removed.
        """
        prefixes = sorted(
            {
                m.uri
                for m in self.list_models()
                if m.name == name and (version is None or m.version == version)
            }
        )
        what = f"{name}/{version}" if version else name
        if not prefixes:
            raise ModelStoreError(
                f"no model {what} in s3://{self.bucket}/{MODELS_ROOT}: see `llm-twin model list`"
            )
        if keep_uri in prefixes:
            raise ModelConflictError(
                f"{keep_uri} is the model MODEL_DATA_S3_URI deploys: point MODEL_DATA_S3_URI elsewhere "
                "and apply first, or pass --force"
            )
        for uri in prefixes:
            prefix = uri[len(f"s3://{self.bucket}/") :]
            keys = [prefix + k for k in self.stored_objects(prefix)]
            self._delete([k for k in keys if k.endswith("/" + MANIFEST)])
            self._delete([k for k in keys if not k.endswith("/" + MANIFEST)])
        return prefixes

    def _delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            batch = keys[start : start + 1000]
            try:
                answer = self.s3.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
                )
            except (ClientError, BotoCoreError) as exc:
                raise _fail(f"deleting under s3://{self.bucket}", exc) from exc
            if answer.get("Errors"):
                first = answer["Errors"][0]
                raise ModelStoreError(
                    f"deleting s3://{self.bucket}/{first['Key']} failed: {first['Message']}"
                )


def open_store(clients: AwsClients, bucket: str, *, path_style: bool = False) -> ModelStore:
    """The store of `bucket` through one S3 client of `clients` (the identity is the caller's
    choice: see `llm_twin.control.identity.store_credentials`); `path_style` for the emulator."""
    config = Config(
        s3={"addressing_style": "path"} if path_style else {},
        # One connection per part in flight, plus one for the listing and head calls.
        max_pool_connections=DEFAULT_TRANSFER.max_request_concurrency + 2,
        retries={"max_attempts": 5, "mode": "standard"},
    )
    return ModelStore(clients.client("s3", config), bucket)


def _manifest_files(manifest: Manifest) -> dict[str, str]:
    return {f.get("path", ""): f.get("sha256", "") for f in manifest.get("files", [])}
