"""Management commands of django_voucherify."""
