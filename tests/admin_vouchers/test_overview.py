"""The Voucherify overview page: counts that need staff, each linking to its worklist, blocks
shown per view permission, and redemptions / discount per day."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from django_voucherify.admin.overview import redemptions_per_day
from django_voucherify.admin.overview_chart import daily_chart
from django_voucherify.models import (
    CheckoutRedemption,
    Job,
    JobKind,
    JobState,
    LedgerState,
    OutboxEntry,
    OutboxState,
    WebhookEvent,
    WebhookEventState,
)
from tests.support.admin import login_staff

pytestmark = pytest.mark.django_db
OVERVIEW = reverse("admin:django_voucherify_overview_changelist")


def outbox(state, n, *, age=timedelta(0)):
    now = timezone.now()
    for i in range(n):
        OutboxEntry.objects.create(
            kind="customer",
            object_pk=f"{state}-{i}-{age.total_seconds()}",
            action="upsert",
            state=state,
            created_at=now - age,
            updated_at=now,
        )


def ledger(state, order, **extra):
    return CheckoutRedemption.objects.create(order_source_id=order, codes=["C"], state=state, **extra)


def webhook(event_id, **extra):
    return WebhookEvent.objects.create(event_id=event_id, type="voucher.updated", payload={}, **extra)


def link_of(page, block, label):
    """The href of the count next to ``label`` in the overview block ``block``."""
    start = page.index(f'id="overview-{block}"')
    section = page[start : page.index("</table>", start)]
    row = section[section.index(label) :]
    href = re.search(r'href="([^"]+)"[^>]*>(\d+)</a>', row)
    assert href, row[:300]
    return href.group(1).replace("&amp;", "&"), int(href.group(2))


def listed(client, url):
    """How many rows the changelist behind ``url`` shows (the worklist really filters)."""
    response = client.get(url)
    assert response.status_code == 200, url  # an unknown filter would redirect to ?e=1
    return response.context["cl"].result_count


def test_everything_fine_says_so(admin_client):
    page = admin_client.get(OVERVIEW).content.decode()
    assert "Nothing needs you right now." in page
    assert 'class="breadcrumbs"' in page and reverse("admin:app_list", args=["django_voucherify"]) in page


def test_each_count_links_to_a_worklist_with_exactly_those_rows(admin_client):
    outbox(OutboxState.PENDING, 3, age=timedelta(hours=5))
    outbox(OutboxState.FAILED, 2)
    outbox(OutboxState.SYNCED, 4)
    ledger(LedgerState.UNKNOWN, "o-1")
    ledger(LedgerState.FAILED, "o-2", needs_attention=True)
    ledger(LedgerState.SUCCEEDED, "o-3", rollback_requested_at=timezone.now())
    ledger(LedgerState.SUCCEEDED, "o-4")
    webhook("e1", needs_attention=True)
    webhook("e2", state=WebhookEventState.PARKED)
    webhook("e3", state=WebhookEventState.PARKED)
    webhook("e4", state=WebhookEventState.PROCESSED)
    Job.objects.create(kind=JobKind.IMPORT_VOUCHERS_CSV, state=JobState.RUNNING)
    Job.objects.create(kind=JobKind.IMPORT_VOUCHERS_CSV, state=JobState.DONE)
    page = admin_client.get(OVERVIEW).content.decode()
    assert "Something needs you" in page
    expected = [
        ("sync", "Outbox entries pending", 3),
        ("sync", "Outbox entries failed", 2),
        ("checkout", "unknown outcome", 1),
        ("checkout", "needing attention", 1),
        ("checkout", "Rollbacks pending", 1),
        ("webhooks", "Events needing attention", 1),
        ("webhooks", "Events parked", 2),
        ("jobs", "Unfinished jobs", 1),
    ]
    for block, label, count in expected:
        url, shown = link_of(page, block, label)
        assert shown == count, label
        assert listed(admin_client, url) == count, (label, url)
    assert "5\xa0hours old" in page  # the oldest pending outbox entry


def test_blocks_follow_view_permissions(client):
    outbox(OutboxState.FAILED, 1)
    login_staff(client, "view_webhookevent")
    page = client.get(OVERVIEW).content.decode()
    assert 'id="overview-webhooks"' in page
    for hidden in ("sync", "checkout", "jobs", "chart"):
        assert f'id="overview-{hidden}"' not in page
    assert "Nothing needs you" in page  # the failed outbox entry is not this user's business


def test_staff_without_any_view_permission_neither_see_nor_open_it(client):
    login_staff(client, "view_voucher")
    assert client.get(OVERVIEW).status_code == 403
    index = client.get(reverse("admin:index")).content.decode()
    assert OVERVIEW not in index


def test_app_index_links_the_overview(admin_client):
    index = admin_client.get(reverse("admin:app_list", args=["django_voucherify"])).content.decode()
    assert OVERVIEW in index


def test_redemptions_per_day_counts_succeeded_ones_by_local_day(db, settings):
    today = timezone.localdate()
    noon = timezone.make_aware(timezone.datetime.combine(today, timezone.datetime.min.time())) + timedelta(
        hours=12
    )
    ledger(LedgerState.SUCCEEDED, "a", redeemed_at=noon, discount_amount=500)
    ledger(LedgerState.SUCCEEDED, "b", redeemed_at=noon - timedelta(hours=2), discount_amount=250)
    ledger(LedgerState.SUCCEEDED, "c", redeemed_at=noon - timedelta(days=2), discount_amount=100)
    ledger(LedgerState.SUCCEEDED, "old", redeemed_at=noon - timedelta(days=40), discount_amount=9)
    ledger(LedgerState.ROLLED_BACK, "d", redeemed_at=noon, discount_amount=999)
    ledger(LedgerState.FAILED, "e", discount_amount=999)
    days = redemptions_per_day(today, days=30)
    assert len(days) == 30 and days[-1]["day"] == today and days[0]["day"] == today - timedelta(days=29)
    by_day = {d["day"]: (d["count"], d["discount"]) for d in days}
    assert by_day[today] == (2, 750)
    assert by_day[today - timedelta(days=2)] == (1, 100)
    assert sum(d["count"] for d in days) == 3


def test_chart_is_drawn_on_the_page(admin_client):
    ledger(LedgerState.SUCCEEDED, "a", redeemed_at=timezone.now(), discount_amount=500)
    page = admin_client.get(OVERVIEW).content.decode()
    assert page.count('<rect class="bar"') == 30 and page.count('<rect class="bar discount"') == 30
    assert "1 redemption" in page and "500 discount given" in page
    assert (
        "style=" not in page[page.index('id="overview-chart"') :].split("</svg>")[0]
    )  # CSP: no inline style


def test_chart_amounts_are_in_the_shops_currency_and_language(admin_client, settings):
    from django.utils import translation

    settings.VOUCHERIFY = {**settings.VOUCHERIFY, "CURRENCY": "eur"}
    ledger(LedgerState.SUCCEEDED, "a", redeemed_at=timezone.now(), discount_amount=123450)
    page = admin_client.get(OVERVIEW).content.decode()
    assert "1,234.50\u00a0EUR discount given" in page and "minor units" not in page
    assert ": 1,234.50\u00a0EUR discount</title>" in page  # today's bar
    with translation.override("de"):
        from django_voucherify.admin.money import format_amount

        assert (
            format_amount(123450) == "1.234,50\u00a0EUR" and format_amount(-500, "JPY") == "\u22125\u00a0JPY"
        )
        # Voucherify's amounts are x100 for every currency: 1000 is 10 yen, 10.000 dinars.
        assert (
            format_amount(100000, "JPY") == "1.000\u00a0JPY"
            and format_amount(-5, "JPY") == "\u22120,05\u00a0JPY"
        )
        assert format_amount(1234, "KWD") == "12,340\u00a0KWD" and format_amount(1000, "jpy") == "10\u00a0JPY"


def test_without_a_currency_the_chart_says_minor_units(admin_client):
    ledger(LedgerState.SUCCEEDED, "a", redeemed_at=timezone.now(), discount_amount=500)
    assert "500 discount given (minor units)" in admin_client.get(OVERVIEW).content.decode()


@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=10**12)),
        min_size=1,
        max_size=60,
    )
)
def test_chart_bars_stay_inside_and_scale_to_the_busiest_day(values):
    from datetime import date

    days = [
        {"day": date(2026, 1, 1) + timedelta(days=i), "count": c, "discount": d}
        for i, (c, d) in enumerate(values)
    ]
    chart = daily_chart(days, "/x")
    for bar in chart["bars"]:
        for y, h in ((bar["count_y"], bar["count_h"]), (bar["discount_y"], bar["discount_h"])):
            assert 0 <= h <= chart["plot"] and abs(y + h - chart["plot"]) < 0.2
        assert 0 <= bar["x"] < bar["x2"] + bar["width"] <= chart["width"] + 0.2
    busiest = max(c for c, _ in values)
    tallest = max(b["count_h"] for b in chart["bars"])
    assert tallest == (chart["plot"] if busiest else 0)
    assert chart["total_count"] == sum(c for c, _ in values)


def test_page_costs_the_same_queries_however_many_rows(admin_client):
    """No query per row: the page stays cheap on a busy shop."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert admin_client.get(OVERVIEW).status_code == 200
        return len(ctx.captured_queries)

    few = queries()
    outbox(OutboxState.PENDING, 30)
    for i in range(30):
        ledger(
            LedgerState.SUCCEEDED, f"q-{i}", redeemed_at=timezone.now() - timedelta(days=i), discount_amount=i
        )
        Job.objects.create(kind=JobKind.IMPORT_VOUCHERS_CSV, state=JobState.RUNNING)
        webhook(f"q-{i}", needs_attention=True)
    assert queries() == few


