# Background work has one shape (issue 12): the shared fields of models.background.
# Renames only (no data lost): due time, lease, lease token, and one spelling of the last
# Voucherify error (last_error, last_error_key, last_request_id) on outbox, ledger and mirrors.

from django.db import migrations, models

RENAMES = {
    "outboxentry": {
        "next_attempt_at": "due_at",
        "claimed_until": "lease_until",
        "claim_token": "lease_token",
        "error_key": "last_error_key",
        "request_id": "last_request_id",
    },
    "checkoutredemption": {
        "next_attempt_at": "due_at",
        "leased_until": "lease_until",
        "failure_message": "last_error",
        "failure_key": "last_error_key",
        "request_id": "last_request_id",
    },
    "customer": {
        "sync_error": "last_error",
        "sync_error_key": "last_error_key",
        "sync_request_id": "last_request_id",
    },
    "order": {
        "sync_error": "last_error",
        "sync_error_key": "last_error_key",
        "sync_request_id": "last_request_id",
    },
}


class Migration(migrations.Migration):
    dependencies = [
        ("django_voucherify", "0009_checkout_late_check"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="outboxentry", name="dv_outbox_state_due"),
        *(
            migrations.RenameField(model_name=model, old_name=old, new_name=new)
            for model, fields in RENAMES.items()
            for old, new in fields.items()
        ),
        migrations.AddField(
            model_name="checkoutredemption",
            name="lease_token",
            field=models.CharField(blank=True, editable=False, max_length=32, verbose_name="lease token"),
        ),
        migrations.AlterField(
            model_name="checkoutredemption",
            name="due_at",
            field=models.DateTimeField(blank=True, db_index=True, null=True, verbose_name="due at"),
        ),
        migrations.AlterField(
            model_name="checkoutredemption",
            name="last_error",
            field=models.TextField(blank=True, verbose_name="last error"),
        ),
        migrations.AlterField(
            model_name="checkoutredemption",
            name="last_error_key",
            field=models.CharField(blank=True, max_length=100, verbose_name="last error key"),
        ),
        migrations.AlterField(
            model_name="checkoutredemption",
            name="last_request_id",
            field=models.CharField(blank=True, max_length=100, verbose_name="last request id"),
        ),
        migrations.AlterField(
            model_name="checkoutredemption",
            name="lease_until",
            field=models.DateTimeField(blank=True, null=True, verbose_name="leased until"),
        ),
        migrations.AlterField(
            model_name="customer",
            name="last_error",
            field=models.TextField(blank=True, verbose_name="last error"),
        ),
        migrations.AlterField(
            model_name="customer",
            name="last_error_key",
            field=models.CharField(blank=True, max_length=100, verbose_name="last error key"),
        ),
        migrations.AlterField(
            model_name="customer",
            name="last_request_id",
            field=models.CharField(blank=True, max_length=100, verbose_name="last request id"),
        ),
        migrations.AlterField(
            model_name="order",
            name="last_error",
            field=models.TextField(blank=True, verbose_name="last error"),
        ),
        migrations.AlterField(
            model_name="order",
            name="last_error_key",
            field=models.CharField(blank=True, max_length=100, verbose_name="last error key"),
        ),
        migrations.AlterField(
            model_name="order",
            name="last_request_id",
            field=models.CharField(blank=True, max_length=100, verbose_name="last request id"),
        ),
        migrations.AlterField(
            model_name="outboxentry",
            name="due_at",
            field=models.DateTimeField(blank=True, db_index=True, null=True, verbose_name="due at"),
        ),
        migrations.AlterField(
            model_name="outboxentry",
            name="last_error_key",
            field=models.CharField(blank=True, max_length=100, verbose_name="last error key"),
        ),
        migrations.AlterField(
            model_name="outboxentry",
            name="last_request_id",
            field=models.CharField(blank=True, max_length=100, verbose_name="last request id"),
        ),
        migrations.AlterField(
            model_name="outboxentry",
            name="lease_token",
            field=models.CharField(blank=True, editable=False, max_length=32, verbose_name="lease token"),
        ),
        migrations.AlterField(
            model_name="outboxentry",
            name="lease_until",
            field=models.DateTimeField(blank=True, null=True, verbose_name="leased until"),
        ),
        migrations.AddIndex(
            model_name="outboxentry",
            index=models.Index(fields=["state", "due_at"], name="dv_outbox_state_due"),
        ),
    ]
