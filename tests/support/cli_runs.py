"""The real `llm-twin` CLI in subprocesses, as a user runs it: each run's output and exit code."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

STEP_TIMEOUT = 600.0


@dataclass
class Step:
    """One CLI run: what it printed and how it ended."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def command(*args: str) -> list[str]:
    """`llm-twin` from this venv, with no .env of the developer's in the way."""
    return [str(Path(sys.executable).parent / "llm-twin"), "--env-file", "/nonexistent/.env", *args]


def run_cli(env: dict[str, str], *args: str, **overrides: str) -> Step:
    result = subprocess.run(
        command(*args),
        env={**os.environ, **env, **overrides},
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
    )
    return Step(tuple(args), result.returncode, result.stdout, result.stderr)


class Running:
    """A CLI run in the background whose stdout lines can be waited for."""

    def __init__(self, env: dict[str, str], *args: str, **overrides: str) -> None:
        self.args = args
        self.process = subprocess.Popen(
            command(*args),
            env={**os.environ, **env, **overrides},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._seen = threading.Condition()
        self._stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=lambda: self._stderr.append(self.process.stderr.read()), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self) -> None:
        for line in self.process.stdout:
            with self._seen:
                self.lines.append(line)
                self._seen.notify_all()
        with self._seen:
            self._seen.notify_all()

    def wait_for_line(self, fragment: str, timeout: float = STEP_TIMEOUT) -> bool:
        """True once a stdout line holds `fragment`; False when the run ended without it."""
        deadline = time.monotonic() + timeout
        with self._seen:
            while not any(fragment in line for line in self.lines):
                if self.process.poll() is not None and not self._readers[0].is_alive():
                    return False
                if time.monotonic() > deadline:
                    return False
                self._seen.wait(0.2)
        return True

    def finish(self) -> Step:
        returncode = self.process.wait(timeout=STEP_TIMEOUT)
        for reader in self._readers:
            reader.join(timeout=10)
        return Step(self.args, returncode, "".join(self.lines), "".join(self._stderr))
