"""Fixtures of the emulator's and the model server's tests: one tiny checkpoint for the session."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_twin_local.model_server.checkpoint import create_sized_checkpoint


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random Llama checkpoint on disk; read-only for every test that uses it."""
    return create_sized_checkpoint(tmp_path_factory.mktemp("tiny-model"), "tiny")
