"""Validation rules: checking a rule's definition and evaluating it on an order, as pure code.

Contract
--------
* :func:`check_definition` raises :class:`RuleError` (the handler answers 400) for anything the
  engine could not evaluate faithfully: an unknown condition name, operator or logic token, a
  condition whose values are misshapen. Nothing unknown is ever stored, so nothing unknown is
  ever silently passed at redemption time.
* :func:`evaluate` takes a stored rule and a :class:`Context` and returns a :class:`Verdict`:
  whether the rule holds, and when it does not, the condition that failed and the error message
  to show (the failing condition's own ``error.message``, else the rule's).
* Money is in minor units (as the API sends it); nothing here reads the sandbox state: the
  caller supplies the customer's redemption count and the items' categories through
  :class:`Context`.

The rule tree is Voucherify's: ``rules`` maps ``"1"``, ``"2"``... to conditions (``name``,
``property`` for metadata, ``conditions`` ``{operator: [values]}``, optional nested ``rules``
and ``error``) and ``logic`` combines the numbers with ``and`` / ``or`` / ``not`` and
parentheses (no ``logic``: all conditions must hold). The supported names and operators are the
tables below; docs/sandbox.md lists them with their meaning.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import pricing
from .eligibility import Failure

JSON = dict[str, Any]

# ---- what is supported ---------------------------------------------------------------------

EQUALITY = ("$is", "$is_not", "$in", "$not_in")
ORDERING = ("$more_than", "$less_than", "$more_than_equal", "$less_than_equal")
PRESENCE = ("$has_value", "$is_unknown")
OPERATORS = EQUALITY + ORDERING + PRESENCE

#: Conditions on the whole order (top level of ``rules``).
ORDER_CONDITIONS: dict[str, str] = {
    "order.amount": "the order amount (minor units; the items' amounts when absent)",
    "order.items.count": "the number of order lines",
    "order.items.aggregated_quantity": "the number of units in the order (sum of quantities)",
    "order.items.price_any": "some line's unit price",
    "order.items.price_each": "every line's unit price",
    "order.items.metadata": "some line's metadata `property`",
    "order.items.any": "some line is one of the products/SKUs listed (and meets the nested rules)",
    "order.items.every": "every product/SKU listed is in the order (on a line meeting the nested rules)",
    "order.items.none": "no line is one of the products/SKUs listed (meeting the nested rules)",
    "product.id": "the ids (or source ids) of the order's products",
    "sku.id": "the ids (or source ids) of the order's SKUs",
    "product.category": "the categories of the order's products",
    "order.metadata": "the order's metadata `property`",
    "customer.metadata": "the customer's metadata `property`",
    "redemption.count.per_customer": "the customer's successful redemptions of this voucher",
}

#: Conditions on one order line, nested in ``order.items.any`` / ``every`` / ``none``.
ITEM_CONDITIONS: dict[str, str] = {
    "order.items.quantity": "the line's quantity",
    "order.items.price": "the line's unit price",
    "order.items.amount": "the line's amount",
    "order.items.metadata": "the line's metadata `property`",
    "product.id": "the line's product id (or source id)",
    "sku.id": "the line's SKU id (or source id)",
    "product.category": "the line's product's categories",
}

ITEM_SETS = ("order.items.any", "order.items.every", "order.items.none")
WITH_PROPERTY = ("order.metadata", "customer.metadata", "order.items.metadata")
CUSTOMER_CONDITIONS = ("customer.metadata", "redemption.count.per_customer")
TARGET_OBJECTS = ("product", "sku")
MAX_RULE_DEPTH = 3  # order level, item level: nothing deeper has a meaning here
MAX_LOGIC_DEPTH = 32  # nested parentheses / "not"s: far beyond any real rule, far below the stack


class RuleError(ValueError):
    """A rule definition the engine cannot evaluate (the API answers 400 with this text)."""


@dataclass(frozen=True)
class Context:
    """What a rule is evaluated on. ``redemption_count`` is called only when a rule asks (it
    reads the store); ``categories`` gives an order line's product categories."""

    order: Mapping[str, Any] | None
    customer_metadata: Mapping[str, Any] = field(default_factory=dict)
    redemption_count: Callable[[], int | None] = lambda: None
    categories: Callable[[Mapping[str, Any]], Sequence[str]] = lambda item: ()
    #: Order-level condition names taken as met without looking (qualifications: Voucherify
    #: ignores per-customer redemption counts there, and AUDIENCE_ONLY reads the customer only).
    ignored: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Verdict:
    ok: bool
    condition: str | None = None  # the failing condition's name
    message: str | None = None  # the error message configured for it (or for the rule)

    @property
    def customer_failure(self) -> bool:
        """Whether the failing condition is about the customer (``customer_rules_violated``)."""
        return self.condition in CUSTOMER_CONDITIONS


