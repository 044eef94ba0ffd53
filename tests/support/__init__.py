"""Helpers shared by the test suite, in one place.

Test modules and conftests import from here and never from one another: a fixture or a fake is
defined once. ``sandbox`` wires the in-process sandbox into the client (call log, options);
``checkout``, ``jobs`` hold those areas' builders; ``workers`` starts real Celery workers;
``spec`` validates sandbox responses against the vendored OpenAPI spec; ``adversary``,
``raw_http`` and ``concurrency`` inject faults, misbehaving servers and lock races.
"""
