"""Endpoint groups of the client, one module per Voucherify API group."""
