"""The outbox's ``(kind, delivered_at)`` index, built without blocking the outbox's writes
(``CREATE INDEX CONCURRENTLY`` on PostgreSQL: see :mod:`._concurrent`). The model state is the
same as ``AddIndex``'s: the index is declared on ``OutboxEntry``.
"""

from django.db import migrations, models

from ._concurrent import AddIndexWithoutBlockingWrites

INDEX_NAME = "dv_outbox_kind_delivered"


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("django_voucherify", "0026_customerpublication_campaign_name"),
    ]

    operations = [
        AddIndexWithoutBlockingWrites(
            model_name="outboxentry",
            index=models.Index(fields=["kind", "delivered_at"], name=INDEX_NAME),
            migration="0027",
        ),
    ]
