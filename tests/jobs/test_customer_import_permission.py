"""Starting a customer CSV import needs ``change_customer`` as well as ``add_customer``:
Voucherify's customer import is "Import and Update Customers using CSV", a row whose source id
exists overwrites that customer (name, email, address, metadata). Review 20 found
``add_customer`` alone was enough, so staff who may not change customers (the customer page's
edit and Re-sync) could overwrite any of them in Voucherify."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from django_voucherify.models import Job

pytestmark = pytest.mark.django_db
UPLOAD = reverse("admin:django_voucherify_job_upload")
CSV = b"Source_id,Name\nexisting-1,Mallory\n"


def test_a_customer_import_needs_change_customer_too(client, sandbox, staff):
    staff("view_job", "add_job", "add_customer", "add_voucher")  # not change_customer
    assert 'value="customers"' not in client.get(UPLOAD).content.decode()
    response = client.post(UPLOAD, {"what": "customers", "file": SimpleUploadedFile("x.csv", CSV)})
    assert response.status_code == 200 and "what" in response.context["form"].errors
    assert Job.objects.count() == 0


def test_with_add_and_change_customer_it_is_offered(client, sandbox, staff):
    staff("view_job", "add_job", "add_customer", "change_customer")
    assert 'value="customers"' in client.get(UPLOAD).content.decode()
