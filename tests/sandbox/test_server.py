"""The sandbox over real HTTP on a loopback port, the in-process adapter, fault injection,
persistence and the pytest fixtures."""

from __future__ import annotations

import http.client
import io
import json
import time
from urllib.parse import quote

import pytest
import requests

from django_voucherify.sandbox import rule_store
from django_voucherify.sandbox.app import Sandbox
from django_voucherify.sandbox.limits import MAX_BODY
from django_voucherify.sandbox.persistence import FilePersistence, load_state
from django_voucherify.sandbox.seed import seed
from django_voucherify.sandbox.server import start_in_thread
from django_voucherify.sandbox.state import SandboxState

AUTH = {"X-App-Id": "sandbox-app-id", "X-App-Token": "sandbox-secret-key"}
ODD = "A/B?C#D%E ü"


@pytest.fixture
def server():
    srv = start_in_thread(Sandbox())
    yield srv
    srv.stop()


def test_http_auth_odd_codes_and_request_ids(server):
    r = requests.get(
        server.url + "/v1/vouchers", headers={"X-App-Id": "sandbox-app-id", "X-App-Token": "bad"}
    )
    assert r.status_code == 401 and r.json()["key"] == "unauthorized"
    assert r.json()["request_id"] == r.headers["X-Request-Id"]
    assert requests.get(server.url + "/v1/vouchers").status_code == 401
    url = f"{server.url}/v1/vouchers/{quote(ODD, safe='')}"
    r = requests.post(url, headers=AUTH, json={"type": "GIFT_VOUCHER", "gift": {"amount": 10}})
    assert r.status_code == 200 and r.json()["code"] == ODD
    assert requests.get(url, headers=AUTH).json()["code"] == ODD


def test_http_413_for_bodies_over_10mb(server):
    big = b"x" * (MAX_BODY + 1)
    r = requests.post(
        server.url + "/v1/vouchers/import", headers={**AUTH, "Content-Type": "application/json"}, data=big
    )
    assert r.status_code == 413 and r.json()["code"] == 413


def test_http_keep_alive_one_connection(server):
    host, port = server.url.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port))
    for i in range(5):
        conn.request(
            "POST",
            f"/v1/vouchers/K{i}",
            body=json.dumps({"type": "GIFT_VOUCHER", "gift": {"amount": 1}}),
            headers={**AUTH, "Content-Type": "application/json"},
        )
        resp = conn.getresponse()
        assert resp.status == 200
        resp.read()
        if i == 0:
            sock = conn.sock
        assert conn.sock is sock  # same socket: the server kept it open
    # an unauthenticated request with a body does not break the connection either
    conn.request("POST", "/v1/vouchers/X", body=b"{}", headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 401
    resp.read()
    conn.request("GET", "/v1/vouchers/K1", headers=AUTH)
    assert conn.getresponse().status == 200 and conn.sock is sock
    conn.close()


def test_http_dropped_connection_fault(server):
    server.sandbox.faults.add(path="/v1/vouchers/*", method="GET", drop=True, times=1)
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + "/v1/vouchers/X", headers=AUTH)
    assert requests.get(server.url + "/v1/vouchers/X", headers=AUTH).status_code == 404


def test_export_download_url_points_at_server(server):
    s = requests.Session()
    s.headers.update(AUTH)
    s.post(server.url + "/v1/orders", json={"source_id": "o1", "amount": 5})
    exp = s.post(server.url + "/v1/orders/export", json={}).json()
    server.sandbox.wait_for_jobs()
    url = s.get(f"{server.url}/v1/exports/{exp['id']}").json()["result"]["url"]
    assert url.startswith(server.url + "/v1/exports/")
    assert requests.get(url).text.splitlines()[0] == "id,source_id,status"


# ---- faults through the in-process adapter ---------------------------------------------
def test_fault_status_times_and_retry_after(api, sandbox):
    rule = sandbox.faults.add(path="/v1/vouchers/*", method="GET", status=503, times=2)
    sandbox.faults.add(path="/v1/customers", status=429, retry_after=3, times=1)
    assert api.get("/v1/vouchers/X").status_code == 503
    assert api.get("/v1/vouchers/X").status_code == 503
    assert api.get("/v1/vouchers/X").status_code == 404
    assert rule.hits == 2
    r = api.get("/v1/customers")
    assert r.status_code == 429 and r.headers["Retry-After"] == "3" and r.json()["code"] == 429
    assert api.get("/v1/customers").status_code == 200


