"""Review 19: the shop on a phone (390 px wide) with the longest code the app accepts (100
characters, no space: the code rule allows it and the admin creates it). The code did not wrap:
the checkout page was 917 px wide, "My orders" 1304 px, so the page scrolled sideways and the
Remove button and amounts left the screen. Chromium measures the page's width here."""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS

LONG = "LONGCODE-" + "X" * 91


def create_voucher(sandbox_server, code: str) -> None:
    sandbox = sandbox_server.sandbox
    body = json.dumps({"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 500}})
    request = urllib.request.Request(
        f"{sandbox_server.url}/v1/vouchers/{code}",
        body.encode(),
        {"X-App-Id": sandbox.app_id, "X-App-Token": sandbox.app_token, "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status in (200, 201)


def overflow(page) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"))


def wider_than_the_text(page) -> list[str]:
    """The tables reaching past the body's text column (its content box). Overflowing the
    viewport alone is too late a signal: "My orders" sat in the body's right padding, 2 px from
    the screen's edge, and an order number whose hyphen is followed by a digit (no line break
    there) or a wider font pushed it over."""
    script = r"""() => {
        const body = document.body, style = getComputedStyle(body);
        const right = body.getBoundingClientRect().right - parseFloat(style.paddingRight);
        return [...document.querySelectorAll("table")]
            .filter(table => table.getBoundingClientRect().right > right + 0.5)
            .map(table => table.id || table.className || "table");
    }"""
    return list(page.evaluate(script))


def broken_words(page, selector: str) -> list[str]:
    """The cells under ``selector`` whose one-word text (no space, no hyphen: "DEMO-0EC1" may
    wrap after its hyphen) the browser split over several lines."""
    script = r"""s => [...document.querySelectorAll(s)].filter(cell => {
        const range = document.createRange();
        range.selectNodeContents(cell);
        const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
        return !/[\s-]/.test(cell.textContent.trim()) && tops.size > 1;
    }).map(cell => cell.textContent.trim())"""
    return list(page.evaluate(script, selector))


@pytest.mark.slow
def test_a_long_code_does_not_widen_the_shop_on_a_phone(
    browser_tools, example_shop, voucherify_sandbox_server
):
    create_voucher(voucherify_sandbox_server, LONG)
    with browser_tools.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})
            page.set_default_timeout(30_000)
            page.goto(f"{example_shop}/account/signup/")
            page.fill("#id_username", "hana")
            page.fill("#id_email", "hana@example.com")
            page.fill("#id_password1", "Very-secret-123")
            page.fill("#id_password2", "Very-secret-123")
            page.click("button:has-text('Create my account')")
            page.fill("#id_username", "hana")
            page.fill("#id_password", "Very-secret-123")
            page.click("form button:has-text('Sign in')")
            page.locator("tr", has_text="Mug").locator("button").click()
            page.goto(f"{example_shop}/checkout/")
            page.fill("#id_code", LONG)
            page.click("button[name=apply]")
            page.wait_for_selector(f"#voucher-results .code:text-is('{LONG}')")
            assert overflow(page) == 0 and wider_than_the_text(page) == []
            page.click("#place-order")
            page.wait_for_selector("#vouchers-used")
            assert overflow(page) == 0 and wider_than_the_text(page) == []
            page.goto(f"{example_shop}/orders/")
            assert LONG in page.inner_text("#my-orders") and overflow(page) == 0
            assert wider_than_the_text(page) == []
            # Only the code breaks: "overflow-wrap: anywhere" on the whole page let the table
            # squeeze every cell, so "paid" read "pai / d" and "Status" "Sta / tus" on a phone.
            assert broken_words(page, "#my-orders th, #my-orders td:not(.codes)") == []
        finally:
            browser.close()


@pytest.mark.slow
def test_a_phone_lays_the_shop_out_at_its_own_width(browser_tools, example_shop):
    """The walk of the demo on a phone: without ``<meta name="viewport">`` a mobile browser
    lays the page out 980 px wide and shrinks it to the screen, so the shop read at about a
    third of its size (text and buttons too small to tap). The 390 px tests above set the
    viewport without emulating a phone, which hid it. Chromium's mobile emulation here."""
    with browser_tools.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
            page.set_default_timeout(30_000)
            for path in ("/", "/account/signup/", "/account/signin/", "/checkout/"):
                page.goto(example_shop + path)
                assert page.evaluate("window.innerWidth") == 390, path
                assert overflow(page) == 0, path
        finally:
            browser.close()