def test_a_recently_failed_job_needs_staff_and_links_to_the_failed_jobs(admin_client):
    old = Job.objects.create(kind=JobKind.EXPORT_ORDERS, state=JobState.FAILED, error="long ago")
    Job.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(days=30))
    assert "Nothing needs you right now." in admin_client.get(OVERVIEW).content.decode()
    Job.objects.create(kind=JobKind.EXPORT_ORDERS, state=JobState.FAILED, error="Voucherify said no")
    response = admin_client.get(OVERVIEW)
    page = response.content.decode()
    assert "Nothing needs you right now." not in page
    from django_voucherify.admin.overview import jobs_block

    failed_url = jobs_block()["failed_url"]
    assert failed_url.replace("&", "&amp;") in page
    # The worklist holds what was counted (the old job is out of the window), as the job
    # changelist's own "Past 7 days" filter would show it.
    assert listed(admin_client, failed_url) == 1
    everything = reverse("admin:django_voucherify_job_changelist") + "?state__exact=failed"
    assert listed(admin_client, everything) == 2


def test_the_chart_query_can_use_the_succeeded_at_index():
    """The chart filters a range of ``redeemed_at`` itself (``__date`` is a function of it, which
    no index serves): with sequential scans made expensive, the plan is the partial index."""
    from django.db import connection

    from django_voucherify.admin import overview

    captured = []
    with connection.execute_wrapper(
        lambda execute, sql, params, many, ctx: (
            captured.append((sql, params)) or execute(sql, params, many, ctx)
        )
    ):
        overview.redemptions_per_day(timezone.localdate())
    sql, params = captured[-1]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "voucherify_ledger_succeeded_at" in plan, plan
    assert "Index Cond: ((redeemed_at >=" in plan, plan  # the range is searched, not filtered


