"""docs/settings.md documents exactly the options the code reads, and is current."""

from pathlib import Path

from django_voucherify import settings_reference

DOC = Path(__file__).resolve().parents[1] / "docs" / "settings.md"


def test_every_option_the_code_reads_is_documented_once():
    names = [option.name for option in settings_reference.OPTIONS]
    assert len(names) == len(set(names))
    assert set(names) == set(settings_reference.defaults())


def test_generated_page_is_current():
    assert DOC.read_text() == settings_reference.markdown(), (
        "regenerate: python -m django_voucherify.settings_reference > docs/settings.md"
    )
