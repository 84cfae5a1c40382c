"""A local stand-in for Hugging Face's TGI container: TGI's HTTP API on the CPU.

Entry points: `python -m llm_twin_local.model_server --model-dir DIR --port N` serves;
`create_app(engine, info)` is the ASGI app; `create_test_checkpoint(path, ...)` writes
a random Llama checkpoint for tests. Heavy imports (torch, transformers) happen only
in the submodules that need them.
"""

from __future__ import annotations

from .checkpoint import create_sized_checkpoint, create_test_checkpoint

__all__ = ["create_sized_checkpoint", "create_test_checkpoint"]
