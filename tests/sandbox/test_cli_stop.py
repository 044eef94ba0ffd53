"""The command line's stop (``python -m django_voucherify.sandbox --data FILE``), in a real
process sent real signals: what the sandbox answered is in the file it saves, what it did not
answer is never carried out after the save, and a signal during start-up is a stop like any
other (the state loaded by then is saved)."""

from __future__ import annotations

import json
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

_CREATE = b'{"type":"GIFT_VOUCHER","gift":{"amount":100}}'
_CHUNKED_CREATE = (  # chunked: a request the event loop hands to a thread
    b"POST /v1/vouchers/UNDERWAY HTTP/1.1\r\nX-App-Id: sandbox-app-id\r\n"
    b"X-App-Token: sandbox-secret-key\r\nContent-Type: application/json\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n%s\r\n0\r\n\r\n" % (len(_CREATE), _CREATE)
)

# The sandbox's own command line, with the request UNDERWAY held, once taken up, until the
# process has been sent SIGTERM and its server is stopping (server_close() has begun).
_HELD_UNTIL_THE_STOP = """
import os, signal, sys, threading
from django_voucherify.sandbox import app, cli, server

closing = threading.Event()
server_close = server.SandboxServer.server_close
server.SandboxServer.server_close = lambda self: [closing.set(), server_close(self)][1]
handle_environ = app.Sandbox.handle_environ

def held(self, environ):
    if environ["PATH_INFO"] == "/v1/vouchers/UNDERWAY":
        os.kill(os.getpid(), signal.SIGTERM)
        closing.wait(10)
    return handle_environ(self, environ)

app.Sandbox.handle_environ = held
sys.exit(cli.main(["--port", "0", "--data", sys.argv[1]]))
"""

# The command line, sent ``sys.argv[2]`` as the server is being made (the state loaded and
# seeded, nothing served yet).
_SIGNALLED_DURING_START_UP = """
import os, signal, sys
from django_voucherify.sandbox import cli

make_server = cli.make_server

def signalled(*args, **kwargs):
    os.kill(os.getpid(), getattr(signal, sys.argv[2]))
    return make_server(*args, **kwargs)

cli.make_server = signalled
sys.exit(cli.main(["--port", "0", "--seed", "--data", sys.argv[1]]))
"""


# The command line, sent a burst of signals (SIGTERM, SIGINT, SIGTERM: a terminal's Ctrl-C and a
# supervisor's SIGTERM, say) as its server stops after the first.
_A_BURST_OF_SIGNALS_WHILE_IT_STOPS = """
import os, signal, sys
from django_voucherify.sandbox import cli, server

server_close = server.SandboxServer.server_close

def burst(self):
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGINT):
        os.kill(os.getpid(), signum)  # each handled at once, in this (the main) thread
    server_close(self)

server.SandboxServer.server_close = burst
sys.exit(cli.main(["--port", "0", "--data", sys.argv[1]]))
"""


# The command line, sent SIGINT and SIGTERM once serve() has returned (the last of a burst,
# arriving after the stop and the save).
_SIGNALLED_ONCE_STOPPED = """
import os, signal, sys, threading
from django_voucherify.sandbox import cli

serve = cli.serve

def stopped_then_signalled(*args, **kwargs):
    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM)).start()  # the stop
    serve(*args, **kwargs)
    for signum in (signal.SIGINT, signal.SIGTERM):
        os.kill(os.getpid(), signum)  # handled at once, in this (the main) thread

cli.serve = stopped_then_signalled
sys.exit(cli.main(["--port", "0", "--seed", "--data", sys.argv[1]]))
"""


def _run(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,  # this checkout's package, first on the path
        stderr=subprocess.PIPE,
        text=True,
    )


def _address(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """The host and port the sandbox's banner (its first stderr line) names; the rest of its
    stderr is drained on a thread so the process never blocks writing to it."""
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stderr is not None
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stderr], daemon=True).start()
    banner = lines.get(timeout=30)  # the import takes a while on a busy machine
    host, port = re.search(r"http://([\d.]+):(\d+)", banner).groups()
    return host, port


def _saved_vouchers(path: Path) -> dict[str, object]:
    vouchers: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))["vouchers"]
    return vouchers


def test_a_request_under_way_on_a_thread_at_sigterm_is_answered_and_saved(tmp_path):
    # The stop ended the connections handed to threads without waiting: the request a thread
    # was carrying out went unanswered, and the file was saved with or without it.
    data = tmp_path / "state.json"
    proc = _run(_HELD_UNTIL_THE_STOP, str(data))
    try:
        host, port = _address(proc)
        with socket.create_connection((host, int(port)), timeout=20) as sock:
            sock.sendall(_CHUNKED_CREATE)
            answer = b""
            while data_read := sock.recv(65536):
                answer += data_read
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()
    assert answer.startswith(b"HTTP/1.1 200 ")  # answered before the stop ended
    assert "UNDERWAY" in _saved_vouchers(data)  # and saved


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGINT"])
def test_a_signal_during_start_up_stops_the_sandbox_and_saves_what_was_loaded(tmp_path, signame):
    # The handlers were set once the server was made: SIGTERM before them killed the process
    # (143) and SIGINT raised KeyboardInterrupt (a traceback); either way the seeded state
    # was never saved.
    data = tmp_path / "state.json"
    proc = _run(_SIGNALLED_DURING_START_UP, str(data), signame)
    try:
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert _saved_vouchers(data)  # the demo data --seed loaded


def test_a_burst_of_signals_while_the_sandbox_stops_is_one_stop_and_the_state_is_saved(tmp_path):
    # Every signal counted toward the three that give up a stop: a burst of them (a terminal's
    # Ctrl-C reaches the whole process group, a supervisor forwards or repeats SIGTERM) exited
    # at once, 143, without saving, though the stop takes milliseconds.
    data = tmp_path / "state.json"
    proc = _run(_A_BURST_OF_SIGNALS_WHILE_IT_STOPS, str(data))
    try:
        host, port = _address(proc)
        with socket.create_connection((host, int(port)), timeout=20) as sock:
            sock.sendall(
                b"POST /v1/vouchers/BURST HTTP/1.1\r\nX-App-Id: sandbox-app-id\r\n"
                b"X-App-Token: sandbox-secret-key\r\nContent-Type: application/json\r\n"
                b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(_CREATE), _CREATE)
            )
            answer = b""
            while data_read := sock.recv(65536):
                answer += data_read
        proc.send_signal(signal.SIGTERM)
        returncode = proc.wait(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert returncode == 0  # 143: "not stopping; exiting without saving the state"
    assert "BURST" in _saved_vouchers(data)


def test_a_signal_arriving_once_the_sandbox_stopped_and_saved_is_part_of_that_stop(tmp_path):
    # serve() put back the handlers it found on its way out: a late signal of the burst that
    # asked the stop raised KeyboardInterrupt (a traceback, a failed exit) or ended the process
    # by SIGTERM, after the stop and the save had gone well.
    data = tmp_path / "state.json"
    proc = _run(_SIGNALLED_ONCE_STOPPED, str(data))
    try:
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert _saved_vouchers(data)
