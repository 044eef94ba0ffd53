"""A real browser in the example shop's admin: create, disable, enable and delete a voucher.

Processes: the sandbox over HTTP (a thread of this test), the example project under
``manage.py runserver`` on a fresh SQLite database, and Debian's Chromium driven by Playwright
(never a downloaded browser; ``scripts/test`` installs the ``chromium`` package). A screenshot of
every page goes to ``artifacts/admin_vouchers/`` (gitignored), emptied at the start of each run
so the files there are this run's, and a failure can be looked at.

A missing Chromium or Playwright fails this test (in its fixture, with what to install), never
skips it, and never stops the rest of the suite from being collected.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, require_browser, sign_in_staff

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "admin_vouchers"
SCREENSHOTS = [
    "01-login",
    "02-add-form",
    "03-created",
    "04-disable-confirm",
    "04-disable-done",
    "05-enable-confirm",
    "05-enable-done",
    "06-delete-confirm",
    "06-delete-done",
]


def test_missing_chromium_fails_with_what_to_install(monkeypatch):
    monkeypatch.setattr("tests.support.browser.CHROMIUM", "/nonexistent/chromium")
    with pytest.raises(pytest.fail.Exception, match="apt-get install chromium"):
        require_browser()


@pytest.fixture
def page(browser_tools, example_shop) -> Iterator[object]:
    with browser_tools.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(15_000)
            yield page
        finally:
            browser.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def run_action(page, base: str, code: str, action: str, step: str) -> None:
    page.goto(f"{base}/admin/django_voucherify/voucher/")
    page.locator("#result_list tr", has_text=code).locator("input.action-select").check()
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")
    page.wait_for_selector("#voucher-changes")
    shot(page, f"{step}-confirm")
    assert code in page.inner_text("#voucher-changes")
    page.click("#confirm-action")
    page.wait_for_selector("ul.messagelist")
    shot(page, f"{step}-done")


def test_create_disable_enable_delete_in_a_browser(page, example_shop, voucherify_sandbox_server):
    # Emptied here, by the one test that counts its screenshots: emptied by the page fixture,
    # another test of this file starting on the other xdist worker wiped them mid-run.
    shutil.rmtree(ARTIFACTS, ignore_errors=True)  # only this run's screenshots count
    ARTIFACTS.mkdir(parents=True)
    base, remote = example_shop, voucherify_sandbox_server.sandbox.state.vouchers
    sign_in_staff(page, base, lambda: shot(page, "01-login"))

    page.goto(f"{base}/admin/django_voucherify/voucher/add/")
    page.fill("#id_code", "BROWSER-10")
    page.select_option("#id_discount_type", "AMOUNT")
    page.fill("#id_amount_off", "1000")
    page.fill("#id_category", "browser")
    shot(page, "02-add-form")
    page.click("input[name=_save]")
    page.wait_for_selector("ul.messagelist")
    shot(page, "03-created")
    assert remote["BROWSER-10"]["discount"]["amount_off"] == 1000
    assert "BROWSER-10" in page.inner_text("#result_list")

    run_action(page, base, "BROWSER-10", "disable_selected", "04-disable")
    assert "Disable: done for BROWSER-10." in page.inner_text("ul.messagelist")
    assert remote["BROWSER-10"]["active"] is False

    run_action(page, base, "BROWSER-10", "enable_selected", "05-enable")
    assert remote["BROWSER-10"]["active"] is True

    run_action(page, base, "BROWSER-10", "delete_selected_remote", "06-delete")
    assert "BROWSER-10" not in remote and "BROWSER-10" in voucherify_sandbox_server.sandbox.state.bin
    assert "BROWSER-10" not in page.inner_text("#content")
    assert sorted(p.stem for p in ARTIFACTS.glob("*.png")) == SCREENSHOTS


OVERVIEW_ARTIFACTS = ROOT / "artifacts" / "admin_overview"
#: Its own folder: the overview test empties and counts its folder while this one may run on
#: another xdist worker (12 screenshots where 10 were expected, when they shared one).
WEBHOOK_ARTIFACTS = ROOT / "artifacts" / "admin_webhooks"


def shop_shell(tmp_path, server, code: str) -> None:
    """Run ``code`` in ``manage.py shell`` on the running example shop's database."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'shop.sqlite3'}",
        "VOUCHERIFY_API_URL": server.url,
        "VOUCHERIFY_APP_ID": server.sandbox.app_id,
        "VOUCHERIFY_SECRET_KEY": server.sandbox.app_token,
        "CELERY_BROKER_URL": "memory://",
    }
    manage = [sys.executable, str(ROOT / "manage.py"), "shell", "-c", code]
    subprocess.run(manage, env=env, cwd=ROOT, check=True, capture_output=True)


