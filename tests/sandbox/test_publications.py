"""Publications in the sandbox: codes given to customers, join_once (also under concurrency
over HTTP), codes running out, listing."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import requests

from django_voucherify.sandbox import campaign_store
from tests.support.sandbox import Api


def _campaign(api: Api, name: str, count: int, **kw) -> dict:
    body = {
        "name": name,
        "campaign_type": "DISCOUNT_COUPONS",
        "vouchers_count": count,
        "voucher": {"discount": {"type": "PERCENT", "percent_off": 10}, "code_config": {"length": 6}},
        **kw,
    }
    r = api.post("/v1/campaigns", json=body)
    assert r.status_code == 200, r.text
    api.sandbox.wait_for_jobs()
    return r.json()


def _publish(api: Api, campaign, customer: str, **kw) -> requests.Response:
    return api.post(
        "/v1/publications", json={"campaign": campaign, "customer": {"source_id": customer}, **kw}
    )


def test_a_publication_gives_each_customer_an_unpublished_code(api):
    camp = _campaign(api, "Welcome", 3, type="STATIC")
    first = _publish(api, {"name": "Welcome"}, "ann", metadata={"m": 1}, channel="email")
    assert first.status_code == 200, first.text
    pub = first.json()
    assert pub["object"] == "publication" and pub["result"] == "SUCCESS" and pub["channel"] == "email"
    assert pub["id"].startswith("pub_") and pub["metadata"] == {"m": 1} and pub["tracking_id"] == "ann"
    voucher = pub["voucher"]
    cust = api.get("/v1/customers/ann").json()
    assert voucher["holder_id"] == cust["id"] == pub["customer_id"]
    assert voucher["publish"]["count"] == 1 and voucher["campaign_id"] == camp["id"]
    assert pub["vouchers_id"] == [voucher["id"]]
    second = _publish(api, camp["id"], "bob").json()  # by id, as a plain string
    assert second["voucher"]["code"] != voucher["code"]
    # ann again, campaign without join_once: a new code
    third = _publish(api, "Welcome", "ann").json()
    assert third["voucher"]["code"] not in (voucher["code"], second["voucher"]["code"])
    # no code left in a STATIC campaign: the error key
    gone = _publish(api, "Welcome", "cy")
    assert gone.status_code == 400 and gone.json()["key"] == "no_voucher_suitable_for_publication"
    assert gone.json()["resource_id"] == camp["id"]
    # three given, and the failed attempt (stored with result FAILURE)
    assert api.get("/v1/publications").json()["total"] == 4
    assert api.get("/v1/publications", params={"result": "SUCCESS"}).json()["total"] == 3


def test_join_once_gives_the_same_code_again(api):
    _campaign(api, "Once", 5, join_once=True)
    _campaign(api, "Many", 5)
    a = _publish(api, "Once", "ann").json()
    b = _publish(api, "Once", "ann").json()
    assert (a["id"], a["voucher"]["code"]) == (b["id"], b["voucher"]["code"])
    assert _publish(api, "Once", "bob").json()["voucher"]["code"] != a["voucher"]["code"]
    # ?join_once=true on a campaign without the flag
    first = api.post(
        "/v1/publications",
        params={"join_once": "true"},
        json={"campaign": "Many", "customer": {"source_id": "ann"}},
    ).json()
    again = api.post(
        "/v1/publications",
        params={"join_once": "true"},
        json={"campaign": "Many", "customer": {"source_id": "ann"}},
    ).json()
    assert first["voucher"]["code"] == again["voucher"]["code"]
    assert api.get("/v1/publications", params={"campaign": "Once"}).json()["total"] == 2


def test_an_auto_update_campaign_makes_a_code_when_none_is_left(api):
    camp = _campaign(api, "Auto", 1, type="AUTO_UPDATE")
    codes = {_publish(api, "Auto", f"c{i}").json()["voucher"]["code"] for i in range(3)}
    assert len(codes) == 3
    assert api.get(f"/v1/campaigns/{camp['id']}").json()["vouchers_count"] == 3


def test_a_disabled_or_deleted_code_is_not_published(api):
    camp = _campaign(api, "Skip", 2, type="STATIC")
    codes = [
        v["code"] for v in api.get("/v1/vouchers", params={"campaign_id": camp["id"]}).json()["vouchers"]
    ]
    api.post(f"/v1/vouchers/{codes[0]}/disable")
    api.delete(f"/v1/vouchers/{codes[1]}")
    r = _publish(api, "Skip", "ann")
    assert r.status_code == 400 and r.json()["key"] == "no_voucher_suitable_for_publication"
    added = api.post(
        "/v1/vouchers/LATE",
        json={
            "type": "DISCOUNT_VOUCHER",
            "campaign": "Skip",
            "campaign_id": camp["id"],
            "discount": {"type": "AMOUNT", "amount_off": 1},
        },
    )
    assert added.status_code == 200
    # a code added by another door is found once the queue runs dry
    assert _publish(api, "Skip", "ann").json()["voucher"]["code"] == "LATE"


def test_specific_voucher_count_and_source_id(api):
    _campaign(api, "Bulk", 4, type="STATIC")
    api.post(
        "/v1/vouchers/SOLO",
        json={"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1}},
    )
    solo = api.post("/v1/publications", json={"voucher": "SOLO", "customer": {"source_id": "dan"}}).json()
    assert solo["voucher"]["code"] == "SOLO" and solo["voucher"]["holder_id"] == solo["customer_id"]
    many = _publish(api, {"name": "Bulk", "count": 3}, "eve").json()
    assert len(many["vouchers"]) == len(set(many["vouchers"])) == 3 and len(many["vouchers_id"]) == 3
    once = _publish(api, "Bulk", "fay", source_id="crm-1").json()
    twice = _publish(api, "Bulk", "fay", source_id="crm-1").json()
    assert once["id"] == twice["id"]
    assert (
        api.post("/v1/publications", json={"voucher": "NOPE", "customer": {"source_id": "x"}}).status_code
        == 404
    )
    assert _publish(api, "Nope", "x").status_code == 404
    bad = [
        {"campaign": "Bulk"},
        {"customer": {"source_id": "x"}},
        {"campaign": {"name": "Bulk", "count": 0}, "customer": {"source_id": "x"}},
        {"campaign": 5, "customer": {"source_id": "x"}},
    ]
    for body in bad:
        r = api.post("/v1/publications", json=body)
        assert r.status_code == 400 and r.json()["key"] == "invalid_payload", (body, r.text)


def test_list_filters_and_order(api):
    _campaign(api, "L1", 3)
    _campaign(api, "L2", 3)
    ids = [_publish(api, camp, cust).json()["id"] for camp, cust in (("L1", "a"), ("L2", "b"), ("L1", "b"))]
    listed = lambda **q: [p["id"] for p in api.get("/v1/publications", params=q).json()["publications"]]  # noqa: E731
    assert listed() == ids[::-1]
    assert listed(order="created_at") == ids
    assert listed(campaign="L1") == [ids[2], ids[0]]
    assert listed(customer="b") == [ids[2], ids[1]]
    assert listed(**{"filters[campaign_name][conditions][$is]": "L2"}) == [ids[1]]
    assert listed(limit=1, page=2) == [ids[1]]
    code = api.get("/v1/publications", params={"order": "created_at"}).json()["publications"][0]["voucher"][
        "code"
    ]
    assert listed(voucher=code) == [ids[0]]
    assert listed(result="FAILURE") == []


def test_simultaneous_join_once_publications_over_http_give_one_code():
    """Sixteen threads publish the same customer from a join_once campaign at once over real
    HTTP: one code, one publication."""
    from django_voucherify.sandbox.server import start_in_thread

    api = Api()
    _campaign(api, "Race", 20, join_once=True, type="STATIC")
    server = start_in_thread(api.sandbox)
    try:
        headers = {"X-App-Id": api.sandbox.app_id, "X-App-Token": api.sandbox.app_token}
        body = {"campaign": "Race", "customer": {"source_id": "racer"}}
        barrier = threading.Barrier(16)

        def one(_: int) -> tuple[int, str]:
            barrier.wait()
            r = requests.post(f"{server.url}/v1/publications", json=body, headers=headers, timeout=30)
            return r.status_code, r.json()["voucher"]["code"]

        with ThreadPoolExecutor(16) as pool:
            outcomes = list(pool.map(one, range(16)))
        # many customers at once on a small campaign: each code goes to one customer only
        _campaign(api, "Few", 5, type="STATIC")

        def other(i: int) -> tuple[int, str | None]:
            r = requests.post(
                f"{server.url}/v1/publications",
                json={"campaign": "Few", "customer": {"source_id": f"c{i}"}},
                headers=headers,
                timeout=30,
            )
            return r.status_code, (r.json().get("voucher") or {}).get("code")

        with ThreadPoolExecutor(12) as pool:
            many = list(pool.map(other, range(12)))
    finally:
        server.stop()
    assert {status for status, _ in outcomes} == {200}
    assert len({code for _, code in outcomes}) == 1
    assert api.get("/v1/publications", params={"campaign": "Race"}).json()["total"] == 1
    won = [code for status, code in many if status == 200]
    assert len(won) == len(set(won)) == 5 and sum(1 for s, _ in many if s == 400) == 7


def test_a_publication_of_several_codes_counts_for_its_campaign_also_after_a_reload():
    from django_voucherify.sandbox.app import Sandbox

    api = Api()
    camp = _campaign(api, "Multi", 4, type="STATIC")
    many = _publish(api, {"name": "Multi", "count": 2}, "gus").json()
    reloaded = Api(Sandbox())
    reloaded.state.load_json(api.state.to_json())
    for client in (api, reloaded):
        listed = client.get("/v1/publications", params={"campaign": "Multi"}).json()
        assert [p["id"] for p in listed["publications"]] == [many["id"]]
        assert client.get("/v1/publications", params={"customer": "gus"}).json()["total"] == 1
        assert client.get(f"/v1/campaigns/{camp['id']}/summary").json()["publications"] == 1
    reloaded_pub = _publish(reloaded, "Multi", "hal").json()
    assert reloaded_pub["voucher"]["code"] not in many["vouchers"]
    assert reloaded.get("/v1/publications", params={"campaign": camp["id"]}).json()["total"] == 2


def _codes_campaign(api, name: str, count: int, kind: str) -> None:
    body = {
        "name": name,
        "campaign_type": "DISCOUNT_COUPONS",
        "type": kind,
        "vouchers_count": count,
        "voucher": {"discount": {"type": "PERCENT", "percent_off": 10}, "code_config": {"length": 8}},
    }
    assert api.post("/v1/campaigns", json=body).status_code == 200
    api.sandbox.wait_for_jobs()


def test_a_publication_of_several_codes_never_repeats_one(api):
    """Each code was taken before any was published; when the free queue ran dry it was rebuilt
    from the campaign's vouchers and handed the code just taken out again."""
    _codes_campaign(api, "One", 1, "STATIC")
    r = api.post(
        "/v1/publications", json={"campaign": {"name": "One", "count": 2}, "customer": {"source_id": "ann"}}
    )
    assert r.status_code == 400 and r.json()["key"] == "no_voucher_suitable_for_publication", r.text
    _codes_campaign(api, "Auto", 0, "AUTO_UPDATE")
    r = api.post(
        "/v1/publications", json={"campaign": {"name": "Auto", "count": 3}, "customer": {"source_id": "bob"}}
    )
    assert r.status_code == 200, r.text
    codes = r.json()["vouchers"]
    assert len(set(codes)) == 3, codes
    for code in codes:
        assert api.get(f"/v1/vouchers/{code}").json()["publish"]["count"] == 1


