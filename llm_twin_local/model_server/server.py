"""Load the model, start the engine and run uvicorn until interrupted."""

from __future__ import annotations

import logging

import torch
import uvicorn

from .app import ServerInfo, create_app
from .engine import Engine, load_model
from .settings import ServerSettings, compute_threads
from .vllm_settings import VllmSettings

__all__ = ["ServerSettings", "VllmSettings", "serve", "serve_vllm"]

log = logging.getLogger(__name__)


def serve(settings: ServerSettings, *, host: str, port: int, log_level: str = "info") -> None:
    """Block serving on host:port; the engine thread stops when uvicorn does."""
    torch.set_num_threads(compute_threads())
    loaded = load_model(settings.model_dir, dtype=settings.dtype)
    limits, engine_config = settings.resolve(loaded.max_position_embeddings)
    log.info("loaded %s (%s); %s; %s", settings.model_dir, loaded.dtype, limits, engine_config)
    log.info("torch threads: %d", torch.get_num_threads())
    engine = Engine(loaded, engine_config)
    engine.start()
    info = ServerInfo(
        model_id=settings.model_id or str(settings.model_dir),
        limits=limits,
        messages_api_enabled=settings.messages_api_enabled,
    )
    try:
        uvicorn.run(create_app(engine, info), host=host, port=port, log_level=log_level, access_log=False)
    finally:
        engine.stop()


def serve_vllm(settings: VllmSettings, *, host: str, port: int, log_level: str = "info") -> None:
    """As `serve`, speaking the vLLM container's API (`vllm_app`)."""
    from .vllm_app import VllmInfo, create_vllm_app
    from .vllm_params import Defaults

    torch.set_num_threads(compute_threads())
    loaded = load_model(settings.model_dir, dtype=settings.dtype)
    max_model_len, engine_config = settings.resolve(loaded.max_position_embeddings)
    log.info(
        "loaded %s (%s) as %s; max_model_len %d; %s",
        settings.model_dir,
        loaded.dtype,
        settings.name,
        max_model_len,
        engine_config,
    )
    engine = Engine(loaded, engine_config)
    engine.start()
    info = VllmInfo(settings.name, settings.model or str(settings.model_dir), max_model_len)
    app = create_vllm_app(engine, info, Defaults.of(settings.model_dir))
    try:
        uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
    finally:
        engine.stop()
