"""docs/settings.md documents exactly the options the code reads, and is current."""

import dataclasses
from pathlib import Path

from django_voucherify import settings_reference
from django_voucherify.conf import OPTIONS, VoucherifySettings

DOC = Path(__file__).resolve().parents[1] / "docs" / "settings.md"


def test_every_option_the_code_reads_is_documented_once():
    names = [option.name for option in OPTIONS]
    assert len(names) == len(set(names))
    # The typed object the features read has exactly one field per option of the table.
    assert [f.name for f in dataclasses.fields(VoucherifySettings)] == [o.field for o in OPTIONS]


def test_generated_page_is_current():
    assert DOC.read_text() == settings_reference.markdown(), (
        "regenerate: python -m django_voucherify.settings_reference > docs/settings.md"
    )