def test_fault_rate_is_reproducible(sandbox):
    sandbox.faults.add(path="*", status=500, rate=0.5)
    picks = [sandbox.faults.pick("GET", "/v1/x") is not None for _ in range(200)]
    assert 60 < sum(picks) < 140
    again = Sandbox()
    again.faults.add(path="*", status=500, rate=0.5)
    assert [again.faults.pick("GET", "/v1/x") is not None for _ in range(200)] == picks


def test_fault_drop_and_latency_timeouts(api, sandbox):
    sandbox.faults.add(path="/v1/orders", drop=True, times=1)
    with pytest.raises(requests.ConnectionError):
        api.get("/v1/orders")
    sandbox.faults.add(path="/v1/customers", latency=0.3, times=2)
    with pytest.raises(requests.ReadTimeout):
        api.get("/v1/customers", timeout=(1, 0.05))
    t = time.monotonic()
    assert api.get("/v1/customers", timeout=2).status_code == 200
    assert time.monotonic() - t >= 0.3


def test_adapter_streams_generator_and_file_bodies(api, sandbox):
    text = b"Code,Voucher Type,Value\nGEN1,GIFT_VOUCHER,100\n"
    boundary = "b0undary"
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="v.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def chunks():
        yield head
        yield text
        yield tail

    ctype = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    r = api.post("/v1/vouchers/importCSV", data=chunks(), headers=ctype)
    assert r.status_code == 202, r.text
    r = api.post(
        "/v1/vouchers/importCSV", data=io.BytesIO(head + text.replace(b"GEN1", b"GEN2") + tail), headers=ctype
    )
    assert r.status_code == 202
    sandbox.wait_for_jobs()
    assert api.get("/v1/vouchers/GEN1").json()["gift"]["amount"] == 100
    assert api.get("/v1/vouchers/GEN2").status_code == 200
    big = io.BytesIO(b"x" * (MAX_BODY + 10))
    assert api.post("/v1/vouchers/import", data=big).status_code == 413


# ---- persistence and seed ----------------------------------------------------------------
def test_persistence_round_trip(tmp_path):
    path = tmp_path / "state.json"
    state = load_state(path)
    sb = Sandbox(state=state)
    persist = FilePersistence(state, path, interval=0.05)
    seed(state)
    s = requests.Session()
    sb.mount(s)
    s.headers.update(AUTH)
    s.post(
        f"https://api.voucherify.io/v1/vouchers/{quote(ODD, safe='')}",
        json={"type": "GIFT_VOUCHER", "gift": {"amount": 7}},
    )
    s.post("https://api.voucherify.io/v1/vouchers/GIFT100/balance", json={"amount": 100})
    persist.close()
    again = Sandbox(state=load_state(path))
    s2 = requests.Session()
    again.mount(s2)
    s2.headers.update(AUTH)
    assert (
        s2.get(f"https://api.voucherify.io/v1/vouchers/{quote(ODD, safe='')}").json()["gift"]["amount"] == 7
    )
    v = s2.get("https://api.voucherify.io/v1/vouchers/GIFT100").json()
    assert v["gift"]["balance"] == 10100
    assert (
        s2.get(f"https://api.voucherify.io/v1/vouchers/{v['id']}/transactions").json()["data"][0]["type"]
        == "CREDITS_ADDITION"
    )
    assert (
        s2.get("https://api.voucherify.io/v1/customers/alice@example.com").json()["summary"]["orders"][
            "total_count"
        ]
        == 1
    )
    assert s2.get("https://api.voucherify.io/v1/orders/demo-order-1").json()["amount"] == 3000
    # Each by its code: the seeded campaigns' 250 codes fill more than a page of the list.
    for code in ("WELCOME10", "SPRING20", "FIXED50", "GIFT100", "LOYAL-1"):
        assert s2.get(f"https://api.voucherify.io/v1/vouchers/{code}").status_code == 200, code
    campaigns = s2.get("https://api.voucherify.io/v1/campaigns", params={"limit": 10}).json()["campaigns"]
    assert {c["name"] for c in campaigns} >= {"Big basket", "Spring coupons", "Welcome"}


# ---- the pytest plugin fixtures ------------------------------------------------------------
def test_server_fixture(voucherify_sandbox_server):
    r = requests.get(voucherify_sandbox_server.url + "/v1/vouchers", headers=AUTH)
    assert (
        r.status_code == 200 and voucherify_sandbox_server.sandbox.base_url == voucherify_sandbox_server.url
    )


