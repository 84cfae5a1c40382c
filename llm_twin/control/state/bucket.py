"""The Terraform state bucket, made and kept right through boto3 (transport layer).

Why boto3 and not a Terraform stack: the bucket must exist before any S3 backend can be
initialised, so a stack for it could only keep its own state locally, on one machine.
Run from a second machine (or after that file is lost), such a stack would try to create
the bucket again and fail. Here every property is read first and written only when it
differs, so `llm-twin bootstrap-state` converges from anywhere and a second run changes
nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from llm_twin.errors import AwsError

ENCRYPTIONS = ("AES256", "aws:kms", "aws:kms:dsse")
PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


@dataclass(frozen=True)
class StateBucketResult:
    """What `ensure_state_bucket` found and did."""

    bucket: str
    """The bucket's name."""
    created: bool
    """True when this call created the bucket."""
    changed: tuple[str, ...]
    """The properties written (empty when the bucket already matched: a no-op run)."""


def tls_only_policy(bucket: str, partition: str = "aws") -> dict[str, Any]:
    """Deny every request that is not over TLS: state holds secrets in plain text."""
    arn = f"arn:{partition}:s3:::{bucket}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _read(call: Any, missing: tuple[str, ...], **kwargs: Any) -> dict[str, Any] | None:
    """A Get* call's response, or None when the property is not set (AWS answers an error)."""
    try:
        answer: dict[str, Any] = call(**kwargs)
        return answer
    except ClientError as exc:
        if _code(exc) in missing:
            return None
        raise


def _bucket_exists(s3: Any, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
        return True
    except ClientError as exc:
        if _code(exc) in ("404", "NoSuchBucket", "NotFound"):
            return False
        if _code(exc) in ("403", "AccessDenied"):
            raise AwsError(
                f"the state bucket {bucket} exists but these credentials cannot use it "
                "(another account's bucket?): set STATE_BUCKET to a name of your own"
            ) from exc
        raise


def state_bucket_exists(s3: Any, bucket: str) -> bool:
    """True when the bucket is there and ours to use."""
    try:
        return _bucket_exists(s3, bucket)
    except ClientError as exc:
        raise AwsError(f"checking the state bucket {bucket} failed: {exc}") from exc


def ensure_state_bucket(s3: Any, bucket: str, region: str, tags: dict[str, str]) -> StateBucketResult:
    """Create the bucket if needed, then make each property match; idempotent."""
    try:
        return _ensure(s3, bucket, region, tags)
    except ClientError as exc:
        raise AwsError(f"preparing the state bucket {bucket} failed: {exc}") from exc


def _ensure(s3: Any, bucket: str, region: str, tags: dict[str, str]) -> StateBucketResult:
    changed: list[str] = []
    created = False
    if not _bucket_exists(s3, bucket):
        options: dict[str, Any] = {"Bucket": bucket, "ObjectOwnership": "BucketOwnerEnforced"}
        if region != "us-east-1":
            options["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(**options)
        created = True
        changed.append("bucket")

    # Versioning keeps every earlier state: a bad apply can be rolled back by hand.
    if s3.get_bucket_versioning(Bucket=bucket).get("Status") != "Enabled":
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        changed.append("versioning")

    encryption = _read(
        s3.get_bucket_encryption, ("ServerSideEncryptionConfigurationNotFoundError",), Bucket=bucket
    )
    rules = (encryption or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    algorithms = [r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for r in rules]
    if not any(a in ENCRYPTIONS for a in algorithms):
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                        "BucketKeyEnabled": True,
                    }
                ]
            },
        )
        changed.append("encryption")

    block = _read(s3.get_public_access_block, ("NoSuchPublicAccessBlockConfiguration",), Bucket=bucket)
    if (block or {}).get("PublicAccessBlockConfiguration") != PUBLIC_ACCESS_BLOCK:
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK)
        changed.append("public access block")

    ownership = _read(s3.get_bucket_ownership_controls, ("OwnershipControlsNotFoundError",), Bucket=bucket)
    owner_rules = (ownership or {}).get("OwnershipControls", {}).get("Rules", [])
    if owner_rules != [{"ObjectOwnership": "BucketOwnerEnforced"}]:
        s3.put_bucket_ownership_controls(
            Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
        )
        changed.append("object ownership")

    policy = tls_only_policy(bucket)
    current = _read(s3.get_bucket_policy, ("NoSuchBucketPolicy",), Bucket=bucket)
    if current is None or json.loads(current["Policy"]) != policy:
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
        changed.append("TLS-only policy")

    tagging = _read(s3.get_bucket_tagging, ("NoSuchTagSet",), Bucket=bucket)
    current_tags = {t["Key"]: t["Value"] for t in (tagging or {}).get("TagSet", [])}
    if current_tags != tags:
        s3.put_bucket_tagging(
            Bucket=bucket, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]}
        )
        changed.append("tags")
    return StateBucketResult(bucket=bucket, created=created, changed=tuple(changed))
