"""Review 19: ``demo: ready`` is printed only once the shop answers. The script waited at most
10 s for runserver's port and then said "ready" anyway; on a loaded machine (load 10 on two
cores) runserver took longer, so scripts/measure_demo.py and the demo's own tests got
"Connection refused" from a demo that said it was ready, and the start times it printed were
too short. Here runserver is held back 12 s (a ``python`` in front on PATH), as load does."""

from __future__ import annotations

import os
import socket
import stat
import sys

import pytest

from tests.support.demo import ctrl_c, demo_env, group_processes, start_demo

pytestmark = pytest.mark.slow

SLOW_RUNSERVER = """#!/bin/sh
case "$*" in *runserver*) sleep 12 ;; esac
exec {python} "$@"
"""


def test_ready_is_said_only_once_the_shop_accepts_connections(tmp_path):
    env = demo_env(tmp_path)
    shim = tmp_path / "bin"
    shim.mkdir()
    python = shim / "python"
    python.write_text(SLOW_RUNSERVER.format(python=sys.executable))
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    env["PATH"] = f"{shim}{os.pathsep}{env['PATH']}"
    demo, output = start_demo(env)
    try:
        with socket.create_connection(("127.0.0.1", int(env["DEMO_PORT"])), timeout=5):
            pass  # refused on the old script: "ready" came 10 s into runserver's 12 s start
    finally:
        assert ctrl_c(demo) in (0, 130), "".join(output)
        assert not group_processes(demo.pid), "".join(output)
