"""Command line: ``python -m django_voucherify.sandbox`` (also ``manage.py voucherify_sandbox``).

Options: ``--host``, ``--port``, ``--app-id``, ``--app-token``, ``--data FILE`` (persist state),
``--seed`` (load demo data), ``--job-delay`` (seconds per async job step), ``--verbose``,
``--webhook-url URL`` (repeatable) and ``--webhook-secret`` (send signed webhooks), and the
delivery faults ``--webhook-duplicate P``, ``--webhook-delay S``, ``--webhook-fail P``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any, TextIO

from django_voucherify.sandbox.app import Sandbox
from django_voucherify.sandbox.log import configure as configure_logging
from django_voucherify.sandbox.persistence import FilePersistence, load_state
from django_voucherify.sandbox.seed import seed
from django_voucherify.sandbox.server import make_server
from django_voucherify.sandbox.state import SandboxState
from django_voucherify.sandbox.webhooks import DeliveryFaults, WebhookSender


def freeze_full_collection_survivors() -> None:
    """From now on, what a full garbage collection leaves alive is frozen (``gc.freeze``):
    later collections no longer walk it. Only for a process that serves one sandbox until it
    exits (``serve``), never in a process the sandbox shares (tests, ``start_in_thread``).

    Why (issue 13): the state only grows (a redeem stores ~10 containers), and each full
    collection walked all of it again: ~14 us of CPU per redeem over 40,000 redeems, ~4 % of
    a redeem, spent finding nothing (the sandbox's requests leave no reference cycles; a test
    keeps it so). Full collections still run when the heap has grown by a quarter, as before,
    but walk only what is new since the last one. The cost: an object frozen while alive that
    later becomes part of a reference cycle is never freed, which is why the no-cycle test
    guards this.
    """
    gc.collect()
    gc.freeze()  # the modules, the spec's schemas and a state loaded with --data
    if _freeze_after_full_collection not in gc.callbacks:
        gc.callbacks.append(_freeze_after_full_collection)


def _freeze_after_full_collection(phase: str, info: dict[str, int]) -> None:
    if phase == "stop" and info.get("generation") == 2:
        gc.freeze()


def webhook_sender(args: argparse.Namespace) -> WebhookSender | None:
    """The sender the options ask for (None without ``--webhook-url``)."""
    if not args.webhook_url:
        return None
    if not args.webhook_secret:
        raise SystemExit("--webhook-url needs --webhook-secret (events are always signed)")
    faults = DeliveryFaults(
        duplicate=args.webhook_duplicate, delay=args.webhook_delay, fail=args.webhook_fail
    )
    return WebhookSender(args.webhook_url, args.webhook_secret, faults=faults)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The sandbox's options (shared by the CLI and the management command)."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8100, help="port (default 8100; 0 = any)")
    parser.add_argument("--app-id", default="sandbox-app-id", help="accepted X-App-Id")
    parser.add_argument("--app-token", default="sandbox-secret-key", help="accepted X-App-Token")
    parser.add_argument("--data", metavar="FILE", help="load/save the state in this JSON file")
    parser.add_argument("--seed", action="store_true", help="load demo vouchers/customers/orders")
    parser.add_argument("--job-delay", type=float, default=0.2, help="seconds per async step")
    parser.add_argument(
        "--verbose", action="store_true", help="log every request (method, path, status, time)"
    )
    parser.add_argument(
        "--webhook-url", action="append", default=[], metavar="URL", help="send webhooks here (repeatable)"
    )
    parser.add_argument("--webhook-secret", default="", help="sign webhooks with this secret")
    parser.add_argument("--webhook-duplicate", type=float, default=0.0, help="probability of a duplicate")
    parser.add_argument("--webhook-delay", type=float, default=0.0, help="random delay up to S seconds")
    parser.add_argument("--webhook-fail", type=float, default=0.0, help="probability an attempt fails")


def serve(
    host: str = "127.0.0.1",
    port: int = 8100,
    app_id: str = "sandbox-app-id",
    app_token: str = "sandbox-secret-key",  # noqa: S107 - the documented local default
    data: str | None = None,
    seed_data: bool = False,
    job_delay: float = 0.2,
    verbose: bool = False,
    out: TextIO | None = None,
    webhooks: WebhookSender | None = None,
    *,
    restore_signals: bool = True,
) -> None:
    """Run the server until interrupted; state is saved on the way out when ``data`` is set.
    ``restore_signals=False`` (the command line, whose process ends with this call) leaves the
    stop's signal handlers in place on the way out: a signal of the burst that asked the stop,
    arriving once the handlers it found were back, raised ``KeyboardInterrupt`` (or ended the
    process by SIGTERM) after a clean stop and save, a failed exit to a supervisor."""
    # Ctrl-C and SIGTERM only ask the server to stop (no KeyboardInterrupt), from the very
    # start: a signal while the state loads or the server binds is a stop like any other,
    # honoured once start-up is done (nothing served, the state loaded by then saved). Before,
    # SIGTERM there killed the process and Ctrl-C raised KeyboardInterrupt, --data unsaved.
    stop_asked = threading.Event()
    with contextlib.ExitStack() as on_the_way_out:  # its callbacks run last registered first
        previous = _ask_stop_on_signals(stop_asked)
        if restore_signals:
            on_the_way_out.callback(_restore_signal_handlers, previous)
        if webhooks is not None:
            on_the_way_out.callback(_close_webhooks, webhooks)
        state = load_state(data) if data else SandboxState()
        state.job_delay = job_delay
        sandbox = Sandbox(app_id=app_id, app_token=app_token, state=state)
        if webhooks is not None:
            webhooks.attach(sandbox)
        if data:
            on_the_way_out.callback(FilePersistence(state, data).close)  # the last save
        if seed_data:
            seed(state)
        configure_logging(verbose, out)
        server = make_server(sandbox, host, port)
        # server_close() waits for the requests under way on threads and takes up no new
        # one: the state saved after it holds every request answered, and nothing after it.
        on_the_way_out.callback(server.server_close)
        if stop_asked.is_set():  # asked during start-up: nothing is served
            return
        freeze_full_collection_survivors()  # this process serves this sandbox only
        print(f"Voucherify sandbox on {sandbox.base_url} (app id {app_id!r})", file=out or sys.stderr)
        # The server loop runs on a thread of its own: no signal lands inside a request that
        # holds the state's lock, and a second one while the loop finishes the request it took
        # up cannot cut the wait short, so the state saved on the way out holds every request
        # answered, none half applied.
        serving = threading.Thread(target=server.serve_forever, name="sandbox-server", daemon=True)
        serving.start()
        while serving.is_alive() and not stop_asked.wait(0.5):
            pass
        if serving.is_alive():
            server.shutdown()  # the request in hand is answered first


def _close_webhooks(webhooks: WebhookSender) -> None:
    webhooks.flush(timeout=5)
    webhooks.close()


def _restore_signal_handlers(previous: dict[int, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)


#: Signals after which a sandbox that does not stop (a request stuck in the loop) gives up its
#: clean stop and exits at once, without saving ``--data``: Ctrl-C still ends it.
SIGNALS_TO_GIVE_UP = 3
#: Seconds within which signals count as one toward :data:`SIGNALS_TO_GIVE_UP`: a burst (a
#: terminal's Ctrl-C reaches every process of its group, a supervisor forwards or repeats its
#: SIGTERM) is one stop asked, not a sandbox that does not stop; a stop takes milliseconds.
SIGNAL_BURST = 1.0


def _ask_stop_on_signals(stop_asked: threading.Event) -> dict[int, Any]:
    """Have Ctrl-C and SIGTERM set ``stop_asked`` (the third, each at least
    :data:`SIGNAL_BURST` seconds after the one before, exits at once, unsaved); the handlers
    they had. Python runs signal handlers in the main thread only, and only it may set them:
    from another, none is set."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    received = 0
    last = 0.0

    def ask_stop(signum: int, frame: object) -> None:
        nonlocal received, last
        now = time.monotonic()
        if not received or now - last >= SIGNAL_BURST:
            received, last = received + 1, now
        if received >= SIGNALS_TO_GIVE_UP:
            os.write(2, b"sandbox: not stopping; exiting without saving the state\n")
            os._exit(128 + signum)
        stop_asked.set()

    return {signum: signal.signal(signum, ask_stop) for signum in (signal.SIGINT, signal.SIGTERM)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m django_voucherify.sandbox", description="Run a local Voucherify sandbox."
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    serve(
        args.host,
        args.port,
        args.app_id,
        args.app_token,
        args.data,
        args.seed,
        args.job_delay,
        args.verbose,
        webhooks=webhook_sender(args),
        restore_signals=False,  # the process ends next: a late signal is part of this stop
    )
    return 0
