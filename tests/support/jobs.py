"""Builders of the bulk job tests."""

from __future__ import annotations

#: Job options that make the in-process sandbox's async actions finish in a blink.
FAST = {"JOB_POLL_INTERVAL": 0.02, "JOB_POLL_INTERVAL_MAX": 0.1, "JOB_RESUBMIT_AFTER": 30.0, "MAX_RETRIES": 0}


def voucher_csv(rows: int, start: int = 0, extra: str = "") -> bytes:
    lines = ["Code,Voucher Type,Value,Discount Type,Expiration Date" + (",Batch" if extra else "")]
    for i in range(start, start + rows):
        lines.append(f"CODE-{i:07d},DISCOUNT_VOUCHER,10,PERCENT,2030-01-01" + (f",{extra}" if extra else ""))
    return ("\n".join(lines) + "\n").encode()
