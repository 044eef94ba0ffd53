# Checkout ledger: ORPHANED state (a redeem answered after its attempt was given up: recorded and rolled back).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("django_voucherify", "0007_jobs_fixes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="checkoutredemption",
            name="state",
            field=models.CharField(
                choices=[
                    ("PENDING", "pending (request about to be sent)"),
                    ("SUCCEEDED", "succeeded"),
                    ("FAILED", "failed"),
                    ("ROLLED_BACK", "rolled back"),
                    ("UNKNOWN", "unknown (to reconcile)"),
                    ("ORPHANED", "redeemed after being given up (to roll back)"),
                ],
                default="PENDING",
                max_length=16,
                verbose_name="state",
            ),
        ),
    ]