def overview_shot(page, name: str, folder: Path = OVERVIEW_ARTIFACTS) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_overview_live_job_and_long_codes_in_light_and_dark(
    page, example_shop, voucherify_sandbox_server, tmp_path
):
    """Staff's pages for real: the overview, a job page following its job without a reload,
    a long code cut in the changelist, the export form; each in the light and dark themes."""
    shutil.rmtree(OVERVIEW_ARTIFACTS, ignore_errors=True)
    OVERVIEW_ARTIFACTS.mkdir(parents=True)
    base, server = example_shop, voucherify_sandbox_server
    sign_in_staff(page, base)

    page.goto(f"{base}/admin/django_voucherify/")
    page.click("a[href$='/admin/django_voucherify/overview/']")
    page.wait_for_selector("#overview-verdict")
    assert "Nothing needs you right now." in page.inner_text("#overview-verdict")
    for block in ("sync", "checkout", "webhooks", "jobs", "chart"):
        assert page.locator(f"#overview-{block}").count() == 1
    assert page.locator("#overview-chart rect.bar").count() == 60

    long_code = "LONG-" + "X" * 90
    page.goto(f"{base}/admin/django_voucherify/voucher/add/")
    page.fill("#id_code", long_code)
    page.select_option("#id_discount_type", "AMOUNT")
    page.fill("#id_amount_off", "100")
    page.click("input[name=_save]")
    page.wait_for_selector("ul.messagelist")
    overview_shot(page, "long-code-light")
    box = page.locator(f"span.voucherify-code[title='{long_code}']").bounding_box()
    whole = page.evaluate(
        "() => document.querySelector('span.voucherify-code').scrollWidth"
    )  # the width the code would take uncut
    assert box and box["width"] < 250 < whole  # cut with an ellipsis, its column stays narrow

    # A running job, moved on by another process while its page is open: the page follows.
    shop_shell(
        tmp_path,
        server,
        "from django_voucherify.models import Job, JobPart;"
        "j = Job.objects.create(kind='import_vouchers_csv', state='running', total_rows=100, progress=10);"
        "JobPart.objects.create(job=j, index=1, state='submitted', row_count=100, progress=10)",
    )
    page.goto(f"{base}/admin/django_voucherify/job/1/change/")
    page.wait_for_selector("[data-job-status-url]")
    assert page.inner_text("span[data-job-field=progress]") == "10"
    shop_shell(
        tmp_path,
        server,
        "from django_voucherify.models import Job, JobFailedRow;"
        "Job.objects.filter(pk=1).update(progress=60, done_count=59);"
        "JobFailedRow.objects.create(job_id=1, row=4, code='NOPE', reason='Value is not a number')",
    )
    page.wait_for_function(
        "() => document.querySelector('span[data-job-field=progress]').textContent === '60'"
    )
    page.wait_for_function(
        "() => document.querySelector('[data-job-failed-rows]').textContent.includes('NOPE')"
    )
    assert page.inner_text("span[data-job-field=failed_count]") == "1"
    overview_shot(page, "job-running-light")
    shop_shell(
        tmp_path,
        server,
        "from django_voucherify.models import Job;"
        "Job.objects.filter(pk=1).update(state='done', progress=100, done_count=99, failed_count=1)",
    )
    page.wait_for_selector("body[data-job-finished='1']")
    assert page.inner_text("span[data-job-field=state_label]") == "done"

    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        for name, path, ready in (
            ("overview", "overview/", "#overview-verdict"),
            ("vouchers", "voucher/", "#last-refresh"),
            ("job", "job/1/change/", "[data-job-status-url]"),
            ("export", "job/export/", "form"),
        ):
            page.goto(f"{base}/admin/django_voucherify/{path}")
            page.wait_for_selector(ready)
            overview_shot(page, f"{name}-{scheme}")
    assert len(list(OVERVIEW_ARTIFACTS.glob("*.png"))) == 10


