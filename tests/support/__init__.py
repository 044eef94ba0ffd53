"""Helpers shared by the test suite, in one place.

Test modules and conftests import from here and never from one another: a test module holds
tests; a helper, constant, fake or fixture two test modules share is defined here once, in the
module of its topic (a fixture shared within one folder goes to that folder's conftest.py).
pytest rewrites the assertions here as in test modules (``tests/conftest.py`` registers them).

``sandbox`` wires the in-process sandbox into the client (call log, options); ``checkout``,
``hierarchy``, ``vouchers``, ``jobs``, ``drain``, ``outbox``, ``shop_models``, ``balance``,
``campaigns``, ``campaign_refresh``, ``voucher_pages``, ``webhooks`` hold those areas' builders;
``workers`` and ``job_workers`` start real Celery workers; ``demo`` runs ./scripts/demo and
``browser`` Chromium; ``paging`` fakes Voucherify's list endpoints; ``leaks`` looks for the app
token wherever an exception could show it; ``spec`` validates sandbox responses against the
vendored OpenAPI spec; ``adversary``, ``raw_http`` and ``concurrency`` inject faults,
misbehaving servers and lock races.
"""
