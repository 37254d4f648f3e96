"""A store that cannot be used: one line naming the file and what to do, file untouched.

Each case builds the broken store for real (garbage bytes, a cut file, a newer
schema, a read-only file or mount, a full disk) and checks both the library
(:class:`StoreError` from :class:`Store`) and the command line (one line on stderr,
exit 1, or 2 when ``--data-dir`` names a file). Read-only and full disks need a small
tmpfs (root) or file modes (other users); cases that cannot be built here are skipped.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from service.store import Store
from service.store_errors import StoreError
from service.store_schema import SCHEMA_VERSION
from tests.test_cli import _env, cli

IS_ROOT = os.geteuid() == 0


def _store_path(data_dir: Path) -> Path:
    return data_dir / "profiles" / "sandbox.sqlite3"


def _filled(path: Path, runs: int = 200) -> Path:
    """A real store at ``path`` with ``runs`` runs (several pages of data)."""
    with Store(path) as store:
        for _ in range(runs):
            store.start_run("fetch-orders", {"note": "x" * 400}, "sandbox")
    return path


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs mounted at a fresh directory (root only; skipped elsewhere)."""
    mount_point = tmp_path / "tmpfs"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=700", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def _fill_disk(mount_point: Path) -> None:
    """Take every free block of the tmpfs ``mount_point``."""
    with open(mount_point / "filler", "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass


@dataclass
class _Written:
    runs: int
    error: StoreError


def _runs_until_store_error(store: Store, limit: int = 10_000) -> _Written:
    """Start runs until the store refuses one; how many it took and the error."""
    for runs in range(limit):
        try:
            store.start_run("fetch-orders", {"note": "x" * 4000}, "sandbox")
        except StoreError as error:
            return _Written(runs, error)
    raise AssertionError(f"{limit} runs written and the store never refused one")


def _remount_read_only(mount_point: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(mount_point)], check=True)


# -- not a database, damaged, newer ------------------------------------------------------


def test_a_file_that_is_not_a_database_is_refused_and_kept(tmp_path: Path) -> None:
    path = _store_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("customer list, not a database\n" * 50)
    before = path.read_bytes()

    with pytest.raises(StoreError) as raised:
        Store(path)
    assert str(raised.value).startswith(f"local store {path}: not a SQLite database; ")

    line = _one_line(result := cli("runs", env=_env(tmp_path)))
    assert result.returncode == 1
    assert line == f"error: {raised.value}"
    assert path.read_bytes() == before


def test_a_truncated_store_is_damaged_and_kept(tmp_path: Path) -> None:
    path = _filled(_store_path(tmp_path))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    before = path.read_bytes()

    with pytest.raises(StoreError, match="damaged") as raised, Store(path) as store:
        store.list_runs(limit=1000)
    assert str(raised.value).startswith(f"local store {path}: damaged (SQLite: ")
    assert "restore it from a backup or move it out of the way" in str(raised.value)

    result = cli("runs", "--limit", "1000", env=_env(tmp_path))
    assert result.returncode == 1
    assert _one_line(result) == f"error: {raised.value}"
    assert path.read_bytes() == before


def test_garbage_inside_a_store_names_the_backup_beside_it(tmp_path: Path) -> None:
    path = _filled(_store_path(tmp_path))
    backup = path.with_name(path.name + ".v1.bak")
    shutil.copyfile(path, backup)
    data = bytearray(path.read_bytes())
    data[8192:40960] = b"\xa5" * (40960 - 8192)  # pages of the runs table overwritten
    path.write_bytes(bytes(data))

    with pytest.raises(StoreError) as raised, Store(path) as store:
        store.list_runs(limit=1000)
    assert f"restore it from a copy (such as {backup.name} beside it)" in str(raised.value)
    assert path.read_bytes() == bytes(data)


def test_a_newer_store_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    path = _filled(_store_path(tmp_path), runs=3)
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = path.read_bytes()

    result = cli("runs", env=_env(tmp_path))

    assert result.returncode == 1
    assert _one_line(result) == (
        f"error: local store {path}: written by a newer ChannelDesk (store schema "
        f"{SCHEMA_VERSION + 1}; this one reads up to {SCHEMA_VERSION}); run that newer "
        "version, or pass another --data-dir; the file was left as it is"
    )
    assert path.read_bytes() == before
    assert not path.with_name(path.name + f".v{SCHEMA_VERSION + 1}.bak").exists()


