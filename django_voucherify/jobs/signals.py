"""Signals of the bulk jobs."""

from django.dispatch import Signal

#: Sent once per job when it reaches ``done`` or ``failed``: ``sender=Job``, ``job=<Job>``.
#: Receivers run in the process that finished the job (usually a Celery worker), after commit.
job_finished = Signal()
