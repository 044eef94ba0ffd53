"""pytest fixtures for testing a shop against the sandbox (filled in by the sandbox work)."""