def test_webhook_events_changelist_fits_1280_px_with_long_values(
    page, example_shop, voucherify_sandbox_server, tmp_path
):
    """Long event ids (100 characters), types and outcomes (300) used to push the webhook
    events changelist wider than a 1280 px window; they are cut with an ellipsis, whole in the
    title, and the table fits without a horizontal scroll, light and dark."""
    WEBHOOK_ARTIFACTS.mkdir(parents=True, exist_ok=True)
    base = example_shop
    event_id = "evt_" + "9" * 96
    outcome = "Processed: " + "the mirror of the voucher was refreshed after a long explanation " * 4
    kind = "voucher.loyalty_card.points_added_" + "x" * 40
    shop_shell(
        tmp_path,
        voucherify_sandbox_server,
        "from django.utils import timezone;"
        "from django_voucherify.models import WebhookEvent;"
        f"[WebhookEvent.objects.create(event_id={event_id!r} + str(i), type={kind!r}, subject='SUBJ' * 50,"
        f" payload={{'data': 'x' * 500}}, state='processed', outcome={outcome[:300]!r}, attempts=1,"
        " occurred_at=timezone.now()) for i in range(3)]",
    )
    sign_in_staff(page, base)
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.goto(f"{base}/admin/django_voucherify/webhookevent/")
        page.wait_for_selector("#result_list")
        overview_shot(page, f"webhook-events-{scheme}", WEBHOOK_ARTIFACTS)
        fits = page.evaluate(
            """() => {
                const results = document.querySelector('#result_list').parentElement;
                return {table: document.querySelector('#result_list').getBoundingClientRect().width,
                        box: results.clientWidth, scroll: results.scrollWidth,
                        page: document.documentElement.scrollWidth, window: window.innerWidth};
            }"""
        )
        assert fits["window"] == 1280
        assert fits["scroll"] <= fits["box"] and fits["page"] <= fits["window"], fits
        cut = page.locator(f"#result_list span.voucherify-cut[title='{event_id}0']")
        assert cut.count() == 1 and cut.inner_text() == f"{event_id}0"  # whole in the DOM and title
        box = cut.bounding_box()
        assert box and box["width"] < 250  # shown cut with an ellipsis
        assert page.locator(f"#result_list span.voucherify-cut[title='{outcome[:300]}']").count() == 3
        assert page.locator(f"#result_list span.voucherify-cut[title='{kind}']").count() == 3


REFRESH_ARTIFACTS = ROOT / "artifacts" / "admin_refresh"

#: The voucher changelist's widths: its results box, the table in it, the page and the window.
FIT = """() => {
    const results = document.querySelector('#result_list').parentElement;
    const sidebar = document.querySelector('#nav-sidebar');
    return {box: results.clientWidth, scroll: results.scrollWidth,
            page: document.documentElement.scrollWidth, window: window.innerWidth,
            sidebar: sidebar ? sidebar.getBoundingClientRect().width : 0};
}"""


