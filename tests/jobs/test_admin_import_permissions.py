"""Review 19: a CSV import creates vouchers or customers in Voucherify, so starting one needs the
permission to add what it imports (``add_voucher`` / ``add_customer``, and ``change_customer``
since the customer import updates existing ones: review 20), not only ``add_job``
(which also lets staff start an export): ``is_staff`` and a job permission are not the right to
create vouchers (REVIEW.md, "Secrets and permissions")."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from django_voucherify.models import Job

pytestmark = pytest.mark.django_db(transaction=True)

UPLOAD = "admin:django_voucherify_job_upload"
FILES = {
    "vouchers": (("add_voucher",), b"Code,Value\nPERM-1,10\n"),
    "customers": (("add_customer", "change_customer"), b"Source_id,Name\nperm-1,Ann\n"),
}


def _staff(django_user_model, *codenames):
    user = django_user_model.objects.create_user("importer", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_job", "add_job", *codenames]))
    return user


@pytest.mark.parametrize("what", sorted(FILES))
def test_an_import_needs_the_permission_to_add_what_it_imports(client, sandbox, django_user_model, what):
    _, data = FILES[what]
    (other,) = (permissions for kind, (permissions, _) in FILES.items() if kind != what)
    client.force_login(_staff(django_user_model, *other))  # may import the other kind only
    form = client.get(reverse(UPLOAD))
    assert f'value="{what}"' not in form.content.decode()  # not offered
    response = client.post(reverse(UPLOAD), {"what": what, "file": SimpleUploadedFile("x.csv", data)})
    assert response.status_code == 200 and "what" in response.context["form"].errors
    assert Job.objects.count() == 0 and sandbox.calls.calls == []


@pytest.mark.parametrize("what", sorted(FILES))
def test_with_that_permission_the_import_starts(client, sandbox, django_user_model, what):
    permissions, data = FILES[what]
    client.force_login(_staff(django_user_model, *permissions))
    assert f'value="{what}"' in client.get(reverse(UPLOAD)).content.decode()
    response = client.post(reverse(UPLOAD), {"what": what, "file": SimpleUploadedFile("x.csv", data)})
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/{job.pk}/change/")


def test_staff_who_may_import_nothing_are_refused_the_page(client, sandbox, django_user_model):
    client.force_login(_staff(django_user_model, "view_order"))  # add_job: order exports only
    changelist = client.get(reverse("admin:django_voucherify_job_changelist")).content.decode()
    assert "Import a CSV" not in changelist and "Export from Voucherify" in changelist
    assert client.get(reverse(UPLOAD)).status_code == 403
    data = FILES["vouchers"][1]
    response = client.post(reverse(UPLOAD), {"what": "vouchers", "file": SimpleUploadedFile("x.csv", data)})
    assert response.status_code == 403 and Job.objects.count() == 0


EXPORT = "admin:django_voucherify_job_export"


def test_an_export_is_offered_only_to_staff_who_may_download_its_file(client, sandbox, django_user_model):
    """Review 19: staff with ``add_job`` but not ``view_order`` could start an order export
    (every order, customer and amount into a file kept for EXPORT_RETENTION_DAYS) that they
    may not download: the form offers only the exports whose file the user may see."""
    client.force_login(_staff(django_user_model, "view_voucher"))  # a card's transactions only
    form = client.get(reverse(EXPORT)).content.decode()
    assert 'value="voucher_transactions"' in form and 'value="orders"' not in form
    response = client.post(reverse(EXPORT), {"what": "orders", "sort": "-created_at"})
    assert response.status_code == 200 and "what" in response.context["form"].errors
    assert Job.objects.count() == 0 and sandbox.calls.calls == []


def test_staff_who_may_download_no_export_are_refused_the_export_page(client, sandbox, django_user_model):
    client.force_login(_staff(django_user_model, "add_voucher"))  # imports vouchers, views nothing
    changelist = client.get(reverse("admin:django_voucherify_job_changelist")).content.decode()
    assert "Export from Voucherify" not in changelist and "Import a CSV" in changelist
    assert client.get(reverse(EXPORT)).status_code == 403
    assert client.post(reverse(EXPORT), {"what": "orders", "sort": "-created_at"}).status_code == 403
    assert Job.objects.count() == 0
