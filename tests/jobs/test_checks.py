"""System checks of the job settings (voucherify.E04x/W04x)."""

from __future__ import annotations

from django_voucherify.checks import check_voucherify_settings

BASE: dict = {}


def ids(settings, **options):
    BASE.setdefault("conf", dict(settings.VOUCHERIFY))
    settings.VOUCHERIFY = {**BASE["conf"], **options}
    return sorted(m.id for m in check_voucherify_settings() if m.id[len("voucherify.E") :][:2] == "04")


def test_job_settings_are_checked_with_hints(settings):
    assert ids(settings) == []
    assert ids(settings, JOB_STORAGE="nope") == ["voucherify.E040"]
    assert ids(settings, JOB_POLL_INTERVAL=0, JOB_POLL_INTERVAL_MAX="x") == ["voucherify.E041"] * 2
    assert ids(settings, JOB_RESUBMIT_AFTER=5, READ_TIMEOUT=20) == ["voucherify.W040"]
    assert ids(settings, JOB_UPLOAD_TO="/") == ["voucherify.E042"]
    assert ids(settings, JOB_MAX_AGE=0) == ["voucherify.E043"]
    assert ids(settings, JOB_MAX_AGE=30, JOB_POLL_INTERVAL_MAX=60) == ["voucherify.E043"]
    assert ids(settings, JOB_MAX_AGE=3600) == []
    assert all(m.hint for m in check_voucherify_settings())


def test_a_storages_setting_that_is_no_dict_names_no_storage(settings):
    # A STORAGES that is a string answered `in` by substring: "default" in "s3://default-bucket"
    # passed the check, and the job's first upload failed instead.
    settings.STORAGES = "s3://default-bucket"
    assert ids(settings) == ["voucherify.E040"]
