"""The checkout ledger records the promotion tiers an attempt redeemed, beside its codes.

An added JSON column, ``[]`` for the rows already there (a checkout before this release redeemed
codes only).
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("django_voucherify", "0023_campaign_mirrors"),
    ]

    operations = [
        migrations.AddField(
            model_name="checkoutredemption",
            name="tiers",
            field=models.JSONField(blank=True, default=list, verbose_name="promotion tiers"),
        ),
    ]
