"""The overview's bar chart of redemptions and discount per day, as SVG geometry.

Computed here (not in the template) so the bars are plain numbers the template writes into
``<rect>`` attributes: no script and no inline style, so the chart works under a strict CSP,
and colours come from the admin's CSS variables (voucherify_admin.css), light or dark.
"""

from __future__ import annotations

from typing import Any

from .money import currency, format_amount

#: The SVG's user-space size; it scales to the block's width (about 1:1 in a 1280 px window,
#: so its labels keep the admin's small text size).
WIDTH = 900
HEIGHT = 160
#: Room under the bars for the first and last day's labels.
LABEL_ROOM = 14


def other_currencies(days: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The discounts given in currencies other than the shop's, per currency over all days
    (``code``, ``count`` redemptions, ``discount`` and its text), by currency code."""
    totals: dict[str, tuple[int, int]] = {}
    for d in days:
        for code, (count, discount) in (d.get("other") or {}).items():
            seen = totals.get(code, (0, 0))
            totals[code] = (seen[0] + count, seen[1] + discount)
    return [
        {"code": code, "count": count, "discount": discount, "discount_text": format_amount(discount, code)}
        for code, (count, discount) in sorted(totals.items())
    ]


def daily_chart(days: list[dict[str, Any]], url: str) -> dict[str, Any]:
    """Two bars per day (redemptions, discount), each series scaled to its own busiest day;
    the discount amounts as text in the shop's currency (:mod:`.money`). Redemptions in other
    currencies count in the redemption bars; their discounts are listed apart (``others``),
    never added to the shop's currency."""
    slot = WIDTH / max(len(days), 1)
    bar = max(slot / 2 - 1, 1)
    plot = HEIGHT - LABEL_ROOM
    top_count = max((d["count"] for d in days), default=0) or 1
    top_discount = max((d["discount"] for d in days), default=0) or 1
    bars = []
    for i, d in enumerate(days):
        count_h = round(plot * d["count"] / top_count, 1)
        discount_h = round(plot * d["discount"] / top_discount, 1)
        bars.append(
            {
                **d,
                "x": round(i * slot, 1),
                "x2": round(i * slot + bar, 1),
                "width": round(bar, 1),
                "count_y": round(plot - count_h, 1),
                "count_h": count_h,
                "discount_y": round(plot - discount_h, 1),
                "discount_h": discount_h,
                "discount_text": format_amount(d["discount"]),
            }
        )
    return {
        "bars": bars,
        "width": WIDTH,
        "height": HEIGHT,
        "plot": plot,
        "label_y": HEIGHT - 2,
        "total_count": sum(d["count"] for d in days),
        "total_discount": sum(d["discount"] for d in days),
        "total_discount_text": format_amount(sum(d["discount"] for d in days)),
        # Set: the amounts are money in it; None: they are minor units, and the page says so.
        "currency": currency(),
        "others": other_currencies(days),
        "first": days[0]["day"] if days else None,
        "last": days[-1]["day"] if days else None,
        "url": url,
    }
