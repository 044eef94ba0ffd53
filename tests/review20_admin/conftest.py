"""Review 20 (admin)'s reproductions reuse the campaign admin's fixtures (in-process sandbox, eager
Celery, staff users holding exactly the permissions a test names)."""

from tests.admin_campaigns.conftest import api, campaigns, sandbox, staff

__all__ = ["api", "campaigns", "sandbox", "staff"]
