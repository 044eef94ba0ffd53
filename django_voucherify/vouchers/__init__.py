"""Voucher management services: the admin, tasks and ``voucherify_pull vouchers`` call these.

- :mod:`.refresh`: mirror every voucher from Voucherify (``refresh_all``) or one (``refresh_one``)
- :mod:`.editing`: create, update, balance adjustment, a voucher's transactions and redemptions
- :mod:`.actions`: enable, disable, delete, delete permanently, with per-voucher results
"""
