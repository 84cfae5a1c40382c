"""The page's one-time login link: codes, sessions, the cookie and the access log (no AWS)."""

from __future__ import annotations

import json
import logging

import pytest

from llm_twin.config import Secret
from llm_twin.gateway import EndpointHealth, GatewayConfig, create_app
from llm_twin.gateway.login import LoginCodes, RedactLoginCodes
from tests.support.gateway import TOKEN, Gateway, serving


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_code_opens_one_session_once() -> None:
    codes = LoginCodes()
    code = codes.new_code()
    session = codes.redeem(code)
    assert session and codes.signed_in(session)
    assert codes.redeem(code) is None
    assert not codes.signed_in("made-up") and not codes.signed_in(None) and not codes.signed_in(code)


def test_a_code_expires() -> None:
    clock = _Clock()
    codes = LoginCodes(ttl=600, clock=clock)
    code = codes.new_code()
    clock.now += 601
    assert codes.redeem(code) is None


def test_the_access_log_never_shows_a_code() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "",
        0,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/?login=SECRETCODE&x=1", "1.1", 200),
        None,
    )
    assert RedactLoginCodes().filter(record)
    assert "SECRETCODE" not in record.getMessage() and "/?login=[redacted]&x=1" in record.getMessage()


def _no_client():
    raise AssertionError("no inference in these tests")


@pytest.fixture
def login_gateway():
    codes = LoginCodes()
    app = create_app(
        GatewayConfig(Secret(TOKEN), (), 4096, login=codes),
        _no_client,
        lambda: EndpointHealth("twin", "InService"),
    )
    with serving(app) as gateway:
        yield gateway, codes


def _session(gateway: Gateway, cookie: str | None = None) -> dict:
    connection = gateway.connection(timeout=10)
    connection.request("GET", "/session", headers={"Cookie": cookie} if cookie else {})
    return json.loads(connection.getresponse().read())


def test_login_sets_an_httponly_strict_cookie_that_authenticates(login_gateway) -> None:
    gateway, codes = login_gateway
    assert _session(gateway) == {"signed_in": False, "login_links": True, "backend": "tgi"}
    response = gateway.post("/login", {"code": codes.new_code()}, token=None)
    cookie = response.getheader("Set-Cookie")
    assert response.status == 204
    name, _, value = cookie.split(";")[0].partition("=")
    assert name == f"llm_twin_session_{gateway.port}"
    assert {"httponly", "samesite=strict", "path=/"} <= {p.strip().lower() for p in cookie.split(";")}
    assert _session(gateway, f"{name}={value}")["signed_in"] is True
    # The cookie authenticates: the request reaches the body checks (422), not the 401.
    refused = gateway.post(
        "/generate_stream", {"inputs": ""}, token=None, headers={"Cookie": f"{name}={value}"}
    )
    assert refused.status == 422
    # ...but not from another origin.
    foreign = gateway.post(
        "/generate_stream",
        {"inputs": ""},
        token=None,
        headers={"Cookie": f"{name}={value}", "Origin": "http://evil.example"},
    )
    assert foreign.status == 403


@pytest.mark.parametrize("body", [{"code": "guess"}, {"code": 3}, ["x"]])
def test_a_wrong_code_is_refused_without_a_cookie(login_gateway, body: object) -> None:
    gateway, _ = login_gateway
    response = gateway.post("/login", body, token=None)
    assert response.status in (403, 422) and response.getheader("Set-Cookie") is None


def test_off_loopback_there_is_no_login() -> None:
    app = create_app(
        GatewayConfig(Secret(TOKEN), (), 4096), _no_client, lambda: EndpointHealth("twin", "InService")
    )
    with serving(app) as gateway:
        assert gateway.post("/login", {"code": "x"}, token=None).status == 403
        assert _session(gateway) == {"signed_in": False, "login_links": False, "backend": "tgi"}
        assert gateway.post("/generate_stream", {"inputs": ""}, token=None).status == 401
