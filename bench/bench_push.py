"""Upload throughput: `model push` (transfer manager, multipart, parallel) vs a single-threaded put_object loop.

    .venv/bin/python bench/bench_push.py [--model-dir DIR] [--rounds 3]

Both upload the same >= 200 MB checkpoint to the same fresh embedded emulator, in
interleaved rounds (push, loop, push, loop, ...), each to its own prefix, which is
emptied afterwards so the emulator's memory does not grow. `model push` time includes
its verification (HeadObject per file) and the manifest; the loop does none of that.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import boto3
from botocore.config import Config

from llm_twin.checkpoints import inspect_checkpoint
from llm_twin.local.daemon import LocalAws, free_port
from llm_twin.model_server.checkpoint import create_sized_checkpoint
from llm_twin.model_store import DEFAULT_TRANSFER, ModelStore

BUCKET = "llm-twin-bench-artifacts"


def s3_client(port: int):
    session = boto3.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="eu-central-1"
    )
    config = Config(
        s3={"addressing_style": "path"}, max_pool_connections=DEFAULT_TRANSFER.max_request_concurrency + 2
    )
    return session.client("s3", endpoint_url=f"http://127.0.0.1:{port}", config=config)


def put_object_loop(s3, root: Path, relative_paths: list[str], prefix: str) -> None:
    for relative in relative_paths:
        with open(root / relative, "rb") as body:
            s3.put_object(Bucket=BUCKET, Key=prefix + relative, Body=body)


def empty(s3, prefix: str) -> None:
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    if listed:
        s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": o["Key"]} for o in listed]})


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
        relative_paths = [f.relative for f in checkpoint.files]
        megabytes = checkpoint.total_bytes / 1e6
        print(f"checkpoint: {model_dir} ({len(relative_paths)} files, {megabytes:.0f} MB)")
        port = free_port()
        emulator = LocalAws(Path(scratch) / "state", port)
        emulator.up()
        try:
            s3 = s3_client(port)
            s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
            store = ModelStore(s3, BUCKET)
            timings: dict[str, list[float]] = {"model push": [], "put_object loop": []}
            for round_number in range(args.rounds):
                start = time.perf_counter()
                result = store.push(checkpoint, "bench", f"round{round_number}")
                timings["model push"].append(time.perf_counter() - start)
                assert result.bytes_uploaded == checkpoint.total_bytes
                empty(s3, f"models/bench/round{round_number}/")

                prefix = f"loop/round{round_number}/"
                start = time.perf_counter()
                put_object_loop(s3, model_dir, relative_paths, prefix)
                timings["put_object loop"].append(time.perf_counter() - start)
                empty(s3, prefix)
                print(
                    f"round {round_number + 1}: push {timings['model push'][-1]:.2f}s, "
                    f"loop {timings['put_object loop'][-1]:.2f}s"
                )
        finally:
            emulator.down()

    medians = {name: statistics.median(values) for name, values in timings.items()}
    for name, seconds in medians.items():
        print(f"{name:16s}: {seconds:6.2f} s  {megabytes / seconds:7.1f} MB/s (median of {args.rounds})")
    print(
        f"ratio model push / put_object loop throughput: {medians['put_object loop'] / medians['model push']:.2f}x"
    )


if __name__ == "__main__":
    main()
