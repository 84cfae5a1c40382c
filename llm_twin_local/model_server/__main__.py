"""`python -m llm_twin_local.model_server`: serve a local checkpoint, or make a test one.

    python -m llm_twin_local.model_server --model-dir DIR [--host H] [--port N] [...]
    python -m llm_twin_local.model_server --api vllm --model-dir DIR [--served-model-name NAME] [...]
    python -m llm_twin_local.model_server make-test-model DIR [--size tiny|bench|200mb]

`--api tgi` (the default) serves TGI's API; every TGI option also reads the container's
environment variable of TGI's name (MAX_INPUT_TOKENS, MAX_TOTAL_TOKENS, ...), a flag winning
over the variable. `--api vllm` serves the vLLM container's API and takes vLLM's own flags,
as its SageMaker entrypoint passes them (SM_VLLM_<NAME> -> --<name>); the GPU-only ones are
accepted and have no effect on a CPU.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from click.decorators import FC

from .checkpoint import SIZES, CheckpointSize
from .dtypes import DTYPE_CHOICES
from .errors import ModelServerError


def _positive(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
    if value is not None and value <= 0:
        raise click.BadParameter("must be a positive integer")
    return value


def _open_fd(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
    if value is None:
        return None
    try:
        os.fstat(value)
    except OSError as exc:
        raise click.BadParameter(f"{value} is not an open file descriptor ({exc.strerror})") from exc
    return value


LIFELINE_EXIT_GRACE = 5.0
"""How long uvicorn may take over its graceful shutdown once the lifeline broke."""


def _exit_with_lifeline(fd: int) -> None:
    """End this process once `fd` reads EOF: the local AWS that holds the pipe's other end is gone.

    Nothing is ever written to the pipe; the kernel closes the write end however the
    emulator ends, SIGKILL included. SIGTERM lets uvicorn (or, during loading, the
    default action) stop the server; a hard exit follows if that hangs.
    """

    def watch() -> None:
        with contextlib.suppress(OSError):
            while os.read(fd, 1):
                pass
        logging.getLogger(__name__).warning("the local AWS that started this server is gone: exiting")
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(LIFELINE_EXIT_GRACE)
        os._exit(1)

    threading.Thread(target=watch, name="lifeline", daemon=True).start()


def _int_option(flag: str, envvar: str, help_text: str) -> Callable[[FC], FC]:
    return click.option(flag, type=int, envvar=envvar, default=None, callback=_positive, help=help_text)


@click.group(invoke_without_command=True)
@click.option("--model-dir", type=click.Path(file_okay=False, path_type=Path), envvar="HF_MODEL_DIR")
@click.option("--model-id", envvar="HF_MODEL_ID", default=None, help="Name reported by /info.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, envvar="PORT", default=8080, show_default=True)
@_int_option("--max-input-tokens", "MAX_INPUT_TOKENS", "Longest prompt, in tokens.")
@_int_option("--max-total-tokens", "MAX_TOTAL_TOKENS", "Longest prompt + max_new_tokens.")
@_int_option("--max-batch-total-tokens", "MAX_BATCH_TOTAL_TOKENS", "Token budget of the running batch.")
@_int_option("--max-batch-prefill-tokens", "MAX_BATCH_PREFILL_TOKENS", "Prompt tokens prefilled per step.")
@_int_option("--max-batch-size", "MAX_BATCH_SIZE", "Sequences per batch; 1 disables batching.")
@_int_option("--max-concurrent-requests", "MAX_CONCURRENT_REQUESTS", "Requests in flight before 429.")
@_int_option("--max-stop-sequences", "MAX_STOP_SEQUENCES", "Entries accepted in `stop`.")
# No environment variable: TGI's DTYPE takes float16, which a CPU serves slowly, and the
# container's environment reaches this process; the local runtime passes LOCAL_DTYPE as the flag.
@click.option(
    "--dtype",
    type=click.Choice(DTYPE_CHOICES),
    default="auto",
    show_default=True,
    help="Load the weights in this dtype; auto: the checkpoint's own (float16 widens to float32).",
)
@click.option(
    "--messages-api-enabled/--no-messages-api-enabled", envvar="MESSAGES_API_ENABLED", default=False
)
@click.option("--log-level", envvar="LOG_LEVEL", default="info", show_default=True)
@click.option(
    "--api",
    type=click.Choice(["tgi", "vllm"]),
    default="tgi",
    show_default=True,
    help="The container API served.",
)
@click.option("--model", "vllm_model", default=None, help="vllm: the model as the container names it.")
@click.option(
    "--served-model-name", default=None, help="vllm: the model name answers carry and requests may name."
)
@click.option(
    "--max-model-len", type=int, default=None, callback=_positive, help="vllm: prompt + output tokens."
)
@click.option("--max-num-seqs", type=int, default=None, callback=_positive, help="vllm: sequences per batch.")
@click.option("--revision", default=None, help="vllm: the Hub revision (fetched by the local runtime).")
@click.option("--gpu-memory-utilization", type=float, default=None, help="vllm: accepted; no GPU here.")
@click.option("--tensor-parallel-size", type=int, default=None, help="vllm: accepted; no GPU here.")
@click.option("--enforce-eager", is_flag=True, default=False, help="vllm: accepted; no CUDA graphs here.")
@click.option(
    "--lifeline-fd",
    type=int,
    default=None,
    hidden=True,
    callback=_open_fd,
    help="A pipe the local AWS holds open; the server exits when it closes.",
)
@click.pass_context
def main(
    ctx: click.Context,
    model_dir: Path | None,
    host: str,
    port: int,
    log_level: str,
    lifeline_fd: int | None,
    api: str,
    vllm_model: str | None,
    served_model_name: str | None,
    max_model_len: int | None,
    max_num_seqs: int | None,
    revision: str | None,
    gpu_memory_utilization: float | None,
    tensor_parallel_size: int | None,
    enforce_eager: bool,
    **options: Any,  # the serving options, by ServerSettings' field names: it types them
) -> None:
    """Serve TGI's (or vLLM's) HTTP API for the causal LM in --model-dir, on the CPU."""
    if ctx.invoked_subcommand is not None:
        return
    if model_dir is None:
        raise click.UsageError("--model-dir is required (or HF_MODEL_DIR)")
    if lifeline_fd is not None:
        # Before anything slow: loading the model takes seconds, and the parent may die meanwhile.
        _exit_with_lifeline(lifeline_fd)
    # Nothing below may reach the Hub, whatever the caller's environment says.
    os.environ["HF_HUB_OFFLINE"] = "1"
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from .server import ServerSettings, VllmSettings, serve, serve_vllm

    try:
        if api == "vllm":
            vllm_settings = VllmSettings(
                model_dir=model_dir,
                model=vllm_model or options["model_id"],
                served_model_name=served_model_name,
                max_model_len=max_model_len,
                max_num_seqs=max_num_seqs,
                dtype=options["dtype"],
            )
            serve_vllm(vllm_settings, host=host, port=port, log_level=log_level)
        else:
            serve(ServerSettings(model_dir=model_dir, **options), host=host, port=port, log_level=log_level)
    except ModelServerError as err:
        click.echo(f"{type(err).__name__}: {err}", err=True)
        sys.exit(err.exit_code)


@main.command("make-test-model")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--size", type=click.Choice(sorted(SIZES)), default="tiny", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def make_test_model(directory: Path, size: CheckpointSize, seed: int) -> None:
    """Write a random-weight Llama checkpoint (safetensors + tokenizer) into DIRECTORY."""
    from .checkpoint import create_sized_checkpoint

    path = create_sized_checkpoint(directory, size, seed=seed)
    weights = sum(p.stat().st_size for p in path.glob("*.safetensors"))
    click.echo(f"wrote {size} checkpoint to {path} ({weights / 1e6:.1f} MB of weights)")


if __name__ == "__main__":
    main()