def test_http_chunked_upload_keeps_connection(server):
    s = requests.Session()
    s.headers.update(AUTH)
    boundary = "bnd"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="c.csv"\r\n\r\n'.encode(),
        b"Source_id,Name\nchunky,Chunk\n",
        f"\r\n--{boundary}--\r\n".encode(),
    ]
    ctype = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    r = s.post(server.url + "/v1/customers/importCSV", data=iter(parts), headers=ctype)
    assert r.status_code == 202, r.text
    server.sandbox.wait_for_jobs()
    assert s.get(server.url + "/v1/customers/chunky").json()["name"] == "Chunk"


def test_adapter_streamed_response_and_reason(api, sandbox):
    api.post("/v1/vouchers/S1", json={"type": "GIFT_VOUCHER", "gift": {"amount": 1}})
    r = api.get("/v1/vouchers/S1", stream=True)
    assert r.reason == "OK"
    assert json.loads(b"".join(r.iter_content(7)))["code"] == "S1"


def test_cli_arguments_and_seed_is_idempotent():
    import argparse

    from django_voucherify.sandbox.cli import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        ["--port", "0", "--app-id", "A", "--app-token", "T", "--data", "f.json", "--seed"]
    )
    assert (args.port, args.app_id, args.app_token, args.data, args.seed) == (0, "A", "T", "f.json", True)
    state = SandboxState()
    seed(state)
    seed(state)
    assert len(state.orders) == 2 and len(state.customers) == 2 and "GIFT100" in state.vouchers
    # MUGLOVE's rule and the automatic promotion's (assigned to its tier)
    assert len(rule_store.rules(state)) == 2 and len(rule_store.assignments(state)) == 2


def test_the_seeded_product_limited_code_needs_its_product():
    """MUGLOVE (seeded with a rule): refused with the rule's own message on a cart without a
    mug, valid with one; the cart's items as the demo shop and the order mirror send them."""
    state = SandboxState()
    seed(state)
    api = requests.Session()
    Sandbox(state=state).mount(api)
    api.headers.update(AUTH)

    def validate(*skus: str) -> dict:
        items = [{"source_id": s, "related_object": "product", "price": 1250, "quantity": 1} for s in skus]
        body = {"redeemables": [{"object": "voucher", "id": "MUGLOVE"}], "order": {"items": items}}
        return api.post("https://api.voucherify.io/v1/validations", json=body).json()

    refused = validate("POSTER")
    assert refused["valid"] is False
    reason = refused["inapplicable_redeemables"][0]["result"]["error"]
    assert reason["key"] == "order_rules_violated"
    assert reason["error"]["message"] == "MUGLOVE applies to orders with a mug."
    assert validate("POSTER", "MUG")["valid"] is True


def test_management_command_is_registered():
    from django.core.management import get_commands

    assert get_commands()["voucherify_sandbox"] == "django_voucherify"


def test_handler_crash_is_a_500_with_an_error_body_not_a_dropped_connection(server):
    headers = {"X-App-Id": server.sandbox.app_id, "X-App-Token": server.sandbox.app_token}
    response = requests.post(f"{server.url}/v1/orders", json={"source_id": [1]}, headers=headers, timeout=5)
    assert response.status_code in (400, 500)
    body = response.json()
    assert body["key"] in ("invalid_payload", "internal_error")
    assert body["request_id"] == response.headers["X-Request-Id"]


def test_bad_content_length_is_a_400(sandbox):
    import io

    environ = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": "/v1/customers",
        "CONTENT_LENGTH": "abc",
        "CONTENT_TYPE": "application/json",
        "HTTP_X_APP_ID": sandbox.app_id,
        "HTTP_X_APP_TOKEN": sandbox.app_token,
        "wsgi.input": io.BytesIO(b"{}"),
    }
    response = sandbox.handle_environ(environ)
    assert response.status == 400
    assert response.body["key"] == "invalid_payload"


def test_unexpected_handler_exception_becomes_internal_error(sandbox, monkeypatch):
    import dataclasses
    import io

    from django_voucherify.sandbox import app as sandbox_app

    route, _ = sandbox_app.resolve("GET", "/v1/vouchers")

    def boom(req, state):
        raise TypeError("unforeseen")

    broken = dataclasses.replace(route, handler=boom)
    monkeypatch.setattr(sandbox_app, "resolve", lambda method, path: (broken, {}))
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/v1/vouchers",
        "HTTP_X_APP_ID": sandbox.app_id,
        "HTTP_X_APP_TOKEN": sandbox.app_token,
        "wsgi.input": io.BytesIO(b""),
    }
    response = sandbox.handle_environ(environ)
    assert response.status == 500
    assert response.body["key"] == "internal_error"
