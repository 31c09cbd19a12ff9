"""The control tower end to end, in a real headless Chromium (Debian's, driven by Playwright) against
a real ``legato serve`` with the demo loaded: sign in, filter the hub, open an order, hold and
release it, enter a manual order at a contracted price, convert a quote, watch the dashboard move
when an order is placed, and a viewer denied an action. Screenshots of the hub, an order and the
dashboard are saved in tests/e2e/artifacts/ (not committed) for a reviewer.

Every page is also checked for browser console errors: a script refused by the Content-Security-
Policy, a failed asset or a JavaScript error fails the test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tower_server import VIEWER_PASSWORD, Tower, start, stop

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed at /usr/bin/chromium "
        "(apt-get install chromium; .ci/run installs it)",
    ),
]
sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="playwright is not installed (pip install playwright; never `playwright install`)",
)
expect = sync_api.expect


@pytest.fixture(scope="module")
def tower(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tower]:
    found, proc = start(tmp_path_factory.mktemp("tower"))
    try:
        yield found
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    pw = sync_api.sync_playwright().start()
    chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
    try:
        yield chromium
    finally:
        chromium.close()
        pw.stop()


class Console:
    """Console errors and uncaught exceptions of a page."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))


def open_page(browser: Any, tower: Tower, username: str, password: str) -> tuple[Any, Console]:
    context = browser.new_context(base_url=tower.base, viewport={"width": 1366, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    console = Console(page)
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))
    return page, console


@pytest.fixture
def admin(browser: Any, tower: Tower) -> Iterator[tuple[Any, Console]]:
    page, console = open_page(browser, tower, "demo", tower.password)
    yield page, console
    page.context.close()
    assert console.errors == []


def settled(page: Any) -> None:
    """Wait until no htmx request is in flight (htmx marks the element that sent one)."""
    expect(page.locator(".htmx-request")).to_have_count(0)


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_sign_in_and_filter_the_hub(admin: tuple[Any, Console]) -> None:
    page, _ = admin
    expect(page.locator("h1")).to_have_text("Dashboard")
    page.click("nav.mainnav >> text=Orders")
    expect(page.locator("h1")).to_have_text("Orders")
    page.click("summary:has-text('Status')")
    page.check("input[name=status][value=on_hold]")
    page.wait_for_url(re.compile(r"status=on_hold"))
    rows = page.locator("#hub-results tr[data-order]")
    expect(rows.first).to_be_visible()
    badges = page.locator("#hub-results tr[data-order] td:nth-child(5) .badge").all_inner_texts()
    assert badges and set(badges) == {"On hold"}
    page.keyboard.press("Escape")
    shot(page, "hub")


def test_open_an_order_then_hold_and_release_it(admin: tuple[Any, Console]) -> None:
    page, _ = admin
    page.goto("/orders?status=created")
    page.locator("#hub-results tr[data-order] td:nth-child(2) a").first.click()
    page.wait_for_url(re.compile(r"/orders/SO-\d+$"))
    number = page.locator("h1").inner_text()
    expect(page.locator(".order-head .badge").first).to_have_text("Created")
    shot(page, "order")
    page.click("summary:has-text('Hold')")
    page.fill("#hold-reason", "address check with the customer")
    page.click(f"button:has-text('Hold {number}')")
    expect(page.locator(".order-head .badge").first).to_have_text("On hold")
    expect(page.locator("#timeline")).to_contain_text("address check with the customer")
    page.click("summary:has-text('Release')")
    page.fill("#release-reason", "customer confirmed the address")
    page.click(f"button:has-text('Release {number}')")
    expect(page.locator(".order-head .badge").first).to_have_text("Created")
    expect(page.locator("#timeline")).to_contain_text("user:demo")


def test_enter_a_manual_order_at_a_contracted_price(admin: tuple[Any, Console]) -> None:
    page, _ = admin
    page.click("nav.mainnav >> text=New order")
    page.select_option("#channel", "B2B-EU")
    settled(page)
    page.fill("#customer_q", "alpenrose")
    page.locator("#customer-results button.hit", has_text="ALPENROSE").click()
    expect(page.locator(".chosen")).to_contain_text("TRADE-EU-12")
    settled(page)
    page.fill("#product_q", "COF-HSE")
    page.locator("#product-results button.hit", has_text="COF-HSE-1KG").click()
    expect(page.locator("table.entry-lines")).to_contain_text("19.90\u00a0EUR")
    expect(page.locator("table.entry-lines")).to_contain_text("contract TRADE-EU-12")
    page.fill("#qty-0", "3")
    page.press("#qty-0", "Tab")
    expect(page.locator("#entry-total")).to_contain_text("59.70\u00a0EUR")
    page.click("#save-order")
    page.wait_for_url(re.compile(r"/orders/SO-\d+$"))
    expect(page.locator(".flash-ok")).to_contain_text("placed")
    expect(page.locator("#lines")).to_contain_text("19.90\u00a0EUR")
    expect(page.locator("#lines")).to_contain_text("contract:TRADE-EU-12")


def test_convert_an_accepted_quote_with_one_click(admin: tuple[Any, Console]) -> None:
    page, _ = admin
    page.goto("/quotes?status=accepted")
    page.locator("table.data tbody a[href^='/quotes/Q-']").first.click()
    number = page.locator("h1").inner_text().removeprefix("Quote ")
    page.click("#convert")
    page.wait_for_url(re.compile(r"/orders/SO-\d+$"))
    expect(page.locator(".flash-ok")).to_contain_text(f"{number} converted into order")
    page.goto(f"/quotes/{number}")
    expect(page.locator(".order-head .badge")).to_have_text("Converted")


def test_the_dashboard_figures_move_when_an_order_is_placed(admin: tuple[Any, Console], tower: Tower) -> None:
    page, _ = admin
    page.goto("/")
    before = int(page.locator("[data-figure=today-orders]").inner_text())
    expect(page.locator("#chart-channels")).to_be_visible()
    body = {
        "channel": "WEB-UK",
        "lines": [{"sku": "COF-HSE-1KG", "quantity": 1}],
        "customer": {"email": "e2e@example.com", "name": "E2E"},
    }
    r = httpx.post(
        f"{tower.base}/api/v1/orders", json=body, headers={"Authorization": f"Bearer {tower.api_key}"}
    )
    assert r.status_code == 201, r.text
    page.reload()
    expect(page.locator("[data-figure=today-orders]")).to_have_text(str(before + 1))
    assert page.evaluate("Boolean(window.Chart && Chart.getChart('chart-channels'))")
    shot(page, "dashboard")
    page.click("#today-orders")
    page.wait_for_url(re.compile(r"/orders\?from="))
    expect(page.locator("#hub-results tr[data-order]").first).to_be_visible()


def test_a_viewer_is_shown_no_action_and_denied_one(browser: Any, tower: Tower) -> None:
    page, console = open_page(browser, tower, "vera", VIEWER_PASSWORD)
    page.goto("/orders?status=created")
    page.locator("#hub-results tr[data-order] td:nth-child(2) a").first.click()
    page.wait_for_url(re.compile(r"/orders/SO-\d+$"))
    number = page.locator("h1").inner_text()
    assert page.locator("section.actions").count() == 0
    assert page.locator("nav.mainnav a", has_text="New order").count() == 0
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    refused = page.request.post(f"/orders/{number}/actions/hold", form={"csrf_token": token, "reason": "no"})
    assert refused.status == 403 and "Not allowed" in refused.text()
    page.goto("/orders/new")
    expect(page.locator("h1")).to_have_text("Not allowed")
    page.context.close()
    assert [e for e in console.errors if "403" not in e] == []
