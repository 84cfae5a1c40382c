"""The serving containers an endpoint can run: one name per backend, shared by all layers.

`tgi` is the book's Text Generation Inference container (`huggingface-llm` in the image
catalogue); `vllm` is the Hugging Face vLLM container (`huggingface-vllm`), which takes
`SM_VLLM_*` settings and speaks OpenAI's completion and chat bodies on `/invocations`.
"""

from __future__ import annotations

from typing import Literal, get_args

Backend = Literal["tgi", "vllm"]
"""What SERVING_BACKEND names; settings.model.backend has this type."""

BACKENDS: tuple[Backend, ...] = get_args(Backend)
"""Every backend, in the order the help text lists them (the default first)."""
