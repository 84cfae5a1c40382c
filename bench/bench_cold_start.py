"""Local-target cold start: time to InService for one >= 200 MB checkpoint, safetensors vs `.bin`.

    .venv/bin/python bench/bench_cold_start.py [--model-dir DIR] [--rounds 3]

Both are served from an S3 prefix in the embedded emulator through `ModelDataSource`
(CompressionType None), so both are downloaded the same way; the `.bin` one then has to
be converted to safetensors at boot (as TGI does), the safetensors one is loaded as is.
Every round starts a fresh emulator (no download or conversion cache survives), uploads
both prefixes untimed, then times CreateEndpoint -> InService for each, one at a time,
alternating which goes first.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import boto3
import torch
from safetensors.torch import load_file

from llm_twin.control.models.store import ModelStore
from llm_twin.protocol.checkpoints import inspect_checkpoint
from llm_twin_local.aws.daemon import LocalAws, free_port
from llm_twin_local.model_server.checkpoint import create_sized_checkpoint

BUCKET = "llm-twin-bench-cold-start"
ROLE = "arn:aws:iam::123456789012:role/llm-twin-bench"


def clients(port: int):
    session = boto3.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="eu-central-1"
    )
    url = f"http://127.0.0.1:{port}"
    return session.client("s3", endpoint_url=url), session.client("sagemaker", endpoint_url=url)


def pickle_copy(model_dir: Path, target: Path) -> Path:
    """The same checkpoint with its weights as pytorch_model.bin (torch.save of the same tensors)."""
    target.mkdir()
    for item in model_dir.iterdir():
        if item.suffix != ".safetensors":
            shutil.copy2(item, target / item.name)
    torch.save(load_file(model_dir / "model.safetensors"), target / "pytorch_model.bin")
    return target


def upload_raw(s3, root: Path, prefix: str) -> str:
    """A plain upload: `model push` refuses pickle weights, which is the point of this comparison."""
    for item in sorted(root.iterdir()):
        s3.upload_file(str(item), BUCKET, prefix + item.name)
    return f"s3://{BUCKET}/{prefix}"


def time_to_in_service(sagemaker, name: str, uri: str) -> float:
    environment = {"HF_MODEL_ID": "/opt/ml/model", "MAX_INPUT_TOKENS": "128", "MAX_TOTAL_TOKENS": "512"}
    source = {"S3DataSource": {"S3Uri": uri, "S3DataType": "S3Prefix", "CompressionType": "None"}}
    sagemaker.create_model(
        ModelName=f"{name}-model",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": "tgi:bench", "Environment": environment, "ModelDataSource": source},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{name}-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": f"{name}-model",
                "InstanceType": "ml.g5.2xlarge",
                "InitialInstanceCount": 1,
            }
        ],
    )
    start = time.perf_counter()
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")
    while True:
        answer = sagemaker.describe_endpoint(EndpointName=name)
        if answer["EndpointStatus"] == "InService":
            elapsed = time.perf_counter() - start
            sagemaker.delete_endpoint(EndpointName=name)
            return elapsed
        if answer["EndpointStatus"] == "Failed":
            raise SystemExit(f"{name} failed: {answer.get('FailureReason')}")
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-dir", type=Path, help="defaults to a fresh '200mb' test checkpoint")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        model_dir = args.model_dir or create_sized_checkpoint(Path(scratch) / "m200", "200mb")
        checkpoint = inspect_checkpoint(model_dir)
        pickle_dir = pickle_copy(model_dir, Path(scratch) / "m200-bin")
        sizes = [
            (p.name, p.stat().st_size / 1e6)
            for p in (model_dir / "model.safetensors", pickle_dir / "pytorch_model.bin")
        ]
        print("checkpoint: " + ", ".join(f"{name} {mb:.0f} MB" for name, mb in sizes))
        timings: dict[str, list[float]] = {"safetensors": [], ".bin": []}
        for round_number in range(args.rounds):
            emulator = LocalAws(Path(scratch) / f"state-{round_number}", free_port())
            emulator.up()
            try:
                s3, sagemaker = clients(emulator.port)
                s3.create_bucket(
                    Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
                )
                uris = {
                    "safetensors": ModelStore(s3, BUCKET).push(checkpoint, "twin", "st").uri,
                    ".bin": upload_raw(s3, pickle_dir, "models/twin/bin/"),
                }
                order = ["safetensors", ".bin"] if round_number % 2 == 0 else [".bin", "safetensors"]
                for kind in order:
                    name = f"cold-{'st' if kind == 'safetensors' else 'bin'}-{round_number}"
                    timings[kind].append(time_to_in_service(sagemaker, name, uris[kind]))
            finally:
                emulator.down()
            print(
                f"round {round_number + 1}: safetensors {timings['safetensors'][-1]:.2f}s, "
                f".bin {timings['.bin'][-1]:.2f}s"
            )

    medians = {kind: statistics.median(values) for kind, values in timings.items()}
    for kind, seconds in medians.items():
        print(f"{kind:12s}: {seconds:6.2f} s to InService (median of {args.rounds})")
    print(f"ratio .bin / safetensors time to InService: {medians['.bin'] / medians['safetensors']:.2f}x")


if __name__ == "__main__":
    main()
