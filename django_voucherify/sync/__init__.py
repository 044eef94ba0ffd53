"""Keeping customer and order mirrors in step with Voucherify (flow 2 of docs/architecture.md).

- :mod:`.outbox`: write an outbox row in the saving transaction, enqueue on commit, re-drive.
- :mod:`.delivery`: send one entry (claim, HTTP outside any transaction, record the outcome).
- :mod:`.signals`: the receivers on the mirror models.
- :mod:`.registry`: connect a shop's own user/order models to the mirrors.
- :mod:`.bulk`: bulk push (resumable) and pull, used by the management commands.
"""