def test_discounts_of_other_currencies_are_not_added_to_the_shops(admin_client, settings):
    """The chart summed every row's discount as one amount: 5.00 EUR and 7.00 USD showed as
    "12.00 EUR discount given". A row's currency is its order mirror's (none: the shop's);
    the bars and the total are the shop's currency, the others are listed apart, per currency,
    and every redemption still counts in the redemption bars. Still a fixed number of queries."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from django_voucherify.models import Order

    settings.VOUCHERIFY = {**settings.VOUCHERIFY, "CURRENCY": "EUR"}

    def page_and_queries() -> tuple[str, int]:
        with CaptureQueriesContext(connection) as ctx:
            response = admin_client.get(OVERVIEW)
        assert response.status_code == 200
        return response.content.decode(), len(ctx.captured_queries)

    now = timezone.now()
    ledger(LedgerState.SUCCEEDED, "no-mirror", redeemed_at=now, discount_amount=100)
    _page, few = page_and_queries()
    for source_id, code, discount in (
        ("eur-1", "EUR", 200),
        ("eur-2", "eur", 200),  # a mirror's currency in lower case is the same currency
        ("usd-1", "USD", 700),
        ("usd-2", "USD", 50),
        ("chf-1", "CHF", 1000),
        ("blank", "", 10),  # a mirror without a currency: the shop's
    ):
        CheckoutRedemption.objects.create(
            order_source_id=source_id,
            order=Order.objects.create(source_id=source_id, currency=code),
            codes=["C"],
            state=LedgerState.SUCCEEDED,
            redeemed_at=now,
            discount_amount=discount,
        )
    page, many = page_and_queries()
    assert many == few
    assert "7 redemptions" in page  # every redemption counts
    assert "5.10\u00a0EUR discount given" in page and "22.60" not in page  # 100 + 200 + 200 + 10
    assert ": 5.10\u00a0EUR discount</title>" in page  # today's bar
    others = page[page.index('class="voucherify-chart-others"') :].split("</p>")[0]
    assert "10.00\u00a0CHF in 1 redemption;" in others and "7.50\u00a0USD in 2 redemptions" in others
    assert others.index("CHF") < others.index("USD")
    days = redemptions_per_day(timezone.localdate())
    assert days[-1]["other"] == {"USD": (2, 750), "CHF": (1, 1000)}


def test_one_currency_shows_no_other_currencies_note(admin_client):
    ledger(LedgerState.SUCCEEDED, "a", redeemed_at=timezone.now(), discount_amount=500)
    assert "voucherify-chart-others" not in admin_client.get(OVERVIEW).content.decode()


def test_without_a_currency_setting_the_orders_currency_fills_the_bars(admin_client):
    """``CURRENCY`` unset (the default) and order mirrors naming their currency (the usual
    mapping): the chart said "0 discount given (minor units)" and listed the shop's only
    currency as "another currency". With one currency among the mirrors it is the bars';
    a second one is listed apart, never added."""
    from django_voucherify.models import Order

    now = timezone.now()
    for source_id, code, discount in (("e-1", "EUR", 500), ("e-2", "eur", 200), ("blank", "", 10)):
        CheckoutRedemption.objects.create(
            order_source_id=source_id,
            order=Order.objects.create(source_id=source_id, currency=code),
            codes=["C"],
            state=LedgerState.SUCCEEDED,
            redeemed_at=now,
            discount_amount=discount,
        )
    page = admin_client.get(OVERVIEW).content.decode()
    assert "710 discount given (minor units)" in page
    assert "voucherify-chart-others" not in page

    CheckoutRedemption.objects.create(
        order_source_id="u-1",
        order=Order.objects.create(source_id="u-1", currency="USD"),
        codes=["C"],
        state=LedgerState.SUCCEEDED,
        redeemed_at=now,
        discount_amount=300,
    )
    page = admin_client.get(OVERVIEW).content.decode()
    assert "710 discount given (minor units)" in page  # EUR: two redemptions, USD one
    others = page[page.index('class="voucherify-chart-others"') :].split("</p>")[0]
    assert "USD in 1 redemption" in others and "EUR" not in others
