"""Which token the gateway demands, and `llm-twin serve` refusing to start without one."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from llm_twin.cli.main import main
from llm_twin.config import Secret, load_settings
from llm_twin.errors import SettingsError
from llm_twin.gateway.token import gateway_token, is_loopback


def test_a_configured_token_is_used_as_it_is(tmp_path: Path) -> None:
    token = gateway_token(Secret("s" * 20), "0.0.0.0", tmp_path)
    assert token.token.value == "s" * 20 and token.generated_file is None


def test_loopback_without_a_token_gets_a_fresh_one_in_a_private_file(tmp_path: Path) -> None:
    first = gateway_token(Secret(""), "127.0.0.1", tmp_path)
    second = gateway_token(Secret(""), "::1", tmp_path)
    assert first.generated_file == second.generated_file == tmp_path / "gateway" / "token"
    assert first.token.value != second.token.value and len(second.token.value) >= 32
    assert second.generated_file.read_text().strip() == second.token.value
    assert stat.S_IMODE(second.generated_file.stat().st_mode) == 0o600
    assert second.token.value not in repr(second)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "gateway.example"])
def test_a_public_bind_without_a_token_is_refused(tmp_path: Path, host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(SettingsError, match="GATEWAY_TOKEN is empty"):
        gateway_token(Secret(""), host, tmp_path)
    assert not (tmp_path / "gateway").exists()


def test_serve_on_a_public_host_without_a_token_exits_2_with_one_line(tmp_path: Path) -> None:
    env = {"LLM_TWIN_STATE_DIR": str(tmp_path), "GATEWAY_TOKEN": ""}
    result = CliRunner().invoke(
        main, ["--env-file", str(tmp_path / "none.env"), "serve", "--host", "0.0.0.0"], env=env
    )
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(
        "SettingsError: GATEWAY_TOKEN is empty"
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("GATEWAY_TOKEN", "short", "GATEWAY_TOKEN is invalid: expected 16-512 printable ASCII"),
        ("GATEWAY_CORS_ORIGINS", "http://a.example/path", "is not an origin"),
        ("GATEWAY_CORS_ORIGINS", "*,http://a.example", "is not an origin"),
        ("GATEWAY_MAX_BODY_BYTES", "10", "expected a whole number from 1024"),
        ("GATEWAY_HOST", "bad host", "expected an IP address"),
        ("GATEWAY_PORT", "70000", "expected a whole number from 1 to 65535"),
    ],
)
def test_bad_gateway_settings_name_the_setting(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("*", r"\*")) as caught:
        load_settings({name: value}, dotenv_path=None)
    if name == "GATEWAY_TOKEN":
        assert value not in str(caught.value)  # a secret, even a bad one, is never echoed


def test_gateway_settings_parse() -> None:
    settings = load_settings(
        {"GATEWAY_CORS_ORIGINS": "http://localhost:3000/, https://[::1]:8443", "GATEWAY_HOST": "0.0.0.0"},
        dotenv_path=None,
    )
    assert settings.gateway.cors_origins == ("http://localhost:3000", "https://[::1]:8443")
    assert settings.gateway.host == "0.0.0.0" and settings.gateway.port == 8080