@dataclass(frozen=True)
class RuleOutcome:
    """The rules of one redeemable: the first failure, or the products/SKUs they limit the
    discount to (``applicable_to``) and exclude from it (``inapplicable_to``)."""

    failure: Failure | None = None
    applicable_to: list[JSON] = field(default_factory=list)
    inapplicable_to: list[JSON] = field(default_factory=list)


#: What :func:`~.stacking.evaluate` calls for each voucher that passed its own checks.
RuleCheck = Callable[[Mapping[str, Any]], RuleOutcome | None]


# ---- the logic expression --------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(\(|\)|\d+|[A-Za-z]+)")
Expr = tuple[Any, ...]  # ("leaf", key) | ("and", a, b) | ("or", a, b) | ("not", a)


def parse_logic(text: str, keys: Sequence[str]) -> Expr:
    """Parse ``logic`` (``"(1 and 2) or not 3"``); no text: every key, and-ed in key order."""
    if not text.strip():
        if not keys:
            return ("true",)
        expr: Expr = ("leaf", keys[0])
        for key in keys[1:]:
            expr = ("and", expr, ("leaf", key))
        return expr
    tokens: list[str] = []
    pos = 0
    stripped = text.rstrip()
    while pos < len(stripped):
        m = _TOKEN.match(stripped, pos)
        if m is None:
            raise RuleError(f"logic: unexpected {stripped[pos:]!r}")
        tokens.append(m.group(1).lower())
        pos = m.end()
    parser = _Parser(tokens, set(keys))
    result = parser.expr()
    if parser.pos != len(tokens):
        raise RuleError(f"logic: unexpected {tokens[parser.pos]!r}")
    return result


class _Parser:
    def __init__(self, tokens: list[str], keys: set[str]) -> None:
        self.tokens = tokens
        self.keys = keys
        self.pos = 0
        self.depth = 0

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self) -> str:
        token = self._peek()
        if token is None:
            raise RuleError("logic: ends too early")
        self.pos += 1
        return token

    def expr(self) -> Expr:
        left = self.term()
        while self._peek() == "or":
            self.pos += 1
            left = ("or", left, self.term())
        return left

    def term(self) -> Expr:
        left = self.factor()
        while self._peek() == "and":
            self.pos += 1
            left = ("and", left, self.factor())
        return left

    def factor(self) -> Expr:
        self.depth += 1
        try:
            return self._factor()
        finally:
            self.depth -= 1

    def _factor(self) -> Expr:
        if self.depth > MAX_LOGIC_DEPTH:
            raise RuleError(f"logic: nested deeper than {MAX_LOGIC_DEPTH} levels")
        word = self._take()
        if word == "not":
            return ("not", self.factor())
        if word == "(":
            inner = self.expr()
            if self._take() != ")":
                raise RuleError("logic: missing ')'")
            return inner
        if word.isdigit():
            if word not in self.keys:
                raise RuleError(f"logic: no condition numbered {word}")
            return ("leaf", word)
        raise RuleError(f"logic: unexpected {word!r} (use numbers, and, or, not, parentheses)")


# ---- checking a definition -------------------------------------------------------------------