def test_a_deleted_campaign_s_free_code_queue_is_dropped(api):
    """remove() popped the campaign id from the index's top level, not from its queues: a
    deleted campaign's queue of codes stayed in memory."""
    _codes_campaign(api, "Gone", 2, "STATIC")
    r = api.post("/v1/publications", json={"campaign": {"name": "Gone"}, "customer": {"source_id": "cy"}})
    assert r.status_code == 200, r.text
    campaign_id = api.get("/v1/campaigns/Gone").json()["id"]
    watch = campaign_store._watch(api.state)
    assert campaign_id in watch.queues
    assert api.delete(f"/v1/campaigns/{campaign_id}", params={"force": "true"}).status_code == 202
    api.sandbox.wait_for_jobs()
    assert campaign_id not in watch.queues and campaign_id not in watch.queued


def test_a_failed_publication_is_stored_listed_counted_and_never_replayed(api):
    """Review minor of issue 17: failures were never stored. A publication that found no code
    is listed with ``result: FAILURE`` and its reason; its ``source_id`` does not replay the
    failure once the campaign has a code again."""
    camp = _campaign(api, "Scarce", 1, type="STATIC")
    assert _publish(api, "Scarce", "ann").status_code == 200
    gone = _publish(api, "Scarce", "bob", source_id="welcome-bob")
    assert gone.status_code == 400 and gone.json()["key"] == "no_voucher_suitable_for_publication"
    listed = api.get("/v1/publications", params={"campaign": "Scarce"}).json()
    failed = [p for p in listed["publications"] if p["result"] == "FAILURE"]
    assert len(failed) == 1 and listed["total"] == 2
    assert failed[0]["failure_code"] == "no_voucher_suitable_for_publication" and failed[0]["vouchers"] == []
    assert failed[0]["source_id"] == "welcome-bob" and failed[0]["tracking_id"] == "bob"
    summary = api.get(f"/v1/campaigns/{camp['id']}/summary").json()
    assert (summary["publications_succeeded"], summary["publications_failed"]) == (1, 1)
    assert api.post(f"/v1/campaigns/{camp['id']}/vouchers", json={}).status_code == 200
    api.sandbox.wait_for_jobs()
    again = _publish(api, "Scarce", "bob", source_id="welcome-bob")
    assert again.status_code == 200 and again.json()["result"] == "SUCCESS"
