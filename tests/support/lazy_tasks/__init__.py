"""A package whose ``tasks`` module nothing imports: only Celery's autodiscovery finds it."""
