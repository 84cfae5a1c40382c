"""A real browser (Debian's chromium, headless, driven by Playwright) uses the chat page.

The browser is the system's /usr/bin/chromium, installed by `make test` (the Makefile's
chromium stamp); Playwright never downloads one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_twin.control.deploy.deployment import Deployment
from tests.support.gateway import TOKEN, Gateway
from tests.support.inference import inference_endpoint

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PROMPT = "Write a haiku about the cloud"
MAX_NEW_TOKENS = 160
SEED = 11

# Records the output's text and the page's state at every DOM change, before any token.
WATCH_OUTPUT = """() => {
  window.seen = [];
  const output = document.getElementById("output");
  const status = document.getElementById("status");
  new MutationObserver(() => {
    window.seen.push({ length: output.textContent.length, state: status.dataset.state });
  }).observe(output, { childList: true, characterData: true, subtree: true });
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (see the Makefile)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.mark.stack
def test_a_browser_sees_tokens_stream_in_and_the_same_text_as_generate(
    browser, gateway: Gateway, applied_stack: Deployment
) -> None:
    page = browser.new_page()
    page.goto(f"{gateway.url}/")
    page.fill("#token", TOKEN)
    page.fill("#prompt", PROMPT)
    page.fill("#max-new-tokens", str(MAX_NEW_TOKENS))
    page.fill("#seed", str(SEED))
    page.evaluate(WATCH_OUTPUT)
    page.click("#send")
    page.wait_for_selector('#status[data-state="done"]', timeout=60_000)

    seen = page.evaluate("window.seen")
    while_streaming = {s["length"] for s in seen if s["state"] != "done" and s["length"] > 0}
    # Measured: about 75 distinct texts streaming, 2 when the gateway buffers (a mutant run). A long
    # generation keeps one stall of a busy machine from bunching the whole answer (48 tokens: 5 once).
    assert len(while_streaming) >= 6, f"tokens did not arrive incrementally: {seen}"

    client = inference_endpoint(applied_stack.settings)
    client.set_payload(PROMPT, {"max_new_tokens": MAX_NEW_TOKENS, "temperature": 0.7, "seed": SEED})
    assert page.text_content("#output") == client.generate().text
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


@pytest.mark.stack
def test_the_page_streams_the_messages_api_too(browser, gateway: Gateway) -> None:
    page = browser.new_page()
    page.goto(f"{gateway.url}/")
    page.fill("#token", TOKEN)
    page.fill("#prompt", PROMPT)
    page.select_option("#api", "chat")
    page.fill("#max-new-tokens", "16")
    page.fill("#temperature", "0")
    page.click("#send")
    page.wait_for_selector('#status[data-state="done"]', timeout=60_000)
    body = {"messages": [{"role": "user", "content": PROMPT}], "max_tokens": 16, "temperature": 0}
    answer = json.loads(gateway.post("/v1/chat/completions", body).read())
    assert page.text_content("#output") == answer["choices"][0]["message"]["content"]
    page.close()
