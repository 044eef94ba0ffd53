"""Fixtures of the campaign, validation-rule and product admin tests: the sandbox (the suite's
``voucherify_sandbox``, answering the shared client's HTTP requests) with a call log, eager
Celery, and staff users holding only the permissions a test names."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest
from django.contrib.auth.models import User

from tests.support.admin import login_staff
from tests.support.campaigns import campaign_body
from tests.support.sandbox import wired


@pytest.fixture
def sandbox(voucherify_sandbox: Any, eager_celery: Any) -> Iterator[Any]:
    with wired(voucherify_sandbox, MAX_RETRIES=0) as sandbox:
        yield sandbox


@pytest.fixture
def api(sandbox: Any) -> Any:
    """The shared client, on the sandbox."""
    import django_voucherify

    return django_voucherify.get_client()


@pytest.fixture
def campaigns(api: Any) -> Any:
    """``campaigns("Spring", "Summer")``: created in the sandbox and mirrored (a full refresh)."""
    from django_voucherify.models import Campaign
    from django_voucherify.vouchers import campaigns as mirrors

    def create(*names: str, **extra: Any) -> list[Any]:
        made = [api.campaigns.create(campaign_body(name, **extra)) for name in names]
        mirrors.refresh_all()
        return [Campaign.objects.get(voucherify_id=c["id"]) for c in made]

    return create


@pytest.fixture
def staff(client: Any) -> Callable[..., User]:
    """``staff("view_campaign", ...)``: a logged-in staff user with exactly these permissions."""
    return partial(login_staff, client)
