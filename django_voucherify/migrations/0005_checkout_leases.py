# Checkout ledger: one task chain per row (next_attempt_at + lease), rows flagged for staff.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("django_voucherify", "0004_jobs"),
    ]

    operations = [
        migrations.AddField(
            model_name="checkoutredemption",
            name="attention_reason",
            field=models.CharField(blank=True, max_length=200, verbose_name="why it needs attention"),
        ),
        migrations.AddField(
            model_name="checkoutredemption",
            name="leased_until",
            field=models.DateTimeField(blank=True, null=True, verbose_name="leased by a task until"),
        ),
        migrations.AddField(
            model_name="checkoutredemption",
            name="needs_attention",
            field=models.BooleanField(db_index=True, default=False, verbose_name="needs attention"),
        ),
        migrations.AddField(
            model_name="checkoutredemption",
            name="next_attempt_at",
            field=models.DateTimeField(blank=True, db_index=True, null=True, verbose_name="next attempt at"),
        ),
    ]
