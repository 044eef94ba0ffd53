"""The publications ledger keys a row by the campaign's id and keeps its name beside it.

``campaign_name`` is added blank: the rows already there hold the campaign as their caller gave
it (a name or an id) and stay valid as they are; ``checkout.publish`` finds a row by either
column and fills the name in the next time it asks Voucherify (no network call in a migration).
The index serves that look-up by name.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("django_voucherify", "0025_promotion_tiers"),
    ]

    operations = [
        migrations.AddField(
            model_name="customerpublication",
            name="campaign_name",
            field=models.CharField(blank=True, default="", max_length=200, verbose_name="campaign name"),
        ),
        migrations.AlterField(
            model_name="customerpublication",
            name="campaign",
            field=models.CharField(max_length=200, verbose_name="campaign id"),
        ),
        migrations.AddIndex(
            model_name="customerpublication",
            index=models.Index(
                fields=["customer_source_id", "campaign_name"], name="voucherify_publication_name"
            ),
        ),
    ]
