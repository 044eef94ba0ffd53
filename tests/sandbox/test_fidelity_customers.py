"""Customer bodies shaped as Voucherify's (issue 14, sandbox fidelity)."""

from __future__ import annotations

from django_voucherify.sandbox.openapi import voucherify_spec
from tests.support.sandbox import Api


def test_customer_created_without_metadata_has_no_metadata_key(api: Api) -> None:
    """Voucherify leaves ``metadata`` out of a customer created without one (create-customer's
    schema does not require it); an empty ``{}`` was the sandbox's invention."""
    created = api.post("/v1/customers", json={"source_id": "plain", "email": "p@x.io"}).json()
    assert "metadata" not in created
    assert "metadata" not in api.get("/v1/customers/plain").json()
    # An upsert that gives metadata adds it; one that clears it (null) leaves it out again.
    with_meta = api.post("/v1/customers", json={"source_id": "plain", "metadata": {"tier": "gold"}}).json()
    assert with_meta["metadata"] == {"tier": "gold"} and with_meta["id"] == created["id"]
    cleared = api.put("/v1/customers/plain", json={"metadata": None}).json()
    assert "metadata" not in cleared
    # An update without metadata keeps what is there.
    api.put("/v1/customers/plain", json={"metadata": {"a": 1}})
    assert api.put("/v1/customers/plain", json={"name": "P"}).json()["metadata"] == {"a": 1}


def test_customer_created_with_metadata_keeps_it(api: Api) -> None:
    """create-customer's response example echoes the request's metadata."""
    body = api.post("/v1/customers", json={"source_id": "m", "metadata": {"lang": "en"}}).json()
    assert body["metadata"] == {"lang": "en"}


def test_permanent_deletion_counts_as_voucherify_counts(api: Api) -> None:
    """customer-permanently-deletion's example reports ``events: 16`` next to
    ``customer_events: 28``: ``events`` is not the customer's activity (it would be at least
    as large). It counts tracked custom events, which a fresh customer has none of."""
    example = voucherify_spec()["paths"]["/v1/customers/{customerId}/permanent-deletion"]["post"]
    counts = example["responses"]["200"]["content"]["application/json"]["examples"]["Example"]["value"]
    assert counts["data_json"]["events"] < counts["data_json"]["customer_events"]

    fresh = api.post("/v1/customers", json={"source_id": "fresh"}).json()
    data = api.post("/v1/customers/fresh/permanent-deletion").json()["data_json"]
    assert data["events"] == 0
    assert data["customer_events"] == 1  # customer.created
    assert data["customer"] == 1 and data["orders"] == 0
    assert api.get(f"/v1/customers/{fresh['id']}").status_code == 404


def test_permanent_deletion_counts_activity_and_orders(api: Api) -> None:
    api.post("/v1/customers", json={"source_id": "busy"})
    api.put("/v1/customers/busy", json={"name": "Busy"})  # customer.updated
    api.post("/v1/orders", json={"source_id": "o-1", "amount": 100, "customer": {"source_id": "busy"}})
    data = api.post("/v1/customers/busy/permanent-deletion").json()["data_json"]
    assert data["events"] == 0
    assert data["customer_events"] >= 2 and data["orders"] == 1
