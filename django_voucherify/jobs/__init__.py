"""Bulk jobs: imports, bulk updates, exports and mirror pushes, submitted and followed to the
end on Celery.

::

    from django_voucherify import jobs

    job = jobs.import_vouchers_csv("codes.csv", started_by=request.user)
    job = jobs.update_vouchers_metadata(["A", "B"], {"batch": "spring"})
    job = jobs.export_orders({"fields": ["id", "source_id", "status"]})
    job = jobs.push_mirrors("customers")  # what manage.py voucherify_sync starts

Each function returns the :class:`~django_voucherify.models.Job`; Celery tasks submit its parts
and poll them (``django_voucherify.tasks.jobs``), and :data:`job_finished` is sent at the end.
See docs/jobs.md.
"""

from .campaign_codes import generate_campaign_codes
from .csvfiles import CsvError
from .dispatch import queueing_paused, resume
from .push import push_mirrors, unfinished_push
from .runner import drive
from .service import (
    bulk_update_customers,
    bulk_update_vouchers,
    export_orders,
    export_voucher_transactions,
    import_customers_csv,
    import_orders,
    import_vouchers,
    import_vouchers_csv,
    prepare,
    update_customers_metadata,
    update_vouchers_metadata,
)
from .signals import job_finished

__all__ = [
    "CsvError",
    "bulk_update_customers",
    "bulk_update_vouchers",
    "drive",
    "export_orders",
    "export_voucher_transactions",
    "generate_campaign_codes",
    "import_customers_csv",
    "import_orders",
    "import_vouchers",
    "import_vouchers_csv",
    "job_finished",
    "prepare",
    "push_mirrors",
    "queueing_paused",
    "resume",
    "unfinished_push",
    "update_customers_metadata",
    "update_vouchers_metadata",
]
