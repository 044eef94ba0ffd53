"""One delivery message per burst of saves: the drain flag (``SYNC_DRAIN_CACHE``).

Without the option every committed save enqueues ``deliver_outbox_entry`` for its row: a burst of
500 saves is 500 broker messages, 500 fetches and 500 acks, though the first task's batch sends
50 rows and the next 49 tasks find theirs sent. With ``SYNC_DRAIN_CACHE`` naming a cache that
every process shares, a committed save instead asks for ONE ``drain_outbox`` task, and only when
none is queued: the flag ``FLAG_KEY`` (``cache.add``: set only when absent, atomic on Redis,
Memcached, the database cache) says one is queued and will see the row.

Why no row is left behind, step by step:

1. A save commits its outbox row, THEN (on commit) tries to set the flag.
2. A drain clears the flag FIRST (:func:`clear`), THEN claims due rows in batches until none is
   left (:func:`.batches.drain_due`).

If the save finds the flag set, the drain holding it has not cleared it yet, so that drain's
claims start after the save committed and see its row. If the save finds the flag clear, it sets
it and sends a drain itself. A save that commits while a drain runs therefore costs at most one
more message (a drain that may find nothing left).

What can still go wrong, and what picks it up:

- The drain message is lost (broker crash, a purge) while the flag is set: saves send nothing
  until the flag expires (``FLAG_SECONDS``); their rows stay ``pending`` and due, and the
  periodic sweep (``django_voucherify.sweep``) enqueues them, as it does for any lost message.
- The broker refuses the drain: the flag is cleared again (the next save asks anew) and the
  row waits for the sweep, as a refused per-row task did.
- The cache cannot be reached: that save enqueues its own ``deliver_outbox_entry`` (the path
  without the option).
- A row another transaction holds at the drain's last claim (a save updating a row still
  ``pending``, which may roll back: no commit, so no new request): ``SKIP LOCKED`` passes it
  over, and the claim says so (:func:`.claims.claim_due_noting_held`). The drain then asks for
  another one :data:`HELD_RETRY_SECONDS` later (:func:`request_again`), setting the flag as a
  save does: saves meanwhile send nothing, that drain sees their rows. At most
  :data:`HELD_ROUNDS` such drains in a row (a row held longer waits for the sweep): a drain
  never loops on a held row. If the holder commits instead, its request finds the flag set (or
  sets it itself first): one drain message either way.
- A worker dies during a drain: the rows it claimed are ``in_progress`` until their lease runs
  out (the sweep takes them then); the rows it had not claimed are due ``pending`` rows, which
  the next drain or the sweep takes. ``acks_late``: the message itself is delivered again.

Claims, leases, versions and the per-object order are those of any batch (:mod:`.batches`).
"""

from __future__ import annotations

import logging
from typing import Any

from .. import background, conf

logger = logging.getLogger("django_voucherify.sync")

DRAIN_TASK = "django_voucherify.drain_outbox"

#: The flag's key in the ``SYNC_DRAIN_CACHE`` cache (one per database of the app: the key
#: prefix of the cache's ``KEY_PREFIX`` / ``VERSION`` separates projects sharing a server).
FLAG_KEY = "django_voucherify:outbox-drain-queued"

#: How long a flag holds without a drain clearing it: the longest a lost drain message keeps
#: saves from asking for another (the sweep delivers their rows meanwhile). A drain waiting in
#: a queue longer than this only costs one more message.
FLAG_SECONDS = 60

#: Full batches one drain sends before handing over to a fresh message (other tasks queued on
#: the worker get their turn; the next drain carries on).
MAX_BATCHES = 20


#: A drain whose last claim passed over a due row another transaction held asks for another
#: drain this many seconds later (a save's transaction is short: it has committed or rolled back).
HELD_RETRY_SECONDS = 1.0

#: Drains in a row that may ask again for held rows; the next one leaves them to the sweep.
HELD_ROUNDS = 5


def _cache() -> Any | None:
    alias = conf.option("SYNC_DRAIN_CACHE")
    if not alias:
        return None
    from django.core.cache import caches

    try:
        return caches[alias]
    except Exception:  # CACHES[alias] unusable (no dict: voucherify.E014): per-row messages
        # No exc_info: Django's error quotes nothing, but its frames hold the entry (a URL
        # whose password reporters rendering locals would show).
        logger.warning("Voucherify sync: the drain cache %r cannot be built; one task per row", alias)
        return None


def request(*, countdown: float | None = None, held_rounds: int = 0) -> bool | None:
    """After a commit: make sure a drain is queued. None when the option is off or the cache
    cannot be reached (the caller enqueues the row's own task); True when a drain is queued
    (already, or sent now); False when the broker refused it (logged; the row waits for the
    sweep). ``countdown`` and ``held_rounds``: see :func:`request_again`."""
    cache = _cache()
    if cache is None:
        return None
    try:
        if not cache.add(FLAG_KEY, 1, FLAG_SECONDS):
            return True  # a queued drain has not cleared the flag yet: its claims see this row
    except Exception:  # the cache's server is down: per-row messages, as without the option
        logger.warning("Voucherify sync: the drain cache cannot be reached; one task per row", exc_info=True)
        return None
    kwargs = {"held_rounds": held_rounds} if held_rounds else {}
    if background.send(DRAIN_TASK, (), kwargs, countdown=countdown):
        return True
    clear()  # nobody will clear it: the next save asks again
    return False


def request_again(held_rounds: int) -> bool | None:
    """A drain (the ``held_rounds``-th in a row to do so) passed over a due row another
    transaction held: ask for a drain :data:`HELD_RETRY_SECONDS` later, unless
    :data:`HELD_ROUNDS` drains in a row did already (False: the sweep takes the row)."""
    if held_rounds >= HELD_ROUNDS:
        logger.info("Voucherify sync: an outbox row still held after %s drains: the sweep's", held_rounds)
        return False
    return request(countdown=HELD_RETRY_SECONDS, held_rounds=held_rounds + 1)


def clear() -> None:
    """The drain's first step, before its first claim (see the module docstring)."""
    cache = _cache()
    if cache is None:
        return
    try:
        cache.delete(FLAG_KEY)
    except Exception:  # the flag expires on its own; saves meanwhile wait for the sweep at worst
        logger.warning("Voucherify sync: clearing the drain flag failed", exc_info=True)