def _numbered(rules: Mapping[str, Any], where: str) -> list[str]:
    keys = [k for k in rules if k != "logic"]
    for key in keys:
        if not key.isdigit():
            raise RuleError(f"{where}.{key}: condition keys are numbers ('1', '2'...) or 'logic'")
    return sorted(keys, key=int)


def supported_text(item_level: bool = False) -> str:
    names = ITEM_CONDITIONS if item_level else ORDER_CONDITIONS
    return f"supported conditions: {', '.join(names)}; operators: {', '.join(OPERATORS)}"


def check_definition(rules: Any, where: str = "rules", depth: int = 1) -> None:
    """Raise :class:`RuleError` unless every condition of ``rules`` is supported and well formed."""
    if rules is None:
        return
    if not isinstance(rules, Mapping):
        raise RuleError(f"{where}: must be an object")
    if depth > MAX_RULE_DEPTH:
        raise RuleError(f"{where}: nested too deep")
    item_level = depth > 1
    keys = _numbered(rules, where)
    logic = rules.get("logic")
    if logic is not None and not isinstance(logic, str):
        raise RuleError(f"{where}.logic: must be a string")
    parse_logic(logic or "", keys)
    allowed = ITEM_CONDITIONS if item_level else ORDER_CONDITIONS
    for key in keys:
        here = f"{where}.{key}"
        cond = rules[key]
        if not isinstance(cond, Mapping):
            raise RuleError(f"{here}: must be an object")
        name = cond.get("name")
        if name not in allowed:
            raise RuleError(f"{here}.name: {name!r} is not supported; {supported_text(item_level)}")
        if name in WITH_PROPERTY and not (isinstance(cond.get("property"), str) and cond["property"]):
            raise RuleError(f"{here}.property: {name} needs the metadata key to compare")
        conditions = cond.get("conditions")
        if not isinstance(conditions, Mapping) or not conditions:
            raise RuleError(f"{here}.conditions: must be an object with at least one operator")
        for op, values in conditions.items():
            _check_operator(f"{here}.conditions.{op}", name, op, values)
        nested = cond.get("rules") or {}
        if nested and name not in ITEM_SETS:
            raise RuleError(f"{here}.rules: only {', '.join(ITEM_SETS)} take nested rules")
        if nested:
            check_definition(nested, f"{here}.rules", depth + 1)
        error = cond.get("error")
        if error is not None and not isinstance(error, Mapping):
            raise RuleError(f"{here}.error: must be an object with a message")


def _check_operator(where: str, name: str, op: str, values: Any) -> None:
    if op not in OPERATORS:
        raise RuleError(f"{where}: operator {op!r} is not supported; operators: {', '.join(OPERATORS)}")
    if op in PRESENCE:
        return
    if not isinstance(values, list) or not values:
        raise RuleError(f"{where}: must be a non-empty list of values")
    if name in ITEM_SETS:
        if op not in ("$is", "$in"):
            raise RuleError(f"{where}: {name} takes $is or $in with products/SKUs")
        for value in values:
            if not isinstance(value, Mapping) or value.get("object", "product") not in TARGET_OBJECTS:
                raise RuleError(f"{where}: each value is a product or sku ({{object, id or source_id}})")
            if not (value.get("id") or value.get("source_id")):
                raise RuleError(f"{where}: each product/sku needs an id or a source_id")
        return
    if op in ORDERING:
        if len(values) != 1 or not _is_number(values[0]):
            raise RuleError(f"{where}: must be a list of one number")
        return
    for value in values:
        if isinstance(value, Mapping | list):
            raise RuleError(f"{where}: values must be strings, numbers or booleans")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# ---- evaluation ------------------------------------------------------------------------------


