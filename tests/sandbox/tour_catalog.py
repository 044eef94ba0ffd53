"""The catalog's part of the conformance tour (test_conformance.test_tour_of_all_operations):
every Products, Categories and Events operation, successes and errors, so each response is
checked against the spec."""

from __future__ import annotations

from tests.support.sandbox import Api


def tour_catalog(api: Api) -> None:
    product = api.post(
        "/v1/products",
        json={"source_id": "tour-p", "name": "Tour", "price": 1000, "attributes": ["color"]},
    ).json()
    api.get("/v1/products", params={"limit": 5, "order": "-updated_at"})
    api.get("/v1/products/tour-p")
    api.put(f"/v1/products/{product['id']}", json={"price": 1100, "metadata": {"a": 1}})
    sku = api.post(
        "/v1/products/tour-p/skus", json={"source_id": "tour-s", "attributes": {"color": "red"}}
    ).json()
    api.get("/v1/products/tour-p/skus")
    api.get(f"/v1/skus/{sku['id']}")
    api.put("/v1/products/tour-p/skus/tour-s", json={"price": 1200, "currency": "EUR"})
    api.post("/v1/products/tour-p/skus", json={"source_id": "tour-s2"})
    api.delete("/v1/products/tour-p/skus/tour-s2", params={"force": "true"})
    api.post("/v1/products/bulk/async", json=[{"source_id": "tour-p", "name": "Tour 2"}, {"name": "no id"}])
    api.post("/v1/products/metadata/async", json={"source_ids": ["tour-p", "tour-p3"], "metadata": {"m": 1}})
    api.post(
        "/v1/products/importCSV", files={"file": ("p.csv", b"name,source_id,color\nCSV,tour-p4,red\n,x,\n")}
    )
    api.post(
        "/v1/skus/importCSV",
        files={"file": ("s.csv", b"product_id,source_id,sku\ntour-p,tour-s5,Five\nnope,tour-s6,Six\n")},
    )
    api.post("/v1/products", json={"source_id": "tour-gone"})
    api.delete("/v1/products/tour-gone")
    api.post("/v1/products", json={"source_id": "tour-gone"})  # 409: in the bin
    api.get("/v1/products/nope")
    api.get("/v1/skus/nope")
    category = api.post("/v1/categories", json={"name": "Tour", "hierarchy": 1}).json()
    api.post("/v1/categories", json={"name": "Tour", "hierarchy": 2})  # 409
    api.get("/v1/categories")
    api.get(f"/v1/categories/{category['id']}")
    api.put(f"/v1/categories/{category['id']}", json={"name": "Tour 2"})
    api.delete(f"/v1/categories/{category['id']}")
    api.delete(f"/v1/categories/{category['id']}")  # 404
    api.post("/v1/events", json={"event": "tour", "customer": {"source_id": "tour-e"}, "metadata": {"x": 1}})
    api.post("/v1/events", json={"event": "tour", "customer": {"id": "cust_nope"}})  # 404
    api.delete("/v1/products/tour-p", params={"force": "true"})
