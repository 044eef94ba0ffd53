"""The shipped translation catalogs: each compiled ``django.mo`` matches its ``django.po`` (no
stale or missing message, nothing fuzzy or empty), every translation keeps its msgid's
placeholders, and the app's real messages come out in German under ``override("de")``.

Nothing is compiled here: after editing a ``.po``, run ``django-admin compilemessages`` in
``django_voucherify/`` and commit the ``.mo`` with it (see docs/configuration.md).
"""

from __future__ import annotations

import ast
import gettext
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.utils import translation

import django_voucherify
from django_voucherify import validation
from django_voucherify.admin import submit_once
from django_voucherify.admin.voucher_actions import change_description
from django_voucherify.admin.vouchers import VoucherAdmin
from django_voucherify.checkout.errors import message_for, message_for_error, unavailable_message
from django_voucherify.models import Voucher
from django_voucherify.vouchers.actions import Action

LOCALE_DIR = Path(django_voucherify.__file__).parent / "locale"
#: The example shop's own catalog (its templates and messages) is held to the same rules.
SHOP_LOCALE_DIR = Path(__file__).resolve().parents[1] / "example_project" / "shop" / "locale"
CATALOGS = sorted(LOCALE_DIR.glob("*/LC_MESSAGES/django.po")) + sorted(
    SHOP_LOCALE_DIR.glob("*/LC_MESSAGES/django.po")
)


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)  # plural index -> text; 0 when singular
    flags: set[str] = field(default_factory=set)


def parse_po(path: Path) -> list[Entry]:
    """The entries of a PO file (header included, obsolete ``#~`` entries left out)."""
    entries: list[Entry] = []
    entry = Entry()
    target: tuple[str, int] | None = None
    started = False

    def finish() -> None:
        nonlocal entry, target, started
        if started:
            entries.append(entry)
        entry, target, started = Entry(), None, False

    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line:
            finish()
        elif line.startswith("#,"):
            entry.flags.update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            assert target is not None, f"{path}: continuation line without a keyword: {line}"
            _append(entry, target, ast.literal_eval(line))
        else:
            keyword, _, rest = line.partition(" ")
            match = re.fullmatch(r"msgstr\[(\d+)\]", keyword)
            if match:
                target = ("msgstr", int(match.group(1)))
            elif keyword in ("msgid", "msgid_plural", "msgctxt", "msgstr"):
                if keyword in ("msgid", "msgctxt") and entry.msgstr:
                    finish()  # entries not separated by a blank line
                target = (keyword, 0)
            else:
                raise AssertionError(f"{path}: unexpected line: {line}")
            started = True
            _set(entry, target, "")
            _append(entry, target, ast.literal_eval(rest))
    finish()
    return entries


def _set(entry: Entry, target: tuple[str, int], value: str) -> None:
    name, index = target
    if name == "msgstr":
        entry.msgstr[index] = value
    else:
        setattr(entry, name, value)


def _append(entry: Entry, target: tuple[str, int], text: str) -> None:
    name, index = target
    if name == "msgstr":
        entry.msgstr[index] += text
    else:
        setattr(entry, name, getattr(entry, name) + text)


def expected_catalog(entries: list[Entry]) -> dict[object, str]:
    """What :class:`gettext.GNUTranslations` holds after loading the compiled ``entries``."""
    catalog: dict[object, str] = {}
    for entry in entries:
        key = entry.msgid if entry.msgctxt is None else f"{entry.msgctxt}\x04{entry.msgid}"
        if entry.msgid_plural is None:
            catalog[key] = entry.msgstr[0]
        else:
            for index, text in entry.msgstr.items():
                catalog[(key, index)] = text
    return catalog


# printf-style conversions as Python's ``%`` operator reads them: %(name)s, %d, %5.2f, %%...
PERCENT = re.compile(r"%(?:\((?P<name>[^)]*)\))?[#0\- +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?(?P<type>.)", re.S)
BRACE = re.compile(r"\{\{|\}\}|\{(?P<name>[^{}!:]*)(?:![rsa])?(?::[^{}]*)?\}")


def placeholders(text: str, flags: set[str]) -> list[str]:
    """The placeholders of ``text`` as ``name:type`` (sorted, repeats kept), ``%%`` left out."""
    found: list[str] = []
    if "python-format" in flags:
        found += [f"%({m['name'] or ''}){m['type']}" for m in PERCENT.finditer(text) if m["type"] != "%"]
    if "python-brace-format" in flags:
        found += [f"{{{m['name']}}}" for m in BRACE.finditer(text) if m["name"] is not None]
    return sorted(found)


def _messages(path: Path) -> list[Entry]:
    return [entry for entry in parse_po(path) if entry.msgid]


def _id(path: Path) -> str:
    language = path.parent.parent.name
    return f"shop-{language}" if "example_project" in path.parts else language


