"""The shared ``django_voucherify.client`` against the ``voucherify_sandbox`` fixture: the
plugin wires settings and transport so shop code needs no changes."""

from __future__ import annotations

import pytest

from django_voucherify import client

ODD = "A/B?C#D%E ü"


def test_client_talks_to_the_sandbox(voucherify_sandbox):
    v = client.vouchers.create(ODD, {"type": "GIFT_VOUCHER", "gift": {"amount": 500}})
    assert v["code"] == ODD
    assert client.vouchers.get(ODD)["id"] == v["id"]
    assert voucherify_sandbox.state.vouchers[ODD]["id"] == v["id"]
    client.vouchers.update_balance(ODD, 100)
    assert [t["type"] for t in client.vouchers.iterate_transactions(ODD)] == ["CREDITS_ADDITION"]
    for i in range(25):
        client.customers.create({"source_id": f"c{i}"})
    assert len(list(client.customers.iterate())) == 25
    client.vouchers.delete(ODD)
    with pytest.raises(Exception) as exc:
        client.vouchers.get(ODD)
    assert getattr(exc.value, "key", None) == "not_found"


def test_client_csv_import_from_path_and_export_download(voucherify_sandbox, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("Source_id,Name,shoe_size\nc-1,Ann,38\n")
    aa = client.customers.import_csv(path)
    voucherify_sandbox.wait_for_jobs()
    assert client.async_actions.get(aa["async_action_id"])["result"]["done_count"] == 1
    assert client.customers.get("c-1")["metadata"] == {"shoe_size": "38"}
    client.orders.create({"source_id": "o-1", "amount": 100})
    exp = client.orders.export()
    voucherify_sandbox.wait_for_jobs()
    done = client.exports.get(exp["id"])
    token = done["result"]["url"].split("token=")[1]
    data = client.exports.download(exp["id"], token)
    assert data.decode().splitlines() == [
        "id,source_id,status",
        f"{client.orders.get('o-1')['id']},o-1,CREATED",
    ]


def test_fixture_covers_clients_built_during_the_test(voucherify_sandbox, settings):
    """A nested override_settings rebuilds the shared client, and shops may build their own
    clients: all of them must reach the sandbox, never Voucherify's real hosts."""
    from django.test import override_settings

    import django_voucherify
    from django_voucherify.api import VoucherifyClient

    voucherify_sandbox.state.vouchers.clear()
    with override_settings(VOUCHERIFY={**settings.VOUCHERIFY, "READ_TIMEOUT": 2}):
        assert django_voucherify.client.vouchers.list()["vouchers"] == []
    own = VoucherifyClient.from_settings(read_timeout=1)
    assert own.vouchers.list()["vouchers"] == []


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_forked_child_builds_its_own_client():
    # The child only asks for the client and exits at once: the fork-with-threads hazard
    # (locks held by other threads) cannot bite it.
    import os

    import django_voucherify

    parent = django_voucherify.get_client()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_end)
        same = django_voucherify.get_client() is parent
        os.write(write_end, b"same" if same else b"new")
        os._exit(0)
    os.close(write_end)
    answer = os.read(read_end, 10)
    os.waitpid(pid, 0)
    assert answer == b"new"
