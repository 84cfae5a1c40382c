"""Upload throughput: `model push` (transfer manager, multipart, parallel) vs a single-threaded put_object loop.

    .venv/bin/python bench/bench_push.py [--model-dir DIR] [--rounds 3]

Both upload the same >= 200 MB checkpoint to the same fresh embedded emulator, in
interleaved rounds (push, loop, push, loop, ...), each to its own prefix, which is
emptied afterwards so the emulator's memory does not grow. `model push` time includes
its verification (HeadObject per file) and the manifest; the loop does none of that.

Against an emulator on the same machine both paths are CPU-bound, so the bench also
reports the CPU each run took (this process plus the emulator's) and how many cores the
loop kept busy. A parallel upload doing the loop's work can be at most
cores / (loop's busy cores) times faster: that ceiling is printed next to the ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import boto3
from botocore.config import Config

from llm_twin.control.models.store import DEFAULT_TRANSFER, ModelStore
from llm_twin.protocol.checkpoints import inspect_checkpoint
from llm_twin_local.aws.daemon import LocalAws, free_port
from llm_twin_local.model_server.checkpoint import create_sized_checkpoint

BUCKET = "llm-twin-bench-artifacts"


def s3_client(port: int):
    session = boto3.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="eu-central-1"
    )
    config = Config(
        s3={"addressing_style": "path"}, max_pool_connections=DEFAULT_TRANSFER.max_request_concurrency + 2
    )
    return session.client("s3", endpoint_url=f"http://127.0.0.1:{port}", config=config)


def cpu_seconds(emulator_pid: int) -> float:
    """User + system CPU of this process (all its threads) and of the emulator, from /proc (Linux)."""
    own = os.times()
    fields = Path(f"/proc/{emulator_pid}/stat").read_text().rsplit(")", 1)[1].split()
    return own.user + own.system + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
        emulator_pid = emulator.status().pid
        assert emulator_pid is not None
        try:
            s3 = s3_client(port)
            s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
            store = ModelStore(s3, BUCKET)
            timings: dict[str, list[float]] = {"model push": [], "put_object loop": []}
            cpu: dict[str, list[float]] = {"model push": [], "put_object loop": []}

            def timed(name: str, upload, *args) -> None:
                cpu_start, start = cpu_seconds(emulator_pid), time.perf_counter()
                upload(*args)
                timings[name].append(time.perf_counter() - start)
                cpu[name].append(cpu_seconds(emulator_pid) - cpu_start)

            for round_number in range(args.rounds):
                version, prefix = f"round{round_number}", f"loop/round{round_number}/"
                timed("model push", store.push, checkpoint, "bench", version)
                empty(s3, f"models/bench/{version}/")
                timed("put_object loop", put_object_loop, s3, model_dir, relative_paths, prefix)
                empty(s3, prefix)
                print(
                    f"round {round_number + 1}: push {timings['model push'][-1]:.2f}s, "
                    f"loop {timings['put_object loop'][-1]:.2f}s"
                )
        finally:
            emulator.down()

    medians = {name: statistics.median(values) for name, values in timings.items()}
    cpu_medians = {name: statistics.median(values) for name, values in cpu.items()}
    for name, seconds in medians.items():
        print(
            f"{name:16s}: {seconds:6.2f} s  {megabytes / seconds:7.1f} MB/s  "
            f"CPU {cpu_medians[name]:5.2f} s = {cpu_medians[name] / seconds:4.2f} cores busy "
            f"(median of {args.rounds})"
        )
    cores = len(os.sched_getaffinity(0))
    loop_busy = cpu_medians["put_object loop"] / medians["put_object loop"]
    print(
        f"CPU per upload, model push / put_object loop: "
        f"{cpu_medians['model push'] / cpu_medians['put_object loop']:.2f}x"
    )
    print(
        f"ceiling on {cores} cores for an upload doing the loop's work: {cores / loop_busy:.2f}x "
        f"(the loop keeps {loop_busy:.2f} cores busy)"
    )
    print(
        f"ratio model push / put_object loop throughput: {medians['put_object loop'] / medians['model push']:.2f}x"
    )


if __name__ == "__main__":
    main()
