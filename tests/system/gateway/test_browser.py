"""A real browser (Debian's chromium, headless, driven by Playwright) uses the chat page.

The browser is the system's /usr/bin/chromium, installed by `make test` (the Makefile's
chromium stamp); Playwright never downloads one.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_twin.cli.serve import endpoint_health
from llm_twin.client.endpoint import LLMInferenceSagemakerEndpoint
from llm_twin.config import Secret
from llm_twin.control.deploy.deployment import Deployment
from llm_twin.gateway import GatewayConfig, create_app
from llm_twin.gateway.login import LoginCodes
from tests.support.browser import launched_chromium
from tests.support.gateway import TOKEN, Gateway, client_factory, endpoint_answer, gateway_app, serving

PROMPT = "Write a haiku about the cloud"
MAX_NEW_TOKENS = 24
SEED = 11
HOLD_AFTER_PARTS = (1, 3, 6)
"""The stream is held after these parts of the endpoint's stream until the page shows them."""
SCREENSHOT_ENV = "LLM_TWIN_SCREENSHOT"
"""Where test_the_login_link... saves its screenshot (the README's is docs/gateway-chat.png)."""

OUTPUT_LENGTH = "() => (document.getElementById('output') || {textContent: ''}).textContent.length"
GREW_WHILE_STREAMING = """(shown) => {
  const output = document.getElementById("output");
  return output !== null && output.textContent.length > shown
    && document.getElementById("status").dataset.state === "streaming";
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with launched_chromium() as launched:
        yield launched


class _HeldStream(LLMInferenceSagemakerEndpoint):
    """The real stream, held after each of HOLD_AFTER_PARTS parts until the test releases it."""

    released = threading.Semaphore(0)

    def stream_body(self, body):
        parts = super().stream_body(body)
        try:
            for count, part in enumerate(parts, start=1):
                yield part
                if count in HOLD_AFTER_PARTS and not self.released.acquire(timeout=60):
                    raise AssertionError(f"part {count} never reached the page")
        finally:
            parts.close()


@pytest.fixture(scope="module")
def held_gateway(applied_stack: Deployment) -> Iterator[Gateway]:
    with serving(gateway_app(applied_stack, _HeldStream)) as running:
        yield running


@pytest.mark.stack
def test_a_browser_sees_tokens_stream_in_and_the_same_text_as_generate(
    browser, held_gateway: Gateway, applied_stack: Deployment
) -> None:
    page = browser.new_page()
    page.goto(f"{held_gateway.url}/")
    page.fill("#token", TOKEN)
    page.select_option("#api", "generate")
    page.fill("#prompt", PROMPT)
    page.fill("#max-new-tokens", str(MAX_NEW_TOKENS))
    page.fill("#seed", str(SEED))
    page.click("#send")
    # While the endpoint's stream is held, the page can only show what was relayed before the
    # hold: were the gateway (or the page) to buffer, the text would not grow and the wait would
    # time out. However busy the machine, nothing here depends on timing.
    shown = 0
    for _ in HOLD_AFTER_PARTS:
        # A function, not an expression: the page's CSP forbids eval.
        page.wait_for_function(GREW_WHILE_STREAMING, arg=shown, timeout=30_000)
        assert page.evaluate("document.getElementById('status').dataset.state") == "streaming"
        shown = page.evaluate(OUTPUT_LENGTH)
        _HeldStream.released.release()
    page.wait_for_selector('#status[data-state="done"]', timeout=60_000)

    parameters = {
        "max_new_tokens": MAX_NEW_TOKENS,
        "temperature": 0.7,
        "seed": SEED,
        "return_full_text": False,
    }
    reference = endpoint_answer(applied_stack, {"inputs": PROMPT, "parameters": parameters})
    assert page.text_content("#output") == reference[0]["generated_text"]
    assert len(page.text_content("#output")) > shown
    assert page.evaluate("sessionStorage.getItem('llm-twin-gateway-token')") == TOKEN
    page.close()


@pytest.mark.stack
def test_a_wrong_token_shows_the_401_and_asks_again(browser, gateway: Gateway) -> None:
    page = browser.new_page()
    page.goto(f"{gateway.url}/")
    page.fill("#token", "not-the-gateway-token")
    page.fill("#prompt", PROMPT)
    page.click("#send")
    page.wait_for_selector('#status[data-state="error"]', timeout=30_000)
    assert "401" in page.text_content("#status")
    assert page.input_value("#token") == ""
    assert page.evaluate("sessionStorage.getItem('llm-twin-gateway-token')") is None
    page.close()


@pytest.fixture(scope="module")
def login_gateway(applied_stack: Deployment) -> Iterator[tuple[Gateway, LoginCodes]]:
    """A gateway as `llm-twin serve` runs it on loopback: with login links."""
    codes = LoginCodes()
    config = GatewayConfig(Secret(TOKEN), (), 65536, login=codes)
    app = create_app(config, client_factory(applied_stack), endpoint_health(applied_stack))
    with serving(app) as running:
        yield running, codes


@pytest.mark.stack
def test_the_login_link_signs_in_and_a_chat_keeps_its_turns(
    browser, login_gateway: tuple[Gateway, LoginCodes], applied_stack: Deployment, tmp_path: Path
) -> None:
    gateway, codes = login_gateway
    code = codes.new_code()
    context = browser.new_context(viewport={"width": 900, "height": 820})
    page = context.new_page()
    sent: list[tuple[dict, dict]] = []
    page.on(
        "request",
        lambda r: (
            sent.append((r.headers, json.loads(r.post_data)))
            if r.url.endswith("/v1/chat/completions")
            else None
        ),
    )
    page.goto(f"{gateway.url}/?login={code}")
    page.wait_for_selector("#signed-in", state="visible", timeout=30_000)
    assert page.url == f"{gateway.url}/"  # the code left the address bar
    assert page.is_hidden("#token-form")
    (cookie,) = context.cookies()
    assert cookie["name"] == f"llm_twin_session_{gateway.port}"
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    assert cookie["value"] not in page.evaluate("document.cookie")

    answers = []
    for prompt in (PROMPT, "Now one about the sea 🌊"):
        page.fill("#prompt", prompt)
        page.fill("#max-new-tokens", "12")
        page.fill("#temperature", "0")
        page.click("#send")
        page.wait_for_selector('#status[data-state="done"]', timeout=60_000)
        answers.append(page.text_content("#output"))
        page.evaluate("document.getElementById('status').dataset.state = 'idle'")

    assert len(sent) == 2 and all("authorization" not in headers for headers, _ in sent)
    first = [{"role": "user", "content": PROMPT}]
    assert sent[0][1]["messages"] == first
    second = [
        *first,
        {"role": "assistant", "content": answers[0]},
        {"role": "user", "content": "Now one about the sea 🌊"},
    ]
    assert sent[1][1]["messages"] == second
    reference = endpoint_answer(applied_stack, {"messages": second, "max_tokens": 12, "temperature": 0})
    assert answers[1] == reference["choices"][0]["message"]["content"]
    assert page.locator("#conversation .turn").count() == 4
    page.screenshot(path=os.environ.get(SCREENSHOT_ENV) or str(tmp_path / "chat.png"), full_page=True)

    again = context.new_page()  # the code is spent: a second use is refused, and says why
    again.goto(f"{gateway.url}/?login={code}")
    again.wait_for_selector('#status[data-state="error"]', timeout=30_000)
    assert "used already or has expired" in again.text_content("#status")
    context.close()


@pytest.mark.stack
def test_without_a_login_the_page_asks_for_the_token(
    browser, login_gateway: tuple[Gateway, LoginCodes]
) -> None:
    gateway, _ = login_gateway
    page = browser.new_page()
    page.goto(f"{gateway.url}/")
    page.wait_for_function("() => document.getElementById('status').dataset.state === 'idle'")
    page.fill("#prompt", PROMPT)
    page.click("#send")
    assert "Enter the gateway token" in page.text_content("#status")
    assert page.is_visible("#token-form") and page.is_hidden("#signed-in")
    page.close()
