"""While a local endpoint starts: what its model is doing, as the emulator's local route reports it.

SageMaker shows only Creating while TGI downloads a model; the emulator knows the bytes.
`ModelWatch` asks it about once a second while `apply` waits (during terraform's apply too,
whose provider waits for InService itself) and hands every change to a callback, so the CLI
can show the download in bytes. On AWS it does nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

from llm_twin.config import Settings
from llm_twin.control import local_target

if TYPE_CHECKING:
    from llm_twin.control.local_target import ServingModel

POLL_SECONDS = 1.0

OnModel = Callable[["ServingModel"], None]


class ModelWatch:
    """A context manager: polls the local endpoint's model in a thread until it exits."""

    def __init__(self, settings: Settings, on_model: OnModel | None, *, poll: float = POLL_SECONDS) -> None:
        self.settings = settings
        self.on_model = on_model
        self.poll = poll
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last: ServingModel | None = None

    def __enter__(self) -> ModelWatch:
        if self.settings.target == "local" and self.on_model is not None:
            self._thread = threading.Thread(target=self._run, name="model-watch", daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        assert self.on_model is not None
        while not self._stop.wait(self.poll):
            model = local_target.serving_model(self.settings, self.settings.names.endpoint)
            if model is not None and model != self._last:
                self._last = model
                self.on_model(model)
