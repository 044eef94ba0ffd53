# Issue 13 (fast at scale): the outbox keeps one row per object forever, so every lookup a
# delivery makes must be an index scan whatever the history. Two PARTIAL indexes (only the rows
# still to send): pending rows in id order (the batch claim), and unsent deletions by
# (kind, source_id) (the earlier-deletion check, a full table scan before). Small to build even
# on a large outbox: the synced history is not in them.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("django_voucherify", "0015_admin_overview_refresh_runs"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="outboxentry",
            index=models.Index(
                condition=models.Q(("state", "pending")), fields=["id"], name="dv_outbox_pending"
            ),
        ),
        migrations.AddIndex(
            model_name="outboxentry",
            index=models.Index(
                condition=models.Q(
                    ("action__in", ("delete", "erase")), models.Q(("state", "synced"), _negated=True)
                ),
                fields=["kind", "source_id"],
                name="dv_outbox_unsent_deletions",
            ),
        ),
    ]