def compare(op: str, actual: Any, values: Sequence[Any]) -> bool:
    """One operator. A list ``actual`` (the order's product ids, a line's categories...) meets an
    equality when any of its members does (and ``$is_not`` / ``$not_in`` when none does)."""
    if op == "$is_unknown":
        return actual is None or actual == [] or actual == ""
    if op == "$has_value":
        return not compare("$is_unknown", actual, values)
    if op in EQUALITY:
        members = actual if isinstance(actual, list) else [actual]
        hit = any(_same(m, v) for m in members for v in values)
        return hit if op in ("$is", "$in") else not hit
    if not _is_number(actual):
        return False
    bound = values[0]
    if op == "$more_than":
        return bool(actual > bound)
    if op == "$less_than":
        return bool(actual < bound)
    if op == "$more_than_equal":
        return bool(actual >= bound)
    return bool(actual <= bound)  # $less_than_equal


def _same(a: Any, b: Any) -> bool:
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    return type(a) is type(b) and bool(a == b)


def order_amount(order: Mapping[str, Any] | None) -> int | None:
    if not order:
        return None
    if order.get("amount") is not None:
        return pricing.to_minor(order["amount"])
    amounts = [pricing.item_amount(i) for i in _items(order)]
    known = [a for a in amounts if a is not None]
    return sum(known) if known else None


