"""``manage.py demo_reset`` removes only the demo's own files and never empties a server database
unasked (a DATABASE_URL left pointing at a shop's database must survive a demo reset)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _reset(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "DEMO_VAR_DIR": str(tmp_path / "var"),
        "DEMO_SANDBOX_DATA": str(tmp_path / "sandbox.json"),
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "demo_reset"], cwd=ROOT, env=environ, capture_output=True, text=True
    )


def _var_dir(tmp_path: Path) -> Path:
    var = tmp_path / "var"
    (var / "broker" / "in").mkdir(parents=True)
    (var / "media").mkdir()
    (var / "celerybeat-schedule.db").write_text("x")
    (var / "keep.txt").write_text("not the demo's")
    (tmp_path / "sandbox.json").write_text("{}")
    return var


def test_a_server_database_is_refused_and_nothing_is_removed(tmp_path: Path) -> None:
    var = _var_dir(tmp_path)
    # The refusal comes before any connection: this database does not even exist.
    done = _reset(tmp_path, DATABASE_URL="postgres://postgres@127.0.0.1:5432/demo_reset_never_created")
    assert done.returncode != 0
    assert "--flush-database" in done.stderr
    assert (var / "broker").is_dir() and (var / "keep.txt").exists() and (tmp_path / "sandbox.json").exists()


def test_only_the_demo_entries_of_var_dir_are_removed(tmp_path: Path) -> None:
    var = _var_dir(tmp_path)
    database = tmp_path / "db.sqlite3"
    database.write_text("")
    done = _reset(tmp_path, DATABASE_URL=f"sqlite:///{database}")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in var.iterdir()) == ["keep.txt"]
    assert not database.exists() and not (tmp_path / "sandbox.json").exists()


def test_a_var_dir_holding_only_the_demo_entries_goes_entirely(tmp_path: Path) -> None:
    var = _var_dir(tmp_path)
    (var / "keep.txt").unlink()
    done = _reset(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    assert done.returncode == 0, done.stderr
    assert not var.exists()


def test_a_reset_while_a_demo_holds_the_folder_is_refused(tmp_path: Path) -> None:
    """A running ./scripts/demo holds VAR_DIR/demo.lock (flock); demo_reset on that folder must
    not pull the database, broker and sandbox data from under it."""
    import fcntl

    var = _var_dir(tmp_path)
    database = tmp_path / "db.sqlite3"
    database.write_text("")
    with open(var / "demo.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what the running demo holds
        done = _reset(tmp_path, DATABASE_URL=f"sqlite:///{database}")
    assert done.returncode != 0 and "another demo is running" in done.stderr and "DEMO_VAR_DIR" in done.stderr
    assert database.exists() and (tmp_path / "sandbox.json").exists() and (var / "broker").is_dir()
    # Released (the demo stopped, however it ended): the reset goes through, lock file included.
    done = _reset(tmp_path, DATABASE_URL=f"sqlite:///{database}")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in var.iterdir()) == ["keep.txt"] and not database.exists()


def test_sqlites_journal_files_go_with_the_database(tmp_path: Path) -> None:
    """A leftover journal or WAL next to a new database file would be replayed into it."""
    _var_dir(tmp_path)
    database = tmp_path / "db.sqlite3"
    companions = [tmp_path / f"db.sqlite3{suffix}" for suffix in ("-journal", "-wal", "-shm")]
    for path in [database, *companions]:
        path.write_text("x")
    done = _reset(tmp_path, DATABASE_URL=f"sqlite:///{database}")
    assert done.returncode == 0, done.stderr
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("db.")] == []


def test_entries_only_named_like_the_demos_are_kept(tmp_path: Path) -> None:
    var = _var_dir(tmp_path)
    (var / "keep.txt").unlink()
    mine = ["media.bak", "broker.old", "celerybeat-schedule.mine.txt", "mediafiles"]
    for name in mine:
        (var / name).write_text("the user's")
    (var / "celerybeat-schedule.dir").write_text("x")  # beat's shelve (dbm.dumb): the demo's
    done = _reset(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in var.iterdir()) == sorted(mine)


def test_a_symlinked_demo_folder_is_unlinked_not_followed(tmp_path: Path) -> None:
    var = tmp_path / "var"
    var.mkdir()
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "queue").mkdir(parents=True)
    (elsewhere / "queue" / "message").write_text("not the demo's to delete")
    (var / "broker").symlink_to(elsewhere, target_is_directory=True)
    (var / "keep.txt").write_text("x")
    done = _reset(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    assert done.returncode == 0, done.stderr
    assert not (var / "broker").exists() and not (var / "broker").is_symlink()
    assert (elsewhere / "queue" / "message").read_text() == "not the demo's to delete"


def test_a_moved_var_dir_takes_the_default_database_and_sandbox_data_with_it(tmp_path: Path) -> None:
    """The lock covers DEMO_VAR_DIR, but the database and sandbox data defaulted to
    example_project/: DEMO_VAR_DIR=/elsewhere demo_reset deleted a running demo's database."""
    var = _var_dir(tmp_path)
    mine = [var / "db.sqlite3", var / "demo.sandbox.json"]
    for path in mine:
        path.write_text("x")
    default_db = ROOT / "example_project" / "db.sqlite3"
    before = default_db.stat().st_mtime_ns if default_db.exists() else None
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DEMO_SANDBOX_DATA")}
    done = subprocess.run(
        [sys.executable, "manage.py", "demo_reset"],
        cwd=ROOT,
        env={**environ, "DJANGO_SETTINGS_MODULE": "example_project.settings", "DEMO_VAR_DIR": str(var)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert not any(path.exists() for path in mine)
    assert (default_db.stat().st_mtime_ns if default_db.exists() else None) == before
