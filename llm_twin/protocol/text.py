"""Text that UTF-8 can carry, checked before a tokenizer (or AWS) is given it (pure logic).

A Python `str` may hold lone surrogates (U+D800-U+DFFF), which no UTF-8 byte sequence
encodes: JSON's `"\\ud800"` escape decodes to one, and so does each byte of a
command-line argument that is not UTF-8 (Python keeps it as U+DC80-U+DCFF, its
`surrogateescape`). A tokenizer raises on them in the middle of a generation; these
checks name the first one instead, so the caller can refuse the request as bad input.
"""

from __future__ import annotations

__all__ = ["first_surrogate", "invalid_byte", "json_text_problem"]


def first_surrogate(text: str) -> int | None:
    """The index of the first lone surrogate in `text`; None when all of it is Unicode text."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def invalid_byte(char: str) -> int | None:
    """The byte `surrogateescape` kept as `char`, or None when `char` is not such a stand-in."""
    code = ord(char)
    return code - 0xDC00 if 0xDC80 <= code <= 0xDCFF else None


def _problem(where: str, text: str) -> str | None:
    index = first_surrogate(text)
    if index is None:
        return None
    return (
        f"{where} holds a lone surrogate \\u{ord(text[index]):04x} at character {index}, which is not "
        "valid Unicode: escapes from \\ud800 to \\udfff are allowed only as pairs"
    )


def json_text_problem(value: object, where: str = "the body") -> str | None:
    """One line naming the first string (or key) of a decoded JSON value that is not valid Unicode."""
    # A stack, not recursion: JSON nested as deep as json.loads allows must not overflow here.
    pending: list[tuple[str, object]] = [(where, value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, str):
            problem = _problem(path, item)
            if problem:
                return problem
        elif isinstance(item, list):
            pending.extend(reversed([(f"{path}[{i}]", x) for i, x in enumerate(item)]))
        elif isinstance(item, dict):
            prefix = "" if path == "the body" else f"{path}."
            for key in item:
                problem = _problem(f"a key of {path}", key)
                if problem:
                    return problem
            pending.extend(reversed([(f"{prefix}{key}", x) for key, x in item.items()]))
    return None
