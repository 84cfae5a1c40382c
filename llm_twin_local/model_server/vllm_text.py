"""A generation's text as vLLM hands it out: stop strings cut off, held back while they may be forming.

The engine stops once the text contains a stop string and keeps the whole token that
completed it (TGI's rule). vLLM (`include_stop_str_in_output` false, its default) ends the
output just before the stop string and names it in `stop_reason`; while streaming it holds
back the last `max(len(stop)) - 1` characters (`output_text_buffer_length`), so a stop string
never reaches the client half-written. Special tokens add no text (`skip_special_tokens`).
"""

from __future__ import annotations


class StopText:
    """The text of one sequence, fed token by token; `take` gives what may be sent so far."""

    def __init__(self, stop: tuple[str, ...]) -> None:
        self.stop = stop
        self.hold = max((len(s) for s in stop), default=1) - 1
        self.text = ""
        self.sent = 0
        self.stop_reason: str | None = None

    def feed(self, piece: str) -> None:
        self.text += piece

    def finish(self, *, stopped_by_string: bool) -> None:
        """The last token is in: cut the text at the stop string that ended it (list order first)."""
        if not stopped_by_string:
            return
        for stop in self.stop:
            at = self.text.find(stop)
            if at != -1:
                self.text, self.stop_reason = self.text[:at], stop
                return

    def take(self, *, finished: bool) -> str:
        """The text not sent yet, less what a stop string may still turn out to be part of."""
        end = len(self.text) if finished else max(len(self.text) - self.hold, 0)
        if end <= self.sent:
            return ""
        piece, self.sent = self.text[self.sent : end], end
        return piece
