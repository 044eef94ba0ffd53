# Background work has one shape (issue 12), the jobs part: JobPart takes the shared fields of
# models.background. No data is lost: the time of the next poll keeps its meaning as ``due_at``
# and the part's error as ``last_error`` (renames); the poll sequence number is replaced by the
# lease token (a poll message queued before this migration is handled by jobs.runner: it takes
# the part over only when no live chain holds it). SyncCheckpoint, unused since the mirror push
# became a job, is dropped.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("django_voucherify", "0010_background_work_fields"),
    ]

    operations = [
        migrations.RenameField(model_name="jobpart", old_name="next_poll_at", new_name="due_at"),
        migrations.RenameField(model_name="jobpart", old_name="error", new_name="last_error"),
        migrations.RemoveField(model_name="jobpart", name="poll_seq"),
        migrations.AlterField(
            model_name="jobpart",
            name="due_at",
            field=models.DateTimeField(blank=True, db_index=True, null=True, verbose_name="due at"),
        ),
        migrations.AlterField(
            model_name="jobpart",
            name="last_error",
            field=models.TextField(blank=True, verbose_name="last error"),
        ),
        migrations.AddField(
            model_name="jobpart",
            name="last_error_key",
            field=models.CharField(blank=True, max_length=100, verbose_name="last error key"),
        ),
        migrations.AddField(
            model_name="jobpart",
            name="last_request_id",
            field=models.CharField(blank=True, max_length=100, verbose_name="last request id"),
        ),
        migrations.AddField(
            model_name="jobpart",
            name="lease_until",
            field=models.DateTimeField(blank=True, null=True, verbose_name="leased until"),
        ),
        migrations.AddField(
            model_name="jobpart",
            name="lease_token",
            field=models.CharField(blank=True, editable=False, max_length=32, verbose_name="lease token"),
        ),
        migrations.DeleteModel(name="SyncCheckpoint"),
    ]
