"""64 concurrent streaming clients against one local endpoint, against one client alone.

    .venv/bin/python bench/bench_load.py [--model-dir DIR] [--clients 64] [--seconds 20] [--new-tokens 16]

Starts its own embedded emulator on a free loopback port, deploys one endpoint with boto3
(the same CreateModel / CreateEndpointConfig / CreateEndpoint calls Terraform makes), and
streams through the real client (`LLMInferenceSagemakerEndpoint.stream()`, boto3's
`invoke_endpoint_with_response_stream`). Three phases of `--seconds` each, in one run:

1. one client, requests back to back (idle);
2. `--clients` clients, each with requests back to back (load);
3. one client again, so a drift in the machine's load shows as two different idle figures.

Prints requests/s, tokens/s and p50/p95 time to first token (TTFT) of each phase, the
throughput ratio (load / idle) and the TTFT ratio (p50 under load / p50 idle), the number
of failed requests, and the model server's memory before, at the peak and after.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.config import Config

from llm_twin.client.endpoint import GenerationResult, LLMInferenceSagemakerEndpoint, runtime_config
from llm_twin.client.stream import TokenEvent
from llm_twin_local.aws.daemon import LocalAws, free_port
from llm_twin_local.model_server.checkpoint import create_sized_checkpoint

PROMPT = "Write a haiku about the cloud"
REGION = "eu-central-1"


@dataclass
class Phase:
    """What the clients of one phase measured."""

    name: str
    seconds: float = 0.0
    ttfts: list[float] = field(default_factory=list)
    tokens: int = 0
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def requests(self) -> int:
        return len(self.ttfts)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.ttfts)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")

    def line(self) -> str:
        return (
            f"{self.name:<16}: {self.requests / self.seconds:7.2f} requests/s  "
            f"{self.tokens / self.seconds:7.1f} tokens/s  "
            f"TTFT p50 {self.percentile(0.5) * 1000:7.1f} ms  p95 {self.percentile(0.95) * 1000:7.1f} ms  "
            f"({self.requests} requests, {len(self.failures)} failed)"
        )


def _session() -> boto3.Session:
    return boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION)


def deploy(port: int, model_dir: Path) -> None:
    """One endpoint "e" serving `model_dir`, InService."""
    sagemaker = _session().client("sagemaker", endpoint_url=f"http://127.0.0.1:{port}")
    sagemaker.create_model(
        ModelName="load-model",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
        PrimaryContainer={"Image": "tgi:1", "Environment": {"HF_MODEL_ID": str(model_dir)}},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="load-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "load-model",
                "InstanceType": "ml.g5.2xlarge",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName="e", EndpointConfigName="load-config")
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        answer = sagemaker.describe_endpoint(EndpointName="e")
        if answer["EndpointStatus"] == "InService":
            return
        if answer["EndpointStatus"] == "Failed":
            raise RuntimeError(answer.get("FailureReason"))
        time.sleep(0.5)
    raise RuntimeError("the endpoint did not reach InService in 600s")


def run_phase(name: str, runtime, clients: int, seconds: float, new_tokens: int) -> Phase:
    """`clients` threads streaming back to back until `seconds` have passed (requests then finish)."""
    phase = Phase(name)
    barrier = threading.Barrier(clients + 1)
    deadline = 0.0

    def client_loop(number: int) -> None:
        sdk = LLMInferenceSagemakerEndpoint("e", runtime)
        barrier.wait()
        request = 0
        while time.monotonic() < deadline:
            request += 1
            sdk.set_payload(PROMPT, {"max_new_tokens": new_tokens, "seed": number * 100_000 + request})
            start = time.monotonic()
            first = None
            tokens = 0
            try:
                for event in sdk.stream():
                    if isinstance(event, TokenEvent):
                        tokens += 1
                        if first is None:
                            first = time.monotonic() - start
                    elif not isinstance(event, GenerationResult):
                        raise TypeError(f"unexpected event {event!r}")
            except Exception as exc:  # noqa: BLE001 - a benchmark counts failures, it does not stop
                with phase.lock:
                    phase.failures.append(f"{type(exc).__name__}: {exc}")
                continue
            with phase.lock:
                phase.ttfts.append(first if first is not None else float("nan"))
                phase.tokens += tokens

    threads = [threading.Thread(target=client_loop, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    deadline = started + seconds
    barrier.wait()
    for thread in threads:
        thread.join()
    phase.seconds = time.monotonic() - started
    return phase


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def model_server_pid(emulator_pid: int) -> int:
    """The emulator's one child process: the model server behind endpoint "e"."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == emulator_pid:
                return int(entry.name)
    raise RuntimeError("the model server process was not found")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-dir", type=Path, help="defaults to a fresh 'tiny' test checkpoint")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--new-tokens", type=int, default=16)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        model_dir = args.model_dir or create_sized_checkpoint(Path(scratch) / "model", "tiny")
        emulator = LocalAws(Path(scratch) / "state", free_port())
        emulator.up()
        try:
            deploy(emulator.port, model_dir)
            emulator_pid = emulator.status().pid
            assert emulator_pid is not None
            server_pid = model_server_pid(emulator_pid)
            config = runtime_config(read_timeout=120).merge(Config(max_pool_connections=args.clients))
            runtime = _session().client(
                "sagemaker-runtime", endpoint_url=f"http://127.0.0.1:{emulator.port}", config=config
            )
            run_phase("warm-up", runtime, 1, 2.0, args.new_tokens)
            memory_idle = rss(server_pid)
            peak = [memory_idle]
            stop = threading.Event()

            def watch_memory() -> None:
                while not stop.wait(0.2):
                    peak.append(rss(server_pid))

            watcher = threading.Thread(target=watch_memory, daemon=True)
            watcher.start()
            idle_before = run_phase("1 client", runtime, 1, args.seconds, args.new_tokens)
            loaded = run_phase(
                f"{args.clients} clients", runtime, args.clients, args.seconds, args.new_tokens
            )
            idle_after = run_phase("1 client again", runtime, 1, args.seconds, args.new_tokens)
            stop.set()
            watcher.join()
            time.sleep(2.0)
            memory_after = rss(server_pid)
        finally:
            emulator.down()

    model = args.model_dir or "the tiny test checkpoint"
    print(f"model: {model}, {args.new_tokens} new tokens per request, phases of {args.seconds:g}s")
    for phase in (idle_before, loaded, idle_after):
        print(phase.line())
    idle_rate = (idle_before.requests / idle_before.seconds + idle_after.requests / idle_after.seconds) / 2
    idle_ttft = statistics.mean([idle_before.percentile(0.5), idle_after.percentile(0.5)])
    print(
        f"throughput ratio : {loaded.requests / loaded.seconds / idle_rate:7.2f}x  ({args.clients} clients / 1)"
    )
    print(f"TTFT p50 ratio   : {loaded.percentile(0.5) / idle_ttft:7.2f}x  (under load / idle)")
    print(f"failed requests  : {sum(len(p.failures) for p in (idle_before, loaded, idle_after))}")
    for failure in sorted(set(loaded.failures))[:5]:
        print(f"  {failure}")
    print(
        f"model server RSS : idle {memory_idle / 1e6:.0f} MB, peak {max(peak) / 1e6:.0f} MB, "
        f"after {memory_after / 1e6:.0f} MB"
    )


if __name__ == "__main__":
    main()