@pytest.mark.parametrize("po", CATALOGS, ids=_id)
def test_catalog_is_complete(po: Path) -> None:
    """No message is fuzzy or untranslated (msgfmt leaves those out of the .mo: English shows)."""
    entries = parse_po(po)
    assert "fuzzy" not in entries[0].flags, f"{po}: the header is still fuzzy"
    problems = [
        entry.msgid
        for entry in entries[1:]
        if "fuzzy" in entry.flags or not entry.msgstr or not all(entry.msgstr.values())
    ]
    assert not problems, f"{po}: {len(problems)} fuzzy or untranslated: {problems[:10]}"


@pytest.mark.parametrize("po", CATALOGS, ids=_id)
def test_compiled_catalog_matches_po(po: Path) -> None:
    """The committed .mo holds exactly the .po's messages and translations (recompile if not)."""
    mo = po.with_suffix(".mo")
    assert mo.exists(), f"{mo} is missing: run `django-admin compilemessages` in django_voucherify/"
    with mo.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    # ``_catalog`` is the one complete view of a .mo the gettext module offers (stable since
    # Python 2); the public calls below check the same through the documented API. The header
    # ("" key) is left out: msgfmt rewrites it (it drops POT-Creation-Date).
    messages_only = {k: v for k, v in compiled._catalog.items() if k != ""}  # type: ignore[attr-defined]
    stale = expected_catalog(_messages(po)) != messages_only
    assert not stale, f"{mo} is out of date with {po.name}: run `django-admin compilemessages`"
    assert compiled.info().get("language") == po.parent.parent.name
    for entry in _messages(po):
        if entry.msgctxt is not None:
            continue
        if entry.msgid_plural is None:
            assert compiled.gettext(entry.msgid) == entry.msgstr[0]
        else:
            assert compiled.ngettext(entry.msgid, entry.msgid_plural, 1) == entry.msgstr[0]


@pytest.mark.parametrize("po", CATALOGS, ids=_id)
def test_translations_keep_placeholders(po: Path) -> None:
    """Each translation has its source's placeholders (msgstr[0] the msgid's, the other plural
    forms the msgid_plural's) and formats without error, so no message breaks at runtime."""
    problems: list[str] = []
    for entry in _messages(po):
        for index, text in entry.msgstr.items():
            source = entry.msgid if index == 0 or entry.msgid_plural is None else entry.msgid_plural
            wanted, got = placeholders(source, entry.flags), placeholders(text, entry.flags)
            if wanted != got:
                problems.append(f"{entry.msgid!r} [{index}]: {wanted} in the source, {got} in {text!r}")
                continue
            names = {name: 1 for name in re.findall(r"%\((\w+)\)", text)}
            try:
                if "python-format" in entry.flags:
                    _formatted = text % (names or tuple(1 for _ in got))
                if "python-brace-format" in entry.flags:
                    _formatted = text.format(**{p[1:-1]: 1 for p in got})
            except (ValueError, TypeError, KeyError, IndexError) as exc:
                problems.append(f"{entry.msgid!r} [{index}]: {text!r} does not format: {exc}")
    assert not problems, "\n".join(problems)


def test_a_catalog_ships() -> None:
    assert {"de", "shop-de"} <= {_id(po) for po in CATALOGS}


def test_checkout_messages_in_german() -> None:
    with translation.override("de"):
        assert message_for("voucher_expired") == "Dieser Code ist abgelaufen."
        assert message_for("quantity_exceeded") == "Dieser Code wurde bereits vollständig eingelöst."
        assert message_for("no_such_key") == "Dieser Code kann nicht verwendet werden."
        assert message_for_error({"key": "missing_customer"}) == (
            "missing_customer",
            "Bitte melden Sie sich an, um diesen Code zu verwenden.",
        )
        assert unavailable_message().startswith("Gutscheine können gerade nicht geprüft werden.")
    with translation.override("en"):
        assert message_for("voucher_expired") == "This code has expired."


def test_admin_and_validation_messages_in_german() -> None:
    with translation.override("de"):
        assert change_description(Action.ENABLE, Voucher(code="X", active=False)) == "inaktiv → aktiv"
        action = VoucherAdmin.enable_selected.short_description  # type: ignore[attr-defined]
        assert str(action) == "Ausgewählte Gutscheine aktivieren"
        assert str(Voucher._meta.verbose_name_plural) == "Gutscheine"
        assert str(submit_once.UNAVAILABLE_MESSAGE).startswith("Der Cache, der dieses Formular")
        assert validation.code_problem("") == "Ein Gutscheincode darf nicht leer sein."
        too_long = validation.code_problem("X" * (validation.MAX_CODE_LENGTH + 1))
        assert too_long == f"Ein Gutscheincode darf höchstens {validation.MAX_CODE_LENGTH} Zeichen lang sein."


def test_german_calls_a_bulk_job_an_auftrag_throughout() -> None:
    """The German catalog's word for a bulk job is "Auftrag" ("Massenaufträge", "Unfertige
    Aufträge"); the overview's next line said "fehlgeschlagene Jobs" beside them."""
    english_word = re.compile(r"\bJobs?\b")
    (po,) = [po for po in CATALOGS if _id(po) == "de"]
    mixed = [
        e.msgid for e in parse_po(po) if e.msgid and any(english_word.search(s) for s in e.msgstr.values())
    ]
    assert mixed == []