def test_refresh_block_follows_its_run_and_the_voucher_list_fits_1280_px(
    page, example_shop, voucherify_sandbox_server, tmp_path
):
    """Issue 16: "Refresh from Voucherify" shows its progress without a reload, from queued to
    done (the run moved on by another process, as a worker would), then offers to reload the
    list; the voucher changelist fits a 1280 px window with the navigation sidebar open, with
    short codes and with a long code and category (cut, whole in the title); light and dark."""
    shutil.rmtree(REFRESH_ARTIFACTS, ignore_errors=True)
    REFRESH_ARTIFACTS.mkdir(parents=True)
    base, server = example_shop, voucherify_sandbox_server
    long_code, long_category = "LONG-" + "X" * 90, "a-very-long-category-for-the-summer-sale-2026"
    sign_in_staff(page, base)

    # The button (tasks run inline on this shop's memory broker): the run is over when the list
    # shows, and the block says how it went; nothing is followed.
    page.goto(f"{base}/admin/django_voucherify/voucher/")
    page.click("#refresh-vouchers button")
    page.wait_for_selector("ul.messagelist")
    assert page.get_attribute("#last-refresh", "data-refresh-finished") == "1"
    assert "Last refreshed from Voucherify" in page.inner_text("#last-refresh")

    # A run a worker has not taken yet, then moved on by another process as a worker would.
    shop_shell(
        tmp_path,
        server,
        "from django.utils import timezone;"
        "from django_voucherify.models import Voucher;"
        "[Voucher.objects.create(code=f'SUMMER-{i}', discount_type='PERCENT', percent_off=20,"
        " amount_limit=5000, category='summer-sale', redemption_quantity=100,"
        " expiration_date=timezone.now()) for i in range(3)];"
        "Voucher.objects.create(code='GIFT-1', type='GIFT_VOUCHER', gift_amount=10000, gift_balance=5000);"
        "Voucher.objects.create(code='LOYAL-1', type='LOYALTY_CARD', loyalty_points=100, loyalty_balance=80);"
        "Voucher.objects.create(code='ERR-1', amount_off=500, last_error_key='rate_limited')",
    )
    shop_shell(
        tmp_path,
        server,
        "from django_voucherify.models import VoucherRefreshRun; VoucherRefreshRun.objects.create()",
    )
    page.goto(f"{base}/admin/django_voucherify/voucher/")
    page.wait_for_selector("#last-refresh[data-refresh-state='queued']")
    assert page.get_attribute("#last-refresh", "data-refresh-finished") == "0"
    assert page.is_hidden("#last-refresh [data-refresh-ended]")
    page.evaluate("() => { window.notReloaded = true; }")  # gone if the page reloads
    shot_in = REFRESH_ARTIFACTS
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url) if "status.json" in request.url else None)
    # The poller backs off after failures (twice as long each time, up to a minute)...
    delays = page.evaluate(
        "() => [0, 1, 2, 3, 4, 5, 6].map(n => window.djangoVoucherifyLive.delayAfter(2000, n))"
    )
    assert delays == [2000, 4000, 8000, 16000, 32000, 60000, 60000]
    # ...and a failed answer does not stop it: the next one (4 s later) is read.
    failing = {"left": 1}

    def answer(route):
        if failing["left"]:
            failing["left"] -= 1
            route.fulfill(status=500, body="boom")
        else:
            route.continue_()

    page.route("**/refresh/status.json", answer)
    page.wait_for_selector("body[data-live-failures='1']")

    shop_shell(
        tmp_path,
        server,
        "from django.utils import timezone;"
        "from django_voucherify.models import VoucherRefreshRun;"
        "VoucherRefreshRun.objects.filter(state='queued').update(state='running', started_at=timezone.now(),"
        " heartbeat_at=timezone.now(), done=10, total=40)",
    )
    page.wait_for_selector("#last-refresh[data-refresh-state='running']")
    assert "10 of 40 vouchers stored" in page.inner_text("[data-refresh-field=message]")
    assert page.is_visible("#last-refresh progress")
    assert page.evaluate("() => document.querySelector('#last-refresh progress').value") == 10
    page.screenshot(path=str(shot_in / "refresh-running-light.png"), full_page=True)

    shop_shell(
        tmp_path,
        server,
        "from django.utils import timezone;"
        "from django_voucherify.models import VoucherRefreshRun;"
        "VoucherRefreshRun.objects.filter(state='running').update(state='succeeded',"
        " finished_at=timezone.now(), done=40,"
        " stats={'created': 38, 'updated': 2, 'removed': 1, 'skipped': 0})",
    )
    page.wait_for_selector("#last-refresh[data-refresh-finished='1']")
    message = page.inner_text("[data-refresh-field=message]")
    assert "Last refreshed from Voucherify" in message
    assert "40 vouchers (38 new, 2 updated, 1 removed" in message
    assert page.is_hidden("#last-refresh progress")
    assert page.is_visible("#last-refresh [data-refresh-ended] a")
    assert page.evaluate("() => window.notReloaded === true")  # updated in place
    assert "is-ok" in (page.get_attribute("#last-refresh", "class") or "")
    page.screenshot(path=str(shot_in / "refresh-done-light.png"), full_page=True)
    followed = len(asked)
    assert followed >= 3 and not page.locator("[data-refresh-stopped]").count()
    page.click("#last-refresh [data-refresh-ended] a")  # "reload the list"
    page.wait_for_selector("#result_list")
    assert page.evaluate("() => window.notReloaded === undefined")

    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.goto(f"{base}/admin/django_voucherify/voucher/")
        page.wait_for_selector("#result_list")
        page.screenshot(path=str(shot_in / f"vouchers-short-codes-{scheme}.png"), full_page=True)
        fits = page.evaluate(FIT)
        assert fits["window"] == 1280 and fits["sidebar"] > 200, fits  # the navigation sidebar is open
        assert fits["scroll"] <= fits["box"] and fits["page"] <= fits["window"], fits

    shop_shell(
        tmp_path,
        server,
        "from django_voucherify.models import Voucher;"
        f"Voucher.objects.create(code={long_code!r}, amount_off=100, category={long_category!r},"
        " last_error_key='rate_limited')",
    )
    page.goto(f"{base}/admin/django_voucherify/voucher/")
    page.wait_for_selector("#result_list")
    page.screenshot(path=str(shot_in / "vouchers-long-values-dark.png"), full_page=True)
    fits = page.evaluate(FIT)
    assert fits["scroll"] <= fits["box"] and fits["page"] <= fits["window"], fits
    for value, most in ((long_code, 150), (long_category, 100)):
        cut = page.locator(f"#result_list span[title='{value}']")
        box = cut.bounding_box()
        assert cut.inner_text() == value and box and box["width"] < most, box  # cut, whole in title
    assert len(list(REFRESH_ARTIFACTS.glob("*.png"))) == 5
    assert len(asked) == followed  # pages showing a finished run asked nothing


