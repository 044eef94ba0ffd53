"""Times the demo as a new user meets it: first start (after --reset), a later start, and a
20,000-row voucher CSV from its upload in the admin to the job page showing "done".

    python scripts/measure_demo.py [--rows 20000]

Runs ./scripts/demo on free ports with its data in a temporary folder (the demo's own files
are left alone) and prints the three figures. Not a test: it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(env: dict[str, str]) -> tuple[subprocess.Popen[str], float]:
    began = time.monotonic()
    demo = subprocess.Popen(  # noqa: S603 (our own script)
        [str(ROOT / "scripts" / "demo")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert demo.stdout is not None
    for line in demo.stdout:
        if "demo: ready in" in line:
            ready = time.monotonic() - began
            # Keep reading its output, or the processes block once the pipe is full.
            threading.Thread(target=demo.stdout.read, daemon=True).start()
            return demo, ready
    raise SystemExit("the demo did not start")


def stop(demo: subprocess.Popen[str]) -> None:
    os.killpg(demo.pid, signal.SIGINT)
    demo.wait(120)


def upload_and_wait(shop: str, rows: int) -> float:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def csrf() -> str:
        return next(c.value for c in jar if c.name == "csrftoken")

    opener.open(f"{shop}/admin/login/")
    login = urllib.parse.urlencode(
        {"username": "admin", "password": "admin", "csrfmiddlewaretoken": csrf(), "next": "/admin/"}
    )
    opener.open(urllib.request.Request(f"{shop}/admin/login/", login.encode(), {"Referer": shop}))  # noqa: S310
    upload_url = f"{shop}/admin/django_voucherify/job/upload/"
    opener.open(upload_url)
    csv = "Code,Value\n" + "".join(f"M{i:06d},10\n" for i in range(rows))
    boundary = uuid.uuid4().hex
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n{csrf()}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="what"\r\n\r\nvouchers\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="codes.csv"\r\n'
        f"Content-Type: text/csv\r\n\r\n{csv}\r\n--{boundary}--\r\n"
    ).encode()
    began = time.monotonic()
    response = opener.open(
        urllib.request.Request(  # noqa: S310 (http://127.0.0.1 only)
            upload_url,
            body,
            {"Content-Type": f"multipart/form-data; boundary={boundary}", "Referer": shop},
        )
    )
    job_url = response.geturl()
    found = re.search(r"/job/(\d+)/change/", job_url)
    assert found, job_url
    # What the job page's script reads (job_progress.js): the page shows "done" at its next poll.
    status_url = f"{shop}/admin/django_voucherify/job/{found.group(1)}/status.json"
    while True:
        status = json.load(opener.open(status_url))
        if status["finished"]:
            took = time.monotonic() - began
            print(
                f"job state: {status['state_label']} ({status['total_rows']} rows, "
                f"{status['done_count']} done, {status['failed_count']} failed, "
                f"{len(status['parts'])} part(s))"
            )
            return took
        time.sleep(0.25)  # polling, as the page does (every 2 s there)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "DATABASE_"))},
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "DEMO_NO_VENV": "1",
            "DEMO_PORT": str(free_port()),
            "SANDBOX_PORT": str(free_port()),
            "DATABASE_URL": f"sqlite:///{tmp}/demo.sqlite3",
            "DEMO_VAR_DIR": f"{tmp}/var",
            "DEMO_SANDBOX_DATA": f"{tmp}/demo.sandbox.json",
        }
        demo, first = start(env)
        stop(demo)
        demo, later = start(env)
        try:
            csv_time = upload_and_wait(f"http://127.0.0.1:{env['DEMO_PORT']}", args.rows)
        finally:
            stop(demo)
    print(
        f"first start: {first:.1f} s; later start: {later:.1f} s; "
        f"{args.rows}-row CSV upload to done: {csv_time:.1f} s"
    )


if __name__ == "__main__":
    main()
