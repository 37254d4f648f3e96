"""The console on a store it cannot use: a dialog naming the file and what to do, no crash.

The console is started through its real entry point (``gui.app.main``) in a child
process (it sets application-wide Qt state); a timer there reads the dialog that
appears, closes it, and prints what it showed.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from service.store_schema import SCHEMA_VERSION

CONSOLE = """
import json, sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox
from gui import app as console

qt = QApplication([sys.argv[0]])
seen = {}

def look() -> None:
    box = QApplication.activeModalWidget()
    if isinstance(box, QMessageBox):
        seen.update(name=box.objectName(), text=box.text(), format=box.textFormat().name)
        box.done(0)
    else:
        QTimer.singleShot(20, look)

QTimer.singleShot(0, look)
code = console.main(sys.argv[1:])
print(json.dumps({"exit": code, **seen}))
"""


def _console(data_dir: Path, tmp_path: Path) -> tuple[dict[str, object], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHANNELDESK_")}
    env.update(
        QT_QPA_PLATFORM="offscreen",
        CHANNELDESK_CONFIG=str(tmp_path / "no-profiles.toml"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),  # the console's own settings
    )
    done = subprocess.run(
        [sys.executable, "-c", CONSOLE, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert "Traceback" not in done.stderr, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def test_a_store_that_is_not_a_database_shows_a_dialog(tmp_path: Path) -> None:
    store = tmp_path / "data" / "profiles" / "sandbox.sqlite3"
    store.parent.mkdir(parents=True)
    store.write_text("<b>not</b> a database\n")

    shown, stderr = _console(tmp_path / "data", tmp_path)

    assert shown["exit"] == 1
    assert shown["name"] == "store-error-dialog"
    assert shown["format"] == "PlainText"
    assert shown["text"] == (
        "Cannot open the local store of profile 'sandbox'.\n\n"
        f"local store {store}: not a SQLite database; move it out of the way (a new store "
        "is then created) or pass another --data-dir; the file was left as it is"
    )
    assert stderr.splitlines()[-1].startswith("error: Cannot open the local store of profile")
    assert store.read_text() == "<b>not</b> a database\n"


def test_a_newer_store_shows_a_dialog_and_stays_as_it_is(tmp_path: Path) -> None:
    store = tmp_path / "data" / "profiles" / "sandbox.sqlite3"
    store.parent.mkdir(parents=True)
    with sqlite3.connect(store) as conn:
        conn.execute("CREATE TABLE later (x)")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = store.read_bytes()

    shown, _stderr = _console(tmp_path / "data", tmp_path)

    assert shown["exit"] == 1
    assert shown["name"] == "store-error-dialog"
    assert "written by a newer ChannelDesk" in str(shown["text"])
    assert store.read_bytes() == before


def test_a_data_dir_that_is_a_file_shows_a_dialog_and_exits_2(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "notes.txt"
    not_a_dir.write_text("mine\n")

    shown, _stderr = _console(not_a_dir, tmp_path)

    assert shown["exit"] == 2
    assert shown["name"] == "store-error-dialog"
    assert f"data directory {not_a_dir}: a file, not a directory" in str(shown["text"])
    assert not_a_dir.read_text() == "mine\n"
