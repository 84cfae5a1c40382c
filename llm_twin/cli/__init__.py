"""The `llm-twin` command line: one module per command group; `main` catches the root error once."""

from llm_twin.cli.main import main

__all__ = ["main"]
