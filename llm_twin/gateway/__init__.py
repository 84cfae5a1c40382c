"""`llm-twin serve`: an SSE gateway so a browser can stream the endpoint's tokens.

`app` (the ASGI app and its rules), `payloads` (what a request may hold), `framing`
(the SSE bytes), `relay` (boto3's blocking stream carried into the event loop), `limits`
(read deadlines and the connection cap, below the app, in uvicorn's protocol).
"""

from llm_twin.gateway.app import EndpointHealth, GatewayConfig, create_app

__all__ = ["EndpointHealth", "GatewayConfig", "create_app"]
