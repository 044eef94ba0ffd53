"""The outbox's deletions by ``(kind, source_id)``, sent or not (``dv_outbox_deletions``): pulls
and webhook events look up the deletions of the source ids they would make again, so that a copy
older than a deletion the shop has sent does not bring the object back (sync/bulk.py). Partial
(deletions only), and built without blocking the outbox's writes (:mod:`._concurrent`).
"""

from django.db import migrations, models
from django.db.models import Q

from ._concurrent import AddIndexWithoutBlockingWrites


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("django_voucherify", "0029_job_file_indexes"),
    ]

    operations = [
        AddIndexWithoutBlockingWrites(
            model_name="outboxentry",
            index=models.Index(
                fields=["kind", "source_id"],
                condition=Q(action__in=("delete", "erase")),
                name="dv_outbox_deletions",
            ),
            migration="0030",
        ),
    ]
