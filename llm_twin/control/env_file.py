"""Set values in a `.env` file in place, keeping every other line (comments, order) as it was.

`model push --deploy` records the model source here, so a later `make apply` keeps
serving the pushed model instead of silently reverting to the old settings.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from llm_twin.errors import SettingsError

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?(?P<key>[A-Za-z_][A-Za-z0-9_]*)\s*=")


def set_env_values(path: Path, values: dict[str, str]) -> None:
    """Replace each key's first assignment (commented-out ones stay), append the keys not found."""
    for key, value in values.items():
        if _CONTROL.search(value):
            # A line break would plant a second assignment (TARGET=aws...) in the user's settings.
            raise SettingsError(
                f"{key}={value!r} cannot be written to {path}: a value in .env must be one line "
                "without control characters"
            )
    lines = path.read_text().splitlines() if path.is_file() else []
    remaining = dict(values)
    updated = []
    for line in lines:
        match = _ASSIGNMENT.match(line)
        if match and match["key"] in remaining:
            updated.append(f"{match['key']}={remaining.pop(match['key'])}")
        elif match and match["key"] in values:
            continue  # a later duplicate would override ours when the file is read
        else:
            updated.append(line)
    updated.extend(f"{key}={value}" for key, value in remaining.items())
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(updated) + "\n")
    if path.is_file():
        os.chmod(tmp, path.stat().st_mode & 0o777)
    os.replace(tmp, path)
