"""./scripts/demo as a terminal runs it, for the demo's tests: its environment (free ports, data in
a temporary folder), a start that returns once it says it is ready, Ctrl-C, and the processes
left in its group."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.support.raw_http import free_ports

ROOT = Path(__file__).resolve().parents[2]


def demo_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a demo on free ports with its data under ``tmp_path``, without this
    run's Celery, Django and database variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "DJANGO_", "DATABASE_"))}
    env.pop("VOUCHERIFY_API_URL", None)
    shop_port, sandbox_port = free_ports(2)
    return {
        **env,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "DEMO_NO_VENV": "1",
        "DEMO_PORT": str(shop_port),
        "SANDBOX_PORT": str(sandbox_port),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "DEMO_VAR_DIR": str(tmp_path / "var"),
        "DEMO_SANDBOX_DATA": str(tmp_path / "demo.sandbox.json"),
    }


def group_pids(pgid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the live processes of a process group."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                found.append((int(proc.name), (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()))
        except (OSError, IndexError):
            continue
    return found


def group_processes(pgid: int) -> list[str]:
    """The command lines of the live processes of a process group."""
    return [command for _pid, command in group_pids(pgid)]


def start_demo(env: dict[str, str]) -> tuple[subprocess.Popen[str], list[str]]:
    """./scripts/demo in its own process group (as a terminal runs it); returns once it is ready."""
    demo = subprocess.Popen(
        [str(ROOT / "scripts" / "demo")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        # Ctrl-C reaches the script even when this test runs with SIGINT ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    output: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert demo.stdout is not None
        for line in demo.stdout:
            output.append(line)
            if "demo: ready in" in line:
                ready.set()
        ready.set()  # the output ended: the script stopped before "ready" (failed at once below)

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(300) or not any("demo: ready in" in line for line in output):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(demo.pid, signal.SIGKILL)
        pytest.fail("".join(output))
    return demo, output


def ctrl_c(demo: subprocess.Popen[str]) -> int:
    """What Ctrl-C in the terminal does: SIGINT to the whole foreground process group."""
    os.killpg(demo.pid, signal.SIGINT)
    return demo.wait(120)
