"""Settings environments the CLI and control tests share."""

from __future__ import annotations

AWS = {
    "TARGET": "aws",
    "AWS_REGION": "eu-central-1",
    "AWS_ACCESS_KEY_ID": "AKIAEXAMPLEEXAMPLE00",
    "AWS_SECRET_ACCESS_KEY": "not-a-real-secret-key",
    "PRICING_SOURCE": "table",
}
"""TARGET=aws with keys no call can use and the dated price table: what runs before AWS is reached."""