JOB_ARTIFACTS = ROOT / "artifacts" / "admin_jobs"

#: The job changelist's columns: each header's right edge, the window, and both sidebars.
JOB_COLUMNS = """() => {
    const nav = document.querySelector('#nav-sidebar');
    const filter = document.querySelector('#changelist-filter');
    const results = document.querySelector('#result_list').parentElement;
    return {
        columns: [...document.querySelectorAll('#result_list thead th')].map(th => ({
            name: th.className, text: th.innerText.trim(), right: th.getBoundingClientRect().right})),
        rightmost: Math.max(...[...document.querySelectorAll('#result_list td, #result_list th')].map(
            cell => cell.getBoundingClientRect().right)),
        box: results.getBoundingClientRect().right, scroll: results.scrollWidth, client: results.clientWidth,
        page: document.documentElement.scrollWidth, window: window.innerWidth,
        nav: nav ? nav.getBoundingClientRect().width : 0,
        filter: filter && filter.offsetParent ? filter.getBoundingClientRect().left : null,
    };
}"""


def test_jobs_changelist_fits_1280_px_with_the_filters_open(
    page, example_shop, voucherify_sandbox_server, tmp_path
):
    """The job changelist's Created and Finished columns were cut off at 1280 px with the
    navigation sidebar and the filters open; every column is now inside the window."""
    shutil.rmtree(JOB_ARTIFACTS, ignore_errors=True)
    JOB_ARTIFACTS.mkdir(parents=True)
    base = example_shop
    shop_shell(
        tmp_path,
        voucherify_sandbox_server,
        "from django.contrib.auth.models import User;"
        "from datetime import datetime, timezone;"
        "from django_voucherify.models import Job;"
        "clerk = User.objects.create(username='warehouse-clerk-' + 'x' * 40);"
        "late = datetime(2026, 9, 30, 12, 59, tzinfo=timezone.utc);"  # the widest date: Sept. 30, 12:59 p.m.
        "[Job.objects.filter(pk=Job.objects.create(kind=kind, state=state, progress=p, total_rows=1234567,"
        " done_count=1234000, failed_count=5670, started_by=clerk,"
        " finished_at=late if state != 'preparing' else None).pk).update(created_at=late)"
        " for kind, state, p in (('export_voucher_transactions', 'done', 100),"
        " ('update_customers_metadata', 'failed', 40), ('import_customers_csv', 'preparing', 7))]",
    )
    sign_in_staff(page, base)
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.goto(f"{base}/admin/django_voucherify/job/")
        page.wait_for_selector("#result_list")
        page.screenshot(path=str(JOB_ARTIFACTS / f"jobs-{scheme}.png"), full_page=True)
        fits = page.evaluate(JOB_COLUMNS)
        assert fits["window"] == 1280 and fits["nav"] > 200 and fits["filter"] is not None, fits  # both open
        for column in fits["columns"]:  # every column inside the results box, none under the filters
            assert column["right"] <= fits["box"] <= fits["filter"], (column, fits)
        assert fits["rightmost"] <= fits["box"] and fits["scroll"] <= fits["client"], fits  # no scroll
        assert fits["page"] <= fits["window"], fits
        assert [c["text"].lower() for c in fits["columns"][-2:]] == ["started by", "created / finished"]
        user = page.locator("#result_list span.voucherify-cut.is-user").first
        assert user.get_attribute("title") == "warehouse-clerk-" + "x" * 40  # cut, whole in the title
    assert "Sept. 30, 2026, 12:59 p.m." in page.inner_text("#result_list")


