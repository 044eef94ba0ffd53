# Voucher admin: balance adjustments get their own permission (adjust_voucher_balance).

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("django_voucherify", "0005_checkout_leases"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="voucher",
            options={
                "ordering": ("code",),
                "permissions": (
                    ("change_voucher_state", "Can enable and disable vouchers in Voucherify"),
                    ("delete_voucher_remote", "Can delete vouchers in Voucherify"),
                    ("adjust_voucher_balance", "Can add to or remove from gift-card and loyalty balances"),
                ),
                "verbose_name": "voucher",
                "verbose_name_plural": "vouchers",
            },
        ),
    ]