def _items(order: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    items = (order or {}).get("items") or []
    return [i for i in items if isinstance(i, Mapping)]


def quantity(item: Mapping[str, Any]) -> int:
    q = item.get("quantity")
    return int(q) if q is not None else 1


def price(item: Mapping[str, Any]) -> int | None:
    p = item.get("price")
    if p is None:
        p = (item.get("product") or {}).get("price") if isinstance(item.get("product"), Mapping) else None
    return None if p is None else pricing.to_minor(p)


def item_ids(item: Mapping[str, Any], kind: str) -> list[str]:
    """A line's ids for ``product`` or ``sku``: the Voucherify id and the source id."""
    nested = item.get(kind)
    ids = [item.get(f"{kind}_id")]
    if isinstance(nested, Mapping):
        ids += [nested.get("id"), nested.get("source_id")]
    if item.get("related_object", "product") == kind:
        ids.append(item.get("source_id"))
    return [str(i) for i in ids if i is not None]


def _metadata(obj: Mapping[str, Any] | None, prop: str) -> Any:
    meta = (obj or {}).get("metadata")
    return meta.get(prop) if isinstance(meta, Mapping) else None


def _item_value(cond: Mapping[str, Any], item: Mapping[str, Any], ctx: Context) -> Any:
    name = cond["name"]
    if name == "order.items.quantity":
        return quantity(item)
    if name == "order.items.price":
        return price(item)
    if name == "order.items.amount":
        return pricing.item_amount(item)
    if name == "order.items.metadata":
        return _metadata(item, cond["property"])
    if name == "product.id":
        return item_ids(item, "product")
    if name == "sku.id":
        return item_ids(item, "sku")
    return list(ctx.categories(item))  # product.category


def _meets(conditions: Mapping[str, Any], actual: Any) -> bool:
    return all(compare(op, actual, values or []) for op, values in conditions.items())


def _leaf(cond: Mapping[str, Any], ctx: Context, item: Mapping[str, Any] | None) -> bool:
    name = cond["name"]
    conditions: Mapping[str, Any] = cond["conditions"]
    if item is not None:
        return _meets(conditions, _item_value(cond, item, ctx))
    if name in ctx.ignored:
        return True
    items = _items(ctx.order)
    if name in ITEM_SETS:
        return _item_set(name, cond, items, ctx)
    if name == "order.items.price_any":
        return any(_meets(conditions, price(i)) for i in items)
    if name == "order.items.price_each":
        return bool(items) and all(_meets(conditions, price(i)) for i in items)
    if name == "order.items.metadata":
        return any(_meets(conditions, _metadata(i, cond["property"])) for i in items)
    actual: Any
    if name == "order.amount":
        actual = order_amount(ctx.order)
    elif name == "order.items.count":
        actual = len(items)
    elif name == "order.items.aggregated_quantity":
        actual = sum(quantity(i) for i in items)
    elif name in ("product.id", "sku.id"):
        actual = [x for i in items for x in item_ids(i, name.split(".")[0])]
    elif name == "product.category":
        actual = [c for i in items for c in ctx.categories(i)]
    elif name == "order.metadata":
        actual = _metadata(ctx.order, cond["property"])
    elif name == "customer.metadata":
        actual = ctx.customer_metadata.get(cond["property"])
    else:  # redemption.count.per_customer
        actual = ctx.redemption_count()
    return _meets(conditions, actual)


def _item_set(name: str, cond: Mapping[str, Any], items: list[Mapping[str, Any]], ctx: Context) -> bool:
    targets: list[Mapping[str, Any]] = []
    for values in cond["conditions"].values():
        targets += list(values or [])
    nested = cond.get("rules") or {}

    def qualifies(item: Mapping[str, Any], target_list: list[Mapping[str, Any]]) -> bool:
        return pricing.matches(item, target_list) and (not nested or _holds(nested, ctx, item)[0])

    if name == "order.items.every":
        return all(any(qualifies(i, [t]) for i in items) for t in targets)
    found = any(qualifies(i, targets) for i in items)
    return found if name == "order.items.any" else not found


def _holds(
    rules: Mapping[str, Any], ctx: Context, item: Mapping[str, Any] | None
) -> tuple[bool, dict[str, bool]]:
    """Whether ``rules`` hold, and each condition's own result (for the error message)."""
    keys = _numbered(rules, "rules")
    results = {key: _leaf(rules[key], ctx, item) for key in keys}
    expr = parse_logic(str(rules.get("logic") or ""), keys)
    return _value(expr, results), results


def _value(expr: Expr, results: Mapping[str, bool]) -> bool:
    kind = expr[0]
    if kind == "leaf":
        return results[expr[1]]
    if kind == "and":
        return _value(expr[1], results) and _value(expr[2], results)
    if kind == "or":
        return _value(expr[1], results) or _value(expr[2], results)
    if kind == "not":
        return not _value(expr[1], results)
    return True  # ("true",): no conditions


def evaluate(rule: Mapping[str, Any], ctx: Context) -> Verdict:
    """The rule's verdict on ``ctx`` (see the module docstring for the message chosen)."""
    rules = rule.get("rules") or {}
    ok, results = _holds(rules, ctx, None)
    if ok:
        return Verdict(True)
    failed = [key for key, passed in results.items() if not passed] or list(results)
    rule_message = _message(rule)
    for key in failed:
        message = _message(rules[key])
        if message:
            return Verdict(False, rules[key]["name"], message)
    first = rules[failed[0]]["name"] if failed else None
    return Verdict(False, first, rule_message)


def _message(obj: Mapping[str, Any]) -> str | None:
    error = obj.get("error")
    if isinstance(error, Mapping) and isinstance(error.get("message"), str) and error["message"]:
        return str(error["message"])
    return None


# ---- applicable_to ---------------------------------------------------------------------------


def targets(rule: Mapping[str, Any]) -> tuple[list[JSON], list[JSON]]:
    """The rule's ``applicable_to.included`` and ``excluded`` products/SKUs (``included_all``
    or an empty list: no narrowing)."""
    applicable = rule.get("applicable_to") or {}
    included = [] if applicable.get("included_all") else list(applicable.get("included") or [])
    excluded = list(applicable.get("excluded") or [])
    return [dict(t) for t in included], [dict(t) for t in excluded]


def check_targets(applicable_to: Any, where: str = "applicable_to") -> None:
    """Products and SKUs only: a collection needs a product store the engine cannot read."""
    if applicable_to is None:
        return
    if not isinstance(applicable_to, Mapping):
        raise RuleError(f"{where}: must be an object")
    for part in ("included", "excluded"):
        for n, target in enumerate(applicable_to.get(part) or []):
            here = f"{where}.{part}[{n}]"
            if not isinstance(target, Mapping) or target.get("object", "product") not in TARGET_OBJECTS:
                raise RuleError(f"{here}: object must be one of {', '.join(TARGET_OBJECTS)}")
            if not (target.get("id") or target.get("source_id")):
                raise RuleError(f"{here}: needs an id or a source_id")