LEDGER_ARTIFACTS = ROOT / "artifacts" / "admin_ledger"


@pytest.mark.slow
def test_ledger_changelist_fits_1280_px_with_the_filters_open(
    page, example_shop, voucherify_sandbox_server, tmp_path
):
    """The checkout ledger's ten columns pushed "total discount" and the rest off the right
    edge at 1280 px with the navigation sidebar and the filters open (a sideways scroll); its
    columns are merged as the webhook events' are, and every one is inside the window, light
    and dark."""
    shutil.rmtree(LEDGER_ARTIFACTS, ignore_errors=True)
    LEDGER_ARTIFACTS.mkdir(parents=True)
    base = example_shop
    order = "ORDER-" + "7" * 60
    codes = ["SUMMER-" + "X" * 30, "WINTER-" + "Y" * 30]
    shop_shell(
        tmp_path,
        voucherify_sandbox_server,
        "from django.utils import timezone;"
        "from django_voucherify.models import CheckoutRedemption;"
        f"[CheckoutRedemption.objects.create(order_source_id={order!r} + str(i), codes={codes!r},"
        " tiers=['promo_tier_' + 'z' * 20], state=state, discount_amount=123456789, total_amount=987654321,"
        " last_error_key='voucher_not_found_in_this_project', last_request_id='v-' + '0a' * 30,"
        " needs_attention=True, rollback_requested_at=timezone.now() if state != 'UNKNOWN' else None)"
        " for i, state in enumerate(('SUCCEEDED', 'ORPHANED', 'UNKNOWN'))]",
    )
    sign_in_staff(page, base)
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.goto(f"{base}/admin/django_voucherify/checkoutredemption/")
        page.wait_for_selector("#result_list")
        page.screenshot(path=str(LEDGER_ARTIFACTS / f"ledger-{scheme}.png"), full_page=True)
        fits = page.evaluate(JOB_COLUMNS)
        assert fits["window"] == 1280 and fits["nav"] > 200 and fits["filter"] is not None, fits  # both open
        for column in fits["columns"]:  # every column inside the results box, none under the filters
            assert column["right"] <= fits["box"] <= fits["filter"], (column, fits)
        assert fits["rightmost"] <= fits["box"] and fits["scroll"] <= fits["client"], fits  # no scroll
        assert fits["page"] <= fits["window"], fits
        last = [c["text"].lower() for c in fits["columns"][-3:]]
        assert last == ["discount / to pay", "last error", "created at"], last
        cut = page.locator(f"#result_list span.voucherify-cut[title='{order}0']")
        assert cut.count() == 1 and cut.inner_text() == f"{order}0"  # whole in the DOM and title
        box = cut.bounding_box()
        assert box and box["width"] < 250  # shown cut with an ellipsis
    listed = page.inner_text("#result_list")
    assert "1,234,567.89" in listed and "rollback pending" in listed and "to roll back" in listed
