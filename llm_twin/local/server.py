"""The embedded local AWS process: moto's server with our patches, on loopback.

Run as `python -m llm_twin.local.server --port N`; `llm_twin.local.daemon` starts it
in the background. Binding to loopback only is deliberate: the emulator accepts any
credentials, so it must never be reachable from another machine.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from werkzeug.serving import make_server

LOOPBACK = "127.0.0.1"


def build_app():
    """moto's all-services WSGI app, after our emulator layer is applied."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from llm_twin.local import patches

    patches.apply_all()
    return DomainDispatcherApplication(create_backend_app)


def serve(port: int, host: str = LOOPBACK) -> None:
    """Serve until SIGTERM or SIGINT; `port` 0 picks a free one, printed on stdout."""
    server = make_server(host, port, build_app(), threaded=True)
    print(f"llm-twin local AWS listening on http://{host}:{server.server_port}", flush=True)

    def stop(signum: int, frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llm_twin.local.server")
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument("--host", default=LOOPBACK)
    args = parser.parse_args(argv)
    serve(args.port, args.host)
    return 0


if __name__ == "__main__":
    sys.exit(main())
