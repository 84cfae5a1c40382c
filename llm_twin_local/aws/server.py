"""The embedded local AWS process: moto's server with our patches, on loopback.

Run as `python -m llm_twin_local.aws.server --port N`; `llm_twin_local.aws.daemon` starts it
in the background. Binding to loopback only is deliberate: the emulator accepts any
credentials, so it must never be reachable from another machine.
"""

from __future__ import annotations

import argparse
import atexit
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from werkzeug.serving import make_server

if TYPE_CHECKING:
    from llm_twin_local.aws.runtime.lifecycle import LocalRuntime

LOOPBACK = "127.0.0.1"


def build_app(
    state_dir: Path | None = None, runtime: LocalRuntime | None = None
) -> Callable[..., Iterable[bytes]]:
    """moto's all-services WSGI app, after our emulator layer is applied.

    `runtime` runs the model servers behind SageMaker endpoints; its files (logs, the
    stand-in model) live under `state_dir`, or a temporary directory without one.
    """
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from llm_twin_local.aws import patches, quotas
    from llm_twin_local.aws.async_invocations import AsyncInvocations
    from llm_twin_local.aws.runtime import hooks
    from llm_twin_local.aws.runtime.faults import Jitter
    from llm_twin_local.aws.runtime.lifecycle import LocalRuntime
    from llm_twin_local.aws.runtime.progress import ProgressMiddleware
    from llm_twin_local.aws.runtime.proxy import RuntimeMiddleware

    patches.apply_all()
    runtime = runtime or LocalRuntime(state_dir)
    hooks.install(runtime)
    app = ProgressMiddleware(
        quotas.QuotaAdminMiddleware(DomainDispatcherApplication(create_backend_app)), runtime
    )
    realtime = RuntimeMiddleware(app, runtime, Jitter.from_environ(os.environ))
    return AsyncInvocations(realtime)


def serve(port: int, host: str = LOOPBACK, state_dir: Path | None = None) -> None:
    """Serve until SIGTERM or SIGINT; `port` 0 picks a free one, printed on stdout.

    The model servers behind endpoints are stopped on the way out, so none outlives it.
    """
    from llm_twin_local.aws.runtime.lifecycle import LocalRuntime

    runtime = LocalRuntime(state_dir)
    atexit.register(runtime.stop_all)
    server = make_server(host, port, build_app(state_dir, runtime), threaded=True)
    print(f"llm-twin local AWS listening on http://{host}:{server.server_port}", flush=True)

    def stop(signum: int, frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever()
    finally:
        runtime.stop_all()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llm_twin_local.aws.server")
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument("--host", default=LOOPBACK)
    parser.add_argument("--state-dir", type=Path, default=None, help="Where endpoint logs and models live.")
    args = parser.parse_args(argv)
    serve(args.port, args.host, args.state_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
