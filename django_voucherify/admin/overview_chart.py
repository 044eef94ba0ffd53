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


def daily_chart(days: list[dict[str, Any]], url: str) -> dict[str, Any]:
    """Two bars per day (redemptions, discount), each series scaled to its own busiest day;
    the discount amounts as text in the shop's currency (:mod:`.money`)."""
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
        "first": days[0]["day"] if days else None,
        "last": days[-1]["day"] if days else None,
        "url": url,
    }
