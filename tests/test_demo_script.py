"""./scripts/demo: the shop, the sandbox, a Celery worker and beat on the filesystem broker start
together, do real work, and all stop on Ctrl-C with no process left behind; --reset-only puts
the demo back to its seeded state."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.support.demo import ctrl_c, demo_env, group_pids, group_processes, start_demo
from tests.support.raw_http import free_ports

ROOT = Path(__file__).resolve().parents[1]


def parent_of(pid: int) -> int:
    try:
        return int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def test_settings_default_to_a_real_worker_on_the_filesystem_broker(tmp_path):
    env = demo_env(tmp_path)
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.CELERY_BROKER_URL, s.CELERY_TASK_ALWAYS_EAGER, s.CELERY_BROKER_TRANSPORT)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "DJANGO_SETTINGS_MODULE": "example_project.settings"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    # The transport creates its folders when it uses them (example_project/broker.py, tested in
    # example_project/shop/tests/test_demo_broker.py): importing settings writes nothing.
    assert out == ["filesystem://", "False", "example_project.broker:Transport"]
    assert not (tmp_path / "var" / "broker").exists()


def test_a_second_demo_on_the_same_folder_is_refused_at_once(tmp_path):
    """While a demo holds VAR_DIR/demo.lock, ./scripts/demo (and --reset) on that folder stop
    before starting anything, with a message that says how to run a second demo beside it."""
    import fcntl

    env = demo_env(tmp_path)
    var = tmp_path / "var"
    var.mkdir()
    (tmp_path / "demo.sandbox.json").write_text("{}")
    with open(var / "demo.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as the running demo's script does
        for args in ([], ["--reset"], ["--reset-only"]):
            run = subprocess.Popen(
                [str(ROOT / "scripts" / "demo"), *args],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
            try:
                out, err = run.communicate(timeout=60)
            except subprocess.TimeoutExpired:  # the old script started a second demo
                os.killpg(run.pid, signal.SIGKILL)
                pytest.fail(f"./scripts/demo {args} was not refused")
            assert run.returncode == 1, (args, out, err)
            assert "another demo is running" in err and "DEMO_VAR_DIR=" in err and "DEMO_PORT=" in err
            assert group_processes(run.pid) == []
        assert (tmp_path / "demo.sandbox.json").exists()  # the refused --reset removed nothing


@pytest.mark.slow
def test_demo_starts_works_and_stops_everything(tmp_path):
    env = demo_env(tmp_path)
    demo, output = start_demo(env)
    try:
        running = " | ".join(group_processes(demo.pid))
        for part in ("worker", "beat", "runserver", "django_voucherify.sandbox"):
            assert part in running, running
        shop = f"http://127.0.0.1:{env['DEMO_PORT']}"
        assert urllib.request.urlopen(f"{shop}/account/signin/").status == 200
        with sqlite3.connect(tmp_path / "demo.sqlite3") as db:  # the first start filled the mirrors
            assert db.execute("SELECT count(*) FROM django_voucherify_voucher").fetchone()[0] > 0
            # ... and the campaigns with the automatic promotion's tier (the tier admin lists it)
            assert db.execute("SELECT count(*) FROM django_voucherify_campaign").fetchone()[0] == 3
            assert db.execute("SELECT name FROM django_voucherify_promotiontier").fetchall() == [
                ("10% off orders over 50",)
            ]

        def export_orders() -> subprocess.CompletedProcess[str]:
            """An order export through the command, which only follows the job the worker runs."""
            return subprocess.run(
                [sys.executable, "manage.py", "voucherify_job", "export-orders", "--no-progress"],
                cwd=ROOT,
                env={
                    **env,
                    "DJANGO_SETTINGS_MODULE": "example_project.settings",
                    "VOUCHERIFY_API_URL": f"http://127.0.0.1:{env['SANDBOX_PORT']}",
                },
                capture_output=True,
                text=True,
                timeout=240,
            )

        # A bulk job finishes by itself: the worker runs it (the command only follows it).
        export = export_orders()
        assert export.returncode == 0 and ": done" in export.stdout, export.stdout + export.stderr

        # A second demo, or a reset, on the same folder is refused while this one runs.
        shop_port, sandbox_port = free_ports(2)
        second = subprocess.run(
            [str(ROOT / "scripts" / "demo")],
            cwd=ROOT,
            env={**env, "DEMO_PORT": str(shop_port), "SANDBOX_PORT": str(sandbox_port)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1 and "another demo is running" in second.stderr, second.stderr
        refused = subprocess.run(
            [sys.executable, "manage.py", "demo_reset"],
            cwd=ROOT,
            env={**env, "DJANGO_SETTINGS_MODULE": "example_project.settings"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert refused.returncode != 0 and "another demo is running" in refused.stderr
        assert (tmp_path / "demo.sqlite3").exists()

        # The OOM killer's way: SIGKILL every process the worker started. The demo's worker has
        # none to lose (threads pool), and a task sent afterwards still completes.
        worker = next(p for p in group_pids(demo.pid) if "celery" in p[1] and " worker" in p[1])
        children = [pid for pid, _cmd in group_pids(demo.pid) if parent_of(pid) == worker[0]]
        for pid in children:
            os.kill(pid, signal.SIGKILL)
        again = export_orders()
        assert again.returncode == 0 and ": done" in again.stdout, again.stdout + again.stderr
        assert children == [], "the demo's worker should run tasks in threads, not pool children"
    finally:
        returncode = ctrl_c(demo)
    assert returncode == 130, "".join(output)
    assert group_processes(demo.pid) == []

    # A later start, stopped the moment it is ready (a Ctrl-C just before the script's wait
    # began used to be noted and never acted on).
    demo, output = start_demo(env)
    assert ctrl_c(demo) == 130, "".join(output)
    assert group_processes(demo.pid) == []

    reset = subprocess.run(
        [str(ROOT / "scripts" / "demo"), "--reset-only"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert reset.returncode == 0, reset.stdout + reset.stderr
    assert not (tmp_path / "demo.sqlite3").exists()
    assert not (tmp_path / "demo.sandbox.json").exists()
    assert not (tmp_path / "var").exists()


@pytest.mark.slow
def test_a_first_start_goes_on_when_the_campaign_refresh_is_already_running(tmp_path):
    """A campaign refresh run left "running" (a demo killed while its first start walked the
    campaigns, restarted within the run's 15 stale minutes): voucherify_pull refuses, and the
    first start used to end there (set -e) with the shop never started. It says what happened
    and goes on: the shop works without the campaign mirrors."""
    env = demo_env(tmp_path)
    django_env = {**env, "DJANGO_SETTINGS_MODULE": "example_project.settings"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=django_env, check=True)
    stuck = (
        "import django; django.setup(); from django.utils import timezone; "
        "from django_voucherify.models import VoucherRefreshRun as R; "
        "R.objects.create(subject='campaigns', state='running', heartbeat_at=timezone.now())"
    )
    subprocess.run([sys.executable, "-c", stuck], cwd=ROOT, env=django_env, check=True)
    demo, output = start_demo(env)
    try:
        said = "".join(output)
        assert "demo: the campaigns were not loaded" in said and "already under way" in said, said
        shop = f"http://127.0.0.1:{env['DEMO_PORT']}"
        assert urllib.request.urlopen(f"{shop}/account/signin/").status == 200
        with sqlite3.connect(tmp_path / "demo.sqlite3") as db:
            assert db.execute("SELECT count(*) FROM django_voucherify_voucher").fetchone()[0] > 0
            assert db.execute("SELECT count(*) FROM django_voucherify_campaign").fetchone()[0] == 0
    finally:
        returncode = ctrl_c(demo)
    assert returncode == 130, "".join(output)
    assert group_processes(demo.pid) == []


@pytest.mark.parametrize("busy", ["DEMO_PORT", "SANDBOX_PORT"])
def test_a_port_in_use_is_reported_with_a_command_that_keeps_the_other_port(tmp_path, busy):
    """The suggestion used to name only the busy variable: following "DEMO_PORT=8032
    ./scripts/demo" after SANDBOX_PORT=8132 started the sandbox on 8100 again."""
    import socket

    env = demo_env(tmp_path)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", int(env[busy])))
        listener.listen()
        run = subprocess.run(
            [str(ROOT / "scripts" / "demo")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
    assert run.returncode == 1 and "is already in use" in run.stderr, run.stderr
    suggested = dict(word.split("=", 1) for word in run.stderr.split(", e.g. ", 1)[1].split() if "=" in word)
    other = "SANDBOX_PORT" if busy == "DEMO_PORT" else "DEMO_PORT"
    assert suggested[other] == env[other]
    assert suggested[busy] not in (env[busy], env[other])
    assert not (tmp_path / "var" / "broker").exists()  # refused before anything started
