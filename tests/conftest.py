"""Suite-wide: every response of every sandbox a test creates must conform to openapi.json.

Each :class:`~django_voucherify.sandbox.app.Sandbox` built while the suite runs (the
``voucherify_sandbox`` fixtures, servers, sandboxes tests build themselves, in any directory)
gets a response listener that validates each exchange with ``tests/support/spec.py``. A test
whose setup or body produced a non-conforming response fails, with the operation, the place in
the body and the schema path; responses produced while its fixtures are torn down fail it at
teardown. Sandboxes in other processes (a Celery worker, ``python -m
django_voucherify.sandbox``) are out of reach; their tests also exercise in-process ones.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

# Before anything imports them: the assertions of the helpers in tests/support (shared by many
# test modules) fail with pytest's detailed messages, as they did in the test modules.
pytest.register_assert_rewrite("tests.support")

from django_voucherify.sandbox.app import Exchange, Sandbox  # noqa: E402
from tests.support import spec  # noqa: E402

_lock = threading.Lock()
_problems: list[str] = []


def _check(exchange: Exchange) -> None:
    try:
        found = spec.check_exchange(exchange)
    except Exception as exc:  # never break the sandbox's answer; report the checker's failure
        found = [f"{exchange.operation_id}: conformance check crashed: {exc!r}"]
    if found:
        with _lock:
            _problems.extend(found)


def _listen(sandbox: Sandbox) -> None:
    sandbox.response_listeners.append(_check)


# At import, not in a fixture: sandboxes built by session- or module-scoped fixtures are covered.
Sandbox.instance_hooks.append(_listen)


def _take() -> list[str]:
    with _lock:
        taken = list(_problems)
        _problems.clear()
    return taken


def _fail(problems: list[str]) -> None:
    shown = "\n".join(problems[:20])
    more = f"\n... and {len(problems) - 20} more" if len(problems) > 20 else ""
    pytest.fail(f"sandbox responses do not conform to openapi.json:\n{shown}{more}", pytrace=False)


@pytest.fixture(autouse=True)
def _sandbox_responses_conform() -> Iterator[None]:
    _take()  # a previous test's late responses (background threads) are not this test's
    yield
    if problems := _take():
        _fail(problems)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Fail the test itself (not only its teardown) for responses produced so far."""
    result: Any = yield
    if problems := _take():
        _fail(problems)
    return result  # type: ignore[no-any-return]


@pytest.fixture
def eager_celery() -> Iterator[Any]:
    """Tasks run inline (``task_always_eager``) on the tests' Celery app (sync, checkout...)."""
    from tests.sync.celery_app import app as celery_app

    conf = celery_app.conf
    saved = (conf.task_always_eager, conf.task_eager_propagates)
    conf.task_always_eager, conf.task_eager_propagates = True, False
    celery_app.set_current()
    celery_app.set_default()
    try:
        yield celery_app
    finally:
        conf.task_always_eager, conf.task_eager_propagates = saved
