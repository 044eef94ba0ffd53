"""Promotion tiers mirrored for the admin (refreshed with the campaigns), with their enable and
disable permissions; the campaigns' refresh run names the tiers it now walks too."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("django_voucherify", "0024_checkoutredemption_tiers"),
    ]

    operations = [
        migrations.AlterField(
            model_name="voucherrefreshrun",
            name="subject",
            field=models.CharField(
                choices=[
                    ("vouchers", "vouchers"),
                    ("campaigns", "campaigns, promotion tiers and validation rules"),
                ],
                db_index=True,
                default="vouchers",
                max_length=16,
                verbose_name="subject",
            ),
        ),
        migrations.CreateModel(
            name="PromotionTier",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("last_error", models.TextField(blank=True, verbose_name="last error")),
                (
                    "last_error_key",
                    models.CharField(blank=True, max_length=100, verbose_name="last error key"),
                ),
                (
                    "last_request_id",
                    models.CharField(blank=True, max_length=100, verbose_name="last request id"),
                ),
                (
                    "voucherify_id",
                    models.CharField(max_length=100, unique=True, verbose_name="Voucherify id"),
                ),
                (
                    "campaign_voucherify_id",
                    models.CharField(blank=True, db_index=True, max_length=100, verbose_name="campaign id"),
                ),
                ("name", models.CharField(db_index=True, max_length=255, verbose_name="name")),
                ("banner", models.TextField(blank=True, verbose_name="banner")),
                ("active", models.BooleanField(default=True, verbose_name="active")),
                ("hierarchy", models.IntegerField(blank=True, null=True, verbose_name="hierarchy")),
                ("start_date", models.DateTimeField(blank=True, null=True, verbose_name="start date")),
                (
                    "expiration_date",
                    models.DateTimeField(blank=True, null=True, verbose_name="expiration date"),
                ),
                (
                    "redemptions_count",
                    models.PositiveIntegerField(blank=True, null=True, verbose_name="redemptions"),
                ),
                (
                    "remote_created_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="created in Voucherify"),
                ),
                (
                    "remote_payload",
                    models.JSONField(blank=True, default=dict, verbose_name="Voucherify payload"),
                ),
                ("refreshed_at", models.DateTimeField(blank=True, null=True, verbose_name="refreshed at")),
                (
                    "campaign",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="promotion_tiers",
                        to="django_voucherify.campaign",
                        verbose_name="campaign",
                    ),
                ),
            ],
            options={
                "verbose_name": "promotion tier",
                "verbose_name_plural": "promotion tiers",
                "ordering": ("campaign_voucherify_id", "hierarchy", "name"),
                "permissions": (
                    ("enable_promotiontier", "Can enable promotion tiers in Voucherify"),
                    ("disable_promotiontier", "Can disable promotion tiers in Voucherify"),
                ),
                "default_permissions": ("view",),
            },
        ),
    ]
