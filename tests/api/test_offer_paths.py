"""Property: whatever the ids (codes, shop ``source_id``s, campaign names), each offers' method
puts each one in exactly one path segment that decodes back to it, and nothing else moves.

The oracle is the registered template read segment by segment, not the client's encoder: a
fixed segment must stay as it is, each ``{param}`` must unquote to the argument given.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import responses
from hypothesis import given, settings
from hypothesis import strategies as st

from django_voucherify.api import ENDPOINTS, RetryPolicy, VoucherifyClient
from tests.api.wire import ANY_URL

OFFER_NAMESPACES = {
    "qualifications",
    "campaigns",
    "promotions",
    "validation_rules",
    "products",
    "categories",
    "publications",
    "events",
}
WITH_PATH_PARAMETERS = sorted(
    op for op, ep in ENDPOINTS.items() if ep.namespace in OFFER_NAMESPACES and "{" in ep.path
)
#: Campaign ids refused under /v1/promotions/ (they would address a tier or the stacks' list).
RESERVED = {"tiers", "stacks"}

ids = st.text(min_size=1, max_size=40).filter(lambda s: s not in ("", ".", ".."))


def filler(parameter: inspect.Parameter) -> Any:
    """A plausible value for a required argument that is not a path id."""
    annotation = str(parameter.annotation)
    if "CsvSource" in annotation:
        return b"code\nA\n"
    if annotation.startswith("Sequence"):
        return [{"code": "A"}]
    if annotation.startswith("Mapping"):
        return {"metadata": {"k": 1}}
    return "campaign"


def call(client: VoucherifyClient, operation_id: str, path_ids: Sequence[str]) -> None:
    ep = ENDPOINTS[operation_id]
    method = getattr(getattr(client, ep.namespace), ep.method_name)
    parameters = [
        p
        for p in inspect.signature(method).parameters.values()
        if p.kind is p.POSITIONAL_OR_KEYWORD and p.default is p.empty
    ]
    args: list[Any] = list(path_ids) + [filler(p) for p in parameters[len(path_ids) :]]
    method(*args)


def test_every_offers_operation_with_a_path_parameter_is_checked():
    assert len(WITH_PATH_PARAMETERS) == 41  # campaigns 12, promotions 12, rules 6, products 8, categories 3


@pytest.mark.parametrize("operation_id", WITH_PATH_PARAMETERS)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_each_id_is_exactly_one_path_segment(operation_id, data):
    ep = ENDPOINTS[operation_id]
    template = ep.path.strip("/").split("/")
    slots = [i for i, segment in enumerate(template) if segment.startswith("{")]
    path_ids = [data.draw(ids, label=template[i]) for i in slots]
    reserved = ep.path.startswith("/v1/promotions/{") and path_ids[0] in RESERVED

    with (
        VoucherifyClient("a", "b", "https://api.voucherify.io", retry=RetryPolicy(max_retries=0)) as client,
        responses.RequestsMock(assert_all_requests_are_fired=False) as mocked,
    ):
        for method in ("GET", "POST", "PUT", "DELETE"):
            mocked.add(method, ANY_URL, status=204 if method == "DELETE" else 200, json={"id": "x"})
        if reserved:
            with pytest.raises(ValueError):
                call(client, operation_id, path_ids)
            assert len(mocked.calls) == 0
            return
        call(client, operation_id, path_ids)
        assert len(mocked.calls) == 1
        request = mocked.calls[0].request

    url = urlsplit(request.url)
    assert request.method == ep.http_method
    assert url.fragment == ""
    sent = url.path.strip("/").split("/")
    assert len(sent) == len(template), (url.path, ep.path)
    for i, segment in enumerate(template):
        if i in slots:
            assert re.fullmatch(r"[A-Za-z0-9_.~%-]+", sent[i]), sent[i]  # nothing left unescaped
            assert unquote(sent[i]) == path_ids[slots.index(i)]
        else:
            assert sent[i] == segment


def test_fillers_cover_the_annotations_used():
    """The filler above knows every kind of required argument the offers' methods take."""
    kinds = set()
    for operation_id in WITH_PATH_PARAMETERS:
        ep = ENDPOINTS[operation_id]
        for p in inspect.signature(ep.function).parameters.values():
            if p.name != "self" and p.default is p.empty and p.kind is p.POSITIONAL_OR_KEYWORD:
                kinds.add(str(p.annotation))
    assert kinds <= {"str", "Mapping[str, Any]", "Sequence[Mapping[str, Any]]", "CsvSource"}, kinds
