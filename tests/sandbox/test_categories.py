"""Categories in the sandbox: CRUD, unique names, hierarchy order, bad input."""

from __future__ import annotations

import pytest

from tests.support.sandbox import Api


def test_crud(api: Api):
    created = api.post("/v1/categories", json={"name": "Eighth", "hierarchy": 8}).json()
    assert created["id"].startswith("cat_") and created["object"] == "category"
    assert "updated_at" not in created  # as the spec's create example
    assert api.get(f"/v1/categories/{created['id']}").json() == created
    updated = api.put(f"/v1/categories/{created['id']}", json={"hierarchy": 1}).json()
    assert updated["hierarchy"] == 1 and updated["name"] == "Eighth" and updated["updated_at"]
    assert api.delete(f"/v1/categories/{created['id']}").status_code == 204
    assert api.get(f"/v1/categories/{created['id']}").status_code == 404
    assert api.delete(f"/v1/categories/{created['id']}").status_code == 404


def test_names_are_unique_and_a_freed_name_can_be_reused(api: Api):
    a = api.post("/v1/categories", json={"name": "A", "hierarchy": 1}).json()
    b = api.post("/v1/categories", json={"name": "B", "hierarchy": 2}).json()
    assert api.post("/v1/categories", json={"name": "A", "hierarchy": 3}).status_code == 409
    assert api.put(f"/v1/categories/{b['id']}", json={"name": "A"}).status_code == 409
    assert api.put(f"/v1/categories/{a['id']}", json={"name": "A"}).status_code == 200  # its own
    api.put(f"/v1/categories/{a['id']}", json={"name": "C"})
    assert api.put(f"/v1/categories/{b['id']}", json={"name": "A"}).status_code == 200
    api.delete(f"/v1/categories/{b['id']}")
    assert api.post("/v1/categories", json={"name": "A", "hierarchy": 1}).status_code == 200


def test_list_is_ordered_by_hierarchy_then_creation(api: Api):
    for name, level in (("x", 3), ("y", 1), ("z", 3), ("w", 0)):
        api.post("/v1/categories", json={"name": name, "hierarchy": level})
    body = api.get("/v1/categories").json()
    assert body["object"] == "list" and body["data_ref"] == "data" and body["total"] == 4
    assert [c["name"] for c in body["data"]] == ["w", "y", "x", "z"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": "n"},
        {"hierarchy": 1},
        {"name": "", "hierarchy": 1},
        {"name": "n", "hierarchy": -1},
        {"name": "n", "hierarchy": "1"},
    ],
)
def test_bad_creates_are_400(api: Api, body):
    r = api.post("/v1/categories", json=body)
    assert r.status_code == 400 and r.json()["key"] == "invalid_payload", r.text
    assert api.get("/v1/categories").json()["total"] == 0
