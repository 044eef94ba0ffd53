"""An interrupted campaign refresh (``KeyboardInterrupt`` in the walk) is marked failed like any
other, so the next refresh may start. Review 20 found ``voucherify_pull campaigns`` (and the
demo's first start, which runs it in the foreground) stopped with Ctrl-C left its run RUNNING
(``KeyboardInterrupt`` is no ``Exception``): for 15 minutes (until its heartbeat went stale)
the admin's refresh button, beat's refresh and the next demo start were refused."""

from __future__ import annotations

from typing import Any

import pytest

from django_voucherify.models import RefreshSubject, VoucherRefreshRun
from django_voucherify.vouchers import refresh_runs

pytestmark = pytest.mark.django_db


class Interrupted:
    def __init__(self, api: Any) -> None:
        self.vouchers, self.promotions, self.validation_rules = (
            api.vouchers,
            api.promotions,
            api.validation_rules,
        )

        class Campaigns:
            def list(self, **params: Any) -> dict[str, Any]:
                return {"total": 1, "campaigns": []}

            def iterate(self) -> Any:
                raise KeyboardInterrupt
                yield  # a generator

        self.campaigns = Campaigns()


def test_an_interrupted_pull_does_not_block_the_next_refresh(sandbox, api):
    with pytest.raises(KeyboardInterrupt):
        refresh_runs.run(client=Interrupted(api), subject=RefreshSubject.CAMPAIGNS)
    assert VoucherRefreshRun.objects.get().state == "failed"
    _run, created = refresh_runs.queue_unless_running(RefreshSubject.CAMPAIGNS)
    assert created