def test_a_data_dir_that_is_a_file_is_the_users_mistake(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "notes.txt"
    not_a_dir.write_text("my notes\n")

    for command in (["runs"], ["run", "fetch-orders"]):
        result = cli("--data-dir", str(not_a_dir), *command, env=_env(tmp_path))
        assert result.returncode == 2, result.stderr
        assert _one_line(result) == (
            f"error: data directory {not_a_dir}: a file, not a directory; pass a directory "
            "with --data-dir (or CHANNELDESK_DATA_DIR); the file was left as it is"
        )
    assert not_a_dir.read_text() == "my notes\n"


# -- read-only ---------------------------------------------------------------------------


@pytest.fixture
def read_only_file(tmp_path: Path) -> Iterator[Path]:
    """A store whose file cannot be written (immutable for root, mode 0400 otherwise)."""
    path = _filled(_store_path(tmp_path), runs=3)
    if IS_ROOT:
        if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
            pytest.skip("chattr +i is not supported on this file system")
        try:
            yield path
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        path.chmod(0o400)
        yield path
        path.chmod(0o600)


def test_a_read_only_store_reads_but_refuses_writes_in_one_line(read_only_file: Path) -> None:
    before = read_only_file.read_bytes()
    with Store(read_only_file) as store:
        assert len(store.list_runs()) == 3
        with pytest.raises(StoreError) as raised:
            store.start_run("fetch-orders", {}, "sandbox")
    assert str(raised.value) == (
        f"local store {read_only_file}: read-only (the file or its directory cannot be "
        "written); make both writable for this user, or pass another --data-dir"
    )
    assert read_only_file.read_bytes() == before


def test_a_store_on_a_read_only_disk_is_one_line(tmp_path: Path, tmpfs: Path) -> None:
    path = _filled(_store_path(tmpfs), runs=3)
    before = path.read_bytes()
    _remount_read_only(tmpfs)

    result = cli("run", "fetch-orders", env=_env(tmpfs))

    assert result.returncode == 1
    # The simulators' state directory is the first thing the run would create.
    assert _one_line(result) == (
        f"error: directory {tmpfs}: read-only; make it writable for this user, or pass "
        "another --data-dir"
    )
    result = cli("runs", env=_env(tmpfs))
    assert result.returncode == 1
    assert _one_line(result) == (
        f"error: local store {path}: read-only (the file or its directory cannot be "
        "written); make both writable for this user, or pass another --data-dir"
    )
    assert path.read_bytes() == before


# -- disk full ---------------------------------------------------------------------------


def test_a_full_disk_stops_writes_with_one_line_and_keeps_what_was_written(
    tmpfs: Path,
) -> None:
    path = tmpfs / "store.sqlite3"
    with Store(path) as store:
        written = _runs_until_store_error(store)
        assert str(written.error) == (
            f"local store {path}: the disk is full; free space on that disk and run "
            "again; the last change was not saved"
        )
        assert written.runs > 0
        assert len(store.list_runs(limit=10_000)) == written.runs


def test_a_full_disk_when_the_store_is_created_is_one_line(tmpfs: Path) -> None:
    (tmpfs / "profiles").mkdir()
    _fill_disk(tmpfs)

    result = cli("runs", env=_env(tmpfs))

    assert result.returncode == 1
    assert _one_line(result) == (
        f"error: local store {_store_path(tmpfs)}: the disk is full; free space on that "
        "disk and run again; the last change was not saved"
    )


def test_the_page_limit_reads_as_a_full_disk(tmp_path: Path) -> None:
    """SQLITE_FULL without a small disk: the store's own page limit reached."""
    path = tmp_path / "store.sqlite3"
    with Store(path) as store:
        store._db.execute("PRAGMA max_page_count = 8")
        written = _runs_until_store_error(store)
    assert "the disk is full" in str(written.error)


# -- private by default ------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_store_and_its_directories_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with Store.for_profile("acme", data_dir=data_dir) as store:
        store.start_run("fetch-orders", {}, "acme")
        path = store.path
        assert path is not None
        companions = [path.with_name(path.name + s) for s in ("-wal", "-shm")]
        assert all(p.exists() for p in companions)
        assert [_mode(p) for p in (path, *companions)] == [0o600, 0o600, 0o600]
    assert _mode(data_dir) == 0o700
    assert _mode(data_dir / "profiles") == 0o700


def test_an_existing_world_readable_store_and_its_backup_become_private(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE legacy (x)")  # a v0 file with data: migrated, backed up
    conn.close()
    path.chmod(0o644)

    Store(path).close()

    assert _mode(path) == 0o600
    assert _mode(path.with_name("old.sqlite3.v0.bak")) == 0o600
    assert _mode(tmp_path) == 0o755  # a directory that existed keeps its mode


def test_the_cli_creates_data_dir_and_store_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"
    result = cli("runs", env=_env(data_dir))
    assert result.returncode == 0, result.stderr
    assert _mode(data_dir) == 0o700
    assert _mode(data_dir / "profiles") == 0o700
    assert _mode(_store_path(data_dir)) == 0o600
