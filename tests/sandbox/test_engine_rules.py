"""The validation rule engine (sandbox/engine/rules.py): its verdict equals a straightforward
reference evaluation over random carts and random rule trees (Hypothesis), plus its parser and
definition checks."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_voucherify.sandbox.engine import rules as engine

PRODUCTS = ["prod_a", "prod_b", "prod_c"]
SKUS = ["sku_1", "sku_2"]
CATEGORIES = {"prod_a": ["shoes"], "prod_b": ["shoes", "sale"], "prod_c": []}
WORDS = ["x", "y", "z"]

# ---- random carts --------------------------------------------------------------------------

items_st = st.lists(
    st.fixed_dictionaries(
        {
            "product_id": st.sampled_from(PRODUCTS),
            "price": st.integers(0, 5000),
            "quantity": st.integers(1, 4),
        },
        optional={
            "sku_id": st.sampled_from(SKUS),
            "metadata": st.fixed_dictionaries({"color": st.sampled_from(WORDS)}),
        },
    ),
    max_size=4,
)


@st.composite
def carts(draw: Any) -> dict[str, Any]:
    items = draw(items_st)
    order: dict[str, Any] = {"items": items}
    if draw(st.booleans()):
        order["amount"] = draw(st.integers(0, 30000))
    if draw(st.booleans()):
        order["metadata"] = {"shop": draw(st.sampled_from(WORDS))}
    customer = {"tier": draw(st.sampled_from(WORDS))} if draw(st.booleans()) else {}
    return {"order": order, "customer": customer, "count": draw(st.none() | st.integers(0, 3))}


# ---- random rule trees ---------------------------------------------------------------------

ORDERING = ["$more_than", "$less_than", "$more_than_equal", "$less_than_equal"]
EQUALITY = ["$is", "$is_not", "$in", "$not_in"]
# One or two operators per condition (all of them must hold: "more than 5 and less than 9").
numeric_conditions = st.dictionaries(
    st.sampled_from(ORDERING), st.integers(0, 20000).map(lambda n: [n]), min_size=1, max_size=2
)
small_numeric = st.dictionaries(
    st.sampled_from(ORDERING), st.integers(0, 6).map(lambda n: [n]), min_size=1, max_size=2
)


def equality(values: list[Any]) -> Any:
    return st.builds(
        lambda op, vs: {op: vs},
        st.sampled_from(EQUALITY),
        st.lists(st.sampled_from(values), min_size=1, max_size=2),
    ) | st.sampled_from([{"$has_value": []}, {"$is_unknown": []}])


def leaf(name: str, conditions: Any, **extra: Any) -> Any:
    return st.builds(lambda c: {"name": name, "conditions": c, **extra}, conditions)


product_refs = st.lists(st.sampled_from(PRODUCTS), min_size=1, max_size=2).map(
    lambda ids: [{"object": "product", "id": i} for i in ids]
)
item_set = st.builds(
    lambda name, refs, nested: {
        "name": name,
        "conditions": {"$in": refs},
        "rules": {"1": {"name": "order.items.quantity", "conditions": nested}} if nested else {},
    },
    st.sampled_from(["order.items.any", "order.items.every", "order.items.none"]),
    product_refs,
    st.none() | small_numeric,
)
leaves = st.one_of(
    leaf("order.amount", numeric_conditions),
    leaf("order.items.count", small_numeric),
    leaf("order.items.aggregated_quantity", small_numeric),
    leaf("order.items.price_any", numeric_conditions),
    leaf("order.items.price_each", numeric_conditions),
    leaf("product.id", equality(PRODUCTS)),
    leaf("sku.id", equality(SKUS)),
    leaf("product.category", equality(["shoes", "sale"])),
    leaf("order.metadata", equality(WORDS), property="shop"),
    leaf("customer.metadata", equality(WORDS), property="tier"),
    leaf("order.items.metadata", equality(WORDS), property="color"),
    leaf("redemption.count.per_customer", small_numeric),
    item_set,
)

# A logic tree: an int (the condition's number) or ("and"|"or", a, b) or ("not", a).
trees = st.recursive(
    st.integers(1, 4),
    lambda inner: st.tuples(st.sampled_from(["and", "or"]), inner, inner) | st.tuples(st.just("not"), inner),
    max_leaves=6,
)


def logic_text(tree: Any) -> str:
    if isinstance(tree, int):
        return str(tree)
    if tree[0] == "not":
        return f"not {logic_text(tree[1])}"
    return f"({logic_text(tree[1])} {tree[0].upper() if tree[1] == 1 else tree[0]} {logic_text(tree[2])})"


# ---- the reference -------------------------------------------------------------------------


def ref_compare(op: str, actual: Any, values: list[Any]) -> bool:
    present = actual not in (None, [], "")
    if op == "$has_value":
        return present
    if op == "$is_unknown":
        return not present
    members = actual if isinstance(actual, list) else [actual]
    if op in ("$is", "$in"):
        return any(m in values for m in members)
    if op in ("$is_not", "$not_in"):
        return not any(m in values for m in members)
    if not isinstance(actual, int):
        return False
    bound = values[0]
    return {
        "$more_than": actual > bound,
        "$less_than": actual < bound,
        "$more_than_equal": actual >= bound,
        "$less_than_equal": actual <= bound,
    }[op]


def ref_meets(conditions: dict[str, list[Any]], actual: Any) -> bool:
    return all(ref_compare(op, actual, values) for op, values in conditions.items())


def ref_leaf(cond: dict[str, Any], cart: dict[str, Any]) -> bool:
    order, items = cart["order"], cart["order"]["items"]
    name, conditions = cond["name"], cond["conditions"]
    if name == "order.amount":
        amount = order.get("amount")
        if amount is None:
            amount = sum(i["price"] * i["quantity"] for i in items) if items else None
        return ref_meets(conditions, amount)
    if name == "order.items.count":
        return ref_meets(conditions, len(items))
    if name == "order.items.aggregated_quantity":
        return ref_meets(conditions, sum(i["quantity"] for i in items))
    if name == "order.items.price_any":
        return any(ref_meets(conditions, i["price"]) for i in items)
    if name == "order.items.price_each":
        return len(items) > 0 and all(ref_meets(conditions, i["price"]) for i in items)
    if name == "product.id":
        return ref_meets(conditions, [i["product_id"] for i in items])
    if name == "sku.id":
        return ref_meets(conditions, [i["sku_id"] for i in items if "sku_id" in i])
    if name == "product.category":
        return ref_meets(conditions, [c for i in items for c in CATEGORIES[i["product_id"]]])
    if name == "order.metadata":
        return ref_meets(conditions, order.get("metadata", {}).get("shop"))
    if name == "customer.metadata":
        return ref_meets(conditions, cart["customer"].get("tier"))
    if name == "order.items.metadata":
        return any(ref_meets(conditions, i.get("metadata", {}).get("color")) for i in items)
    if name == "redemption.count.per_customer":
        return ref_meets(conditions, cart["count"])
    wanted = [ref["id"] for ref in conditions["$in"]]
    nested = cond["rules"].get("1")

    def fits(item: dict[str, Any], ids: list[str]) -> bool:
        return item["product_id"] in ids and (
            nested is None or ref_meets(nested["conditions"], item["quantity"])
        )

    if name == "order.items.every":
        return all(any(fits(i, [w]) for i in items) for w in wanted)
    found = any(fits(i, wanted) for i in items)
    return found if name == "order.items.any" else not found


def ref_tree(tree: Any, results: dict[int, bool]) -> bool:
    if isinstance(tree, int):
        return results[tree]
    if tree[0] == "not":
        return not ref_tree(tree[1], results)
    if tree[0] == "and":
        return ref_tree(tree[1], results) and ref_tree(tree[2], results)
    return ref_tree(tree[1], results) or ref_tree(tree[2], results)


def context(cart: dict[str, Any]) -> engine.Context:
    return engine.Context(
        order=cart["order"],
        customer_metadata=cart["customer"],
        redemption_count=lambda: cart["count"],
        categories=lambda item: CATEGORIES[item["product_id"]],
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(leaves, min_size=4, max_size=4), trees, carts())
def test_the_verdict_equals_the_reference_evaluation(
    conds: list[dict[str, Any]], tree: Any, cart: dict[str, Any]
):
    rules: dict[str, Any] = {str(n): c for n, c in enumerate(conds, 1)}
    rules["logic"] = logic_text(tree)
    engine.check_definition(rules)  # everything generated is supported
    verdict = engine.evaluate({"rules": rules}, context(cart))
    expected = ref_tree(tree, {n: ref_leaf(c, cart) for n, c in enumerate(conds, 1)})
    assert verdict.ok is expected
    negated = engine.evaluate({"rules": {**rules, "logic": f"not ({rules['logic']})"}}, context(cart))
    assert negated.ok is not expected


@settings(max_examples=200, deadline=None)
@given(st.lists(leaves, min_size=1, max_size=4), carts())
def test_without_logic_every_condition_must_hold(conds: list[dict[str, Any]], cart: dict[str, Any]) -> None:
    rules = {str(n): c for n, c in enumerate(conds, 1)}
    verdict = engine.evaluate({"rules": rules, "error": {"message": "rule"}}, context(cart))
    assert verdict.ok is all(ref_leaf(c, cart) for c in conds)
    if not verdict.ok:
        assert verdict.message == "rule"
        assert verdict.condition == next(c["name"] for c in conds if not ref_leaf(c, cart))


@pytest.mark.parametrize(
    ("logic", "results", "expected"),
    [
        ("1 and 2 or 3", {"1": True, "2": False, "3": True}, True),  # and binds tighter
        ("1 and (2 or 3)", {"1": False, "2": True, "3": True}, False),
        ("NOT 1 AND 2", {"1": False, "2": True}, True),
        ("  (1)  ", {"1": True}, True),
    ],
)
def test_logic_precedence_and_case(logic: str, results: dict[str, bool], expected: bool) -> None:
    assert engine._value(engine.parse_logic(logic, list(results)), results) is expected


@pytest.mark.parametrize("logic", ["1 and", "(1 or 2", "1 2", "1 & 2", "3", ")"])
def test_malformed_logic_is_refused(logic: str) -> None:
    with pytest.raises(engine.RuleError):
        engine.parse_logic(logic, ["1", "2"])


@pytest.mark.parametrize("logic", ["not " * 100_000 + "1", "(" * 100_000 + "1" + ")" * 100_000])
def test_deeply_nested_logic_is_refused_not_a_crash(logic: str) -> None:
    with pytest.raises(engine.RuleError, match="nested deeper"):
        engine.parse_logic(logic, ["1"])


def test_logic_at_the_depth_limit_is_accepted() -> None:
    depth = engine.MAX_LOGIC_DEPTH - 1
    expr = engine.parse_logic("(" * depth + "1" + ")" * depth, ["1"])
    assert engine._value(expr, {"1": True}) is True


def test_no_conditions_always_hold() -> None:
    assert engine.evaluate({"rules": {}}, engine.Context(order=None)).ok
    assert engine.evaluate({}, engine.Context(order=None)).ok


def test_a_missing_order_fails_numeric_conditions_but_is_unknown() -> None:
    ctx = engine.Context(order=None)
    more = {"1": {"name": "order.amount", "conditions": {"$more_than": [0]}}}
    unknown = {"1": {"name": "order.amount", "conditions": {"$is_unknown": []}}}
    assert not engine.evaluate({"rules": more}, ctx).ok
    assert engine.evaluate({"rules": unknown}, ctx).ok


def test_strings_never_equal_numbers() -> None:
    ctx = engine.Context(order={"metadata": {"n": "5"}})
    rules = {"1": {"name": "order.metadata", "property": "n", "conditions": {"$is": [5]}}}
    assert not engine.evaluate({"rules": rules}, ctx).ok
