"""``python main.py [--profile NAME] [--data-dir DIR] [--config FILE]``: the console.

The console holds every profile (the built-in sandbox and those of the profiles
file) and shows one: ``--profile``, else the one shown last. The window shows at
once; each profile's connection (for the sandbox: both simulators) opens in the
background and its flows become runnable when it is ready.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from gui.main_window import MainWindow
from gui.profiles_hub import ProfilesHub
from gui.qt_libs import describe_missing, missing_xcb_packages
from gui.theme import apply_theme
from gui.views.settings_dialog import THEME_KEY
from gui.widgets.plain_text import plain_message_box
from service.config import SANDBOX, ProfileError, load_profile, load_profiles
from service.connect import ENV_CONFIG, ENV_DATA_DIR, Locations
from service.store_errors import private_umask

APP_NAME = "ChannelDesk"
ORGANIZATION = "ChannelDesk"
EXIT_USAGE = 2
EXIT_SYSTEM = 1


def build_parser() -> argparse.ArgumentParser:
    """The console's own options (Qt's options such as ``-platform`` pass through)."""
    parser = argparse.ArgumentParser(
        prog="main.py",
        description="ChannelDesk console. Commands (run, runs, batches, errors, sandbox) "
        "work headless: see `main.py COMMAND --help`.",
    )
    parser.add_argument(
        "--profile",
        metavar="NAME",
        help=f"profile shown first (default: the one shown last, else {SANDBOX}); "
        "every profile is open",
    )
    parser.add_argument(
        "--data-dir",
        dest="data_root",
        type=Path,
        metavar="DIR",
        help=f"local stores and sandbox state (env {ENV_DATA_DIR})",
    )
    parser.add_argument(
        "--config",
        dest="config_file",
        type=Path,
        metavar="FILE",
        help=f"profiles file (env {ENV_CONFIG})",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log to stderr")
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Start the console; returns the process exit code."""
    args, qt_args = build_parser().parse_known_args(argv)
    logging.basicConfig(
        level=logging.DEBUG
        if args.verbose > 1
        else logging.INFO
        if args.verbose
        else logging.WARNING,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    env = os.environ if environ is None else environ
    locations = Locations.resolve(args.data_root, args.config_file, env)

    if QApplication.instance() is None:
        # Qt aborts with a misleading message when the xcb plugin lacks a library.
        missing = missing_xcb_packages(env)
        if missing:
            print("error: " + describe_missing(missing), file=sys.stderr, flush=True)
            return EXIT_SYSTEM
    app = QApplication.instance() or QApplication([sys.argv[0], *qt_args])
    assert isinstance(app, QApplication)
    configure_application(app)
    settings = QSettings()
    apply_theme(app, str(settings.value(THEME_KEY, "system")))

    try:
        if args.profile is not None:  # says clearly when the profile asked for is unknown
            load_profile(args.profile, path=locations.config_file)
        profiles = load_profiles(locations.config_file)
    except ProfileError as exc:
        _refuse("profile-error-dialog", f"Cannot open the profile:\n\n{exc}")
        return EXIT_USAGE

    # Stores and simulator state made while the console runs are this user's only.
    with private_umask():
        hub = ProfilesHub.open(profiles.values(), locations)
        shown = args.profile
        wanted = [hub.entry(shown)] if shown is not None else hub.entries
        if all(entry.session is None for entry in wanted):
            # Nothing to show (the profile asked for, or every one): say why, as before.
            entry = wanted[0]
            _refuse(
                "store-error-dialog",
                f"Cannot open the local store of profile {entry.name!r}.\n\n{entry.error}",
            )
            hub.close()
            return entry.exit_code
        window = MainWindow(hub, settings, profile=shown)
        window.session.ready.connect(freeze_long_lived)
        window.show()
        # Connect once the event loop runs, so the window paints first.
        QTimer.singleShot(0, lambda: hub.start(first=window.profile_name))
        return app.exec()


def freeze_long_lived() -> None:
    """Leave what the console keeps for its whole life out of later collections.

    Collection is automatic and runs on whichever thread allocates; a full collection
    holds the GIL for as long as it walks every tracked object — with the window, the
    clients and their schemas built, over 50 ms, a stall of the GUI thread. Once the
    connection is ready those objects are collected once and then frozen
    (:func:`gc.freeze`), so a full collection walks only what runs made since.
    """
    gc.collect()
    gc.freeze()


def configure_application(app: QApplication) -> None:
    """Name the application (settings paths) without a display name: Qt would add it
    to every window title ("ChannelDesk — sandbox — ChannelDesk")."""
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORGANIZATION)


def _refuse(name: str, text: str) -> None:
    """Say why the console cannot start: a dialog, and the same words on stderr."""
    plain_message_box(None, QMessageBox.Icon.Critical, "ChannelDesk", text, name=name).exec()
    print("error: " + " ".join(text.split()), file=sys.stderr, flush=True)
