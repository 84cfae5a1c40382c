"""The chat page's sign-in on loopback: a one-time login link, exchanged for a session cookie.

Like Jupyter, `llm-twin serve` prints a link (`http://127.0.0.1:8080/?login=<code>`); the page
POSTs the code to `/login` once, and the answer sets an HttpOnly, SameSite=Strict cookie that
authenticates the page's later requests. So nobody copies the bearer token out of a file, and
no script on the page can read what signs it in.

    code      random, single-use, valid for CODE_TTL seconds; only its hash is kept, and it is
              printed once on the terminal (the access log shows `login=[redacted]`)
    session   random, kept for the gateway's life (a restart signs every browser out)
    cookie    `llm_twin_session_<port>`: HttpOnly, SameSite=Strict, Path=/; per port, so two
              gateways on one host do not sign each other out

Off loopback there is no link: anyone who reaches the port could race the user to it.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["CODE_TTL", "LoginCodes", "RedactLoginCodes", "cookie_name"]

CODE_TTL = 600.0
"""Seconds a login link stays valid: long enough to open it, short enough to die unused."""
_LOGIN_QUERY = re.compile(r"([?&]login=)[^&\s\"]*")


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def cookie_name(port: int | None) -> str:
    """The session cookie's name for a gateway on `port` (browsers share cookies across ports)."""
    return f"llm_twin_session_{port or 80}"


@dataclass
class LoginCodes:
    """One-time login codes and the sessions they opened (thread-safe; in memory only)."""

    ttl: float = CODE_TTL
    clock: Callable[[], float] = time.monotonic
    _codes: dict[bytes, float] = field(default_factory=dict)
    _sessions: set[bytes] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def new_code(self) -> str:
        """A fresh code for a login link; only its hash is kept."""
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._codes[_digest(code)] = self.clock() + self.ttl
        return code

    def redeem(self, code: str) -> str | None:
        """A new session for a valid, unused, unexpired `code` (which is spent); None otherwise."""
        digest = _digest(code)
        now = self.clock()
        with self._lock:
            # Expired codes go whatever is asked, so the table never grows.
            self._codes = {d: until for d, until in self._codes.items() if until > now}
            # Keyed by the code's hash: a lookup's timing tells nothing about any code.
            if self._codes.pop(digest, None) is None:
                return None
            session = secrets.token_urlsafe(32)
            self._sessions.add(_digest(session))
        return session

    def signed_in(self, session: str | None) -> bool:
        """True when `session` is one this gateway opened."""
        if not session:
            return False
        with self._lock:
            return _digest(session) in self._sessions


class RedactLoginCodes(logging.Filter):
    """Blanks `login=<code>` in uvicorn's access log lines: the code is printed once, on the terminal."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _LOGIN_QUERY.sub(r"\1[redacted]", arg) if isinstance(arg, str) else arg for arg in record.args
            )
        elif isinstance(record.msg, str):
            record.msg = _LOGIN_QUERY.sub(r"\1[redacted]", record.msg)
        return True
