"""An in-memory, stateful, spec-faithful local Voucherify (see docs/sandbox.md)."""
