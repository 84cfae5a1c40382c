"""Root modules of built-in resources only (no provider download), for the runner's tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

MAIN_TF = """\
variable "n" {
  type    = number
  default = 2
}

resource "terraform_data" "item" {
  count = var.n
  input = "item-${count.index}"
}

output "names" {
  value = terraform_data.item[*].output
}

output "secret" {
  value     = "hunter2"
  sensitive = true
}
"""

SLOW_TF = """\
resource "terraform_data" "fast" {
  input = "fast"
}

resource "terraform_data" "slow" {
  input = "slow"

  provisioner "local-exec" {
    command = "sleep 5"
  }
}
"""


def write_module(directory: Path, main_tf: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "main.tf").write_text(main_tf)
    return directory


def write_script(path: Path, body: str) -> Path:
    path.write_text(textwrap.dedent(body))
    path.chmod(0o755)
    return path
