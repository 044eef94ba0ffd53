"""Pure redemption/validation engine of the sandbox: pricing, eligibility,
stacking and LOCK sessions.  No state, no locks, no I/O: handlers call it
under ``state.lock``."""
