"""The sandbox's log (logger ``django_voucherify.sandbox``): every unexpected error with its
traceback, and with ``--verbose`` one line per request (method, path without the query
string, status, time in ms), never a header.

Old sandbox: the package's NullHandler on ``django_voucherify`` swallowed everything when the
sandbox ran on its own, so a 500's "see its log" pointed at nothing; ``--verbose`` printed
wsgiref's request lines, query strings included."""

from __future__ import annotations

import dataclasses
import io
import logging
import os
import re
import time

import pytest
import requests

from django_voucherify.sandbox import app as sandbox_app
from django_voucherify.sandbox import log
from django_voucherify.sandbox.server import start_in_thread


@pytest.fixture
def standalone(monkeypatch):
    """Logs as a plain ``python -m django_voucherify.sandbox`` run does: configured by the
    CLI (``standalone(verbose)`` returns what it writes), with no other logging configured but
    the package's NullHandler. pytest's root handlers, added for each test phase, are taken
    away in the test's own phase."""
    before = list(log.logger.handlers), log.logger.level

    def configure(verbose: bool = False) -> io.StringIO:
        monkeypatch.setattr(logging.getLogger(), "handlers", [])
        stream = io.StringIO()
        log.configure(verbose, stream)
        return stream

    yield configure
    log.logger.handlers[:], log.logger.level = before


@pytest.fixture
def server():
    srv = start_in_thread()
    yield srv
    srv.stop()


def _crash_on_list_vouchers(monkeypatch):
    route, _ = sandbox_app.resolve("GET", "/v1/vouchers")

    def boom(req, state):
        raise TypeError("unforeseen")

    broken = dataclasses.replace(route, handler=boom)
    monkeypatch.setattr(sandbox_app, "resolve", lambda method, path: (broken, {}))


def _auth(server) -> dict[str, str]:
    return {"X-App-Id": server.sandbox.app_id, "X-App-Token": server.sandbox.app_token}


def test_a_500_is_logged_with_its_traceback_and_request_id(standalone, server, monkeypatch):
    stream = standalone()
    _crash_on_list_vouchers(monkeypatch)
    resp = requests.get(f"{server.url}/v1/vouchers", headers=_auth(server), timeout=5)
    assert resp.status_code == 500
    written = stream.getvalue()
    assert f"ERROR sandbox: GET /v1/vouchers failed (request {resp.json()['request_id']})" in written
    assert "Traceback (most recent call last)" in written and "TypeError: unforeseen" in written


def test_without_verbose_requests_are_not_logged(standalone, server):
    stream = standalone(verbose=False)
    assert requests.get(f"{server.url}/v1/vouchers", headers=_auth(server), timeout=5).status_code == 200
    assert stream.getvalue() == ""


def test_verbose_logs_method_path_status_and_ms_but_no_query_and_no_header(standalone, server):
    stream = standalone(verbose=True)
    server.sandbox.faults.add(path="/v1/orders", drop=True, times=1)
    requests.get(f"{server.url}/v1/vouchers?limit=5&code=SECRETISH", headers=_auth(server), timeout=5)
    requests.get(f"{server.url}/v1/vouchers/A%2FB", headers=_auth(server), timeout=5)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.url}/v1/orders", headers=_auth(server), timeout=5)
    lines = [line.split(" INFO ", 1)[1] for line in stream.getvalue().splitlines()]
    assert [re.sub(r"\d+ ms$", "N ms", line) for line in lines] == [
        "GET /v1/vouchers 200 N ms",
        "GET /v1/vouchers/A%2FB 404 N ms",
        "GET /v1/orders dropped N ms",
    ]
    written = stream.getvalue()
    assert "SECRETISH" not in written and server.sandbox.app_token not in written


def test_a_project_that_routes_logs_gets_no_second_handler(server):
    # Under pytest the root logger has handlers, as in a Django project with LOGGING set up.
    before = list(log.logger.handlers), log.logger.level
    try:
        log.configure(verbose=True)
        assert log.logger.handlers == before[0]
        assert log.logger.level == logging.INFO
    finally:
        log.logger.handlers[:], log.logger.level = before


def test_configuring_twice_adds_one_handler(standalone):
    standalone()
    standalone()
    assert len(log.logger.handlers) == 1


def test_an_error_outside_the_app_is_logged_by_the_server(standalone, server, monkeypatch):
    stream = standalone()

    def broken_environ(self):
        raise RuntimeError("server bug")

    monkeypatch.setattr("django_voucherify.sandbox.server._Handler.get_environ", broken_environ)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.url}/v1/vouchers", headers=_auth(server), timeout=5)
    written = stream.getvalue()
    assert "ERROR sandbox: the connection from 127.0.0.1 failed" in written
    assert "RuntimeError: server bug" in written


def test_a_crashed_job_is_logged_with_its_traceback(standalone, api, sandbox, monkeypatch):
    from django_voucherify.sandbox import jobs

    stream = standalone()

    def crash(state, record, payload):
        raise KeyError("job bug")

    monkeypatch.setitem(jobs.JOBS, "customers_import", crash)
    sandbox.state.job_delay = 0
    resp = api.post("/v1/customers/importCSV", files={"file": ("c.csv", b"Source_id\nc1\n", "text/csv")})
    sandbox.wait_for_jobs()
    action_id = resp.json()["async_action_id"]
    assert api.get(f"/v1/async-actions/{action_id}").json()["status"] == "FAILED"
    written = stream.getvalue()
    assert f"ERROR sandbox: job {action_id} (customers_import) failed" in written
    assert "KeyError: 'job bug'" in written


def test_a_state_file_that_cannot_be_written_is_logged_and_retried(standalone, tmp_path, monkeypatch):
    from django_voucherify.sandbox.persistence import FilePersistence
    from django_voucherify.sandbox.state import SandboxState

    stream = standalone()
    path = tmp_path / "state.json"
    failures = iter([OSError(28, "No space left on device")])
    real_replace = os.replace

    def flaky_replace(src, dst):
        for error in failures:
            raise error
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", flaky_replace)
    state = SandboxState()
    persistence = FilePersistence(state, path, interval=0.01)
    try:
        state.changed()
        deadline = time.monotonic() + 5
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        persistence.close()
    assert path.exists()  # the saver went on after the failure
    assert list(tmp_path.iterdir()) == [path]  # and left no temp file behind
    written = stream.getvalue()
    assert f"ERROR sandbox: could not save the state to {path}" in written
    assert "No space left on device" in written


def test_the_command_line_logs_to_stderr_despite_the_packages_null_handler():
    import queue
    import subprocess
    import sys
    import threading

    proc = subprocess.Popen(
        [sys.executable, "-m", "django_voucherify.sandbox", "--port", "0", "--verbose"],
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stderr], daemon=True).start()
    try:
        banner = lines.get(timeout=20)  # the import takes a while on a busy machine
        url = re.search(r"http://\S+", banner).group(0)
        headers = {"X-App-Id": "sandbox-app-id", "X-App-Token": "sandbox-secret-key"}
        assert requests.get(f"{url}/v1/vouchers?limit=3", headers=headers, timeout=5).status_code == 200
        assert re.search(r" INFO GET /v1/vouchers 200 \d+ ms$", lines.get(timeout=5).rstrip())
    finally:
        proc.terminate()
        proc.wait(timeout=5)
