"""Screenshots of the console for the README: ``python -m tests.screenshots OUTDIR``.

Opens the real :class:`~gui.main_window.MainWindow` over three profiles (data,
profiles and settings in a temporary directory): the built-in sandbox, shown; a
second channel on simulators of its own, served here; and an example profile whose
secrets nobody gave, so it fails. It runs fetch-orders, an asynchronous update-orders
and check-batches on the sandbox and fetch-orders on the second channel so the views
have something to show, then saves the Overview, each tab and the Settings dialog as
``OUTDIR/<view>.png`` at 1280×800. Needs a display; on a headless machine run it
under ``xvfb-run -a`` (``make screenshots``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from PySide6.QtCore import QEventLoop, QSettings, QTimer
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QListWidget, QRadioButton, QTableView, QWidget

from gui.main_window import MainWindow
from gui.profiles_hub import ProfilesHub
from gui.session import ConsoleSession
from gui.theme import apply_theme
from gui.views.mapping_dialog import MappingDialog
from gui.views.settings_dialog import SettingsDialog
from gui.workers import SessionState
from service.config import (
    ChannelProfile,
    OmnitronProfile,
    Profile,
    load_profiles,
    save_profile,
    secret_env_var,
)
from service.connect import Locations
from service.flows.names import Flow
from service.sandbox.launcher import Sandbox, SandboxOptions

WINDOW_SIZE = (1280, 800)
SECOND_CHANNEL = "bazaar"
DIALOG_SIZE = (900, 600)
TIMEOUT_S = 120.0
MAX_PNG_BYTES = 150 * 1024
PREPARING_AFTER_S = 31 * 60  # the Omnitron simulator moves approved orders on after 30 min
# (file name, tab key) of the window's tabs worth a picture.
TAB_SHOTS: tuple[tuple[str, str], ...] = (
    ("overview", "overview"),
    ("problems", "problems"),
    ("fetch-orders", "fetch-orders"),
    ("update-orders", "update-orders"),
    ("check-batches", "check-batches"),
    ("batches", "batches"),
    ("errors", "errors"),
    ("runs", "runs"),
    ("parked", "parked"),
)


def wait_until(predicate: Callable[[], bool], timeout_s: float = TIMEOUT_S) -> None:
    """Run the event loop until ``predicate()`` holds; ``TimeoutError`` after ``timeout_s``."""
    loop = QEventLoop()
    poll = QTimer()
    poll.setInterval(50)
    poll.timeout.connect(lambda: loop.quit() if predicate() else None)
    deadline = QTimer()
    deadline.setSingleShot(True)
    deadline.timeout.connect(loop.quit)
    if predicate():
        return
    poll.start()
    deadline.start(int(timeout_s * 1000))
    loop.exec()
    poll.stop()
    if not predicate():
        raise TimeoutError(f"waited {timeout_s:.0f}s in vain")


def settle(ms: int = 300) -> None:
    """Let the event loop run ``ms`` milliseconds (refreshes, repaints)."""
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def run(window: MainWindow, flow: Flow) -> Any:
    """Start ``flow`` of the profile shown and wait for its result."""
    return run_on(window, window.profile_name, flow)


def run_on(window: MainWindow, profile: str, flow: Flow) -> Any:
    """Start ``flow`` of ``profile`` (shown or not) and wait for its result."""
    workspace = window.workspace_of(profile)
    wait_until(lambda: workspace.session.state is not SessionState.STARTING)
    results: list[Any] = []

    def finished(done: Flow, result: Any) -> None:
        if done is flow:
            results.append(result)

    workspace.lanes.finished.connect(finished)
    try:
        reason = workspace.run_flow(flow)
        if reason is not None:
            raise RuntimeError(reason)
        wait_until(lambda: bool(results))
    finally:
        workspace.lanes.finished.disconnect(finished)
    return results[0]


def posterize(image: QImage, bits: int) -> QImage:
    """``image`` (RGB32) with ``bits`` bits per channel, each value stretched to 0–255."""
    shift = 8 - bits
    levels = (1 << bits) - 1
    table = bytes(round((value >> shift) * 255 / levels) for value in range(256))
    data = bytes(image.constBits()).translate(table)
    result = QImage(data, image.width(), image.height(), image.bytesPerLine(), image.format())
    return result.copy()  # own the pixels: ``data`` is a temporary


def save(widget: QWidget, path: Path) -> None:
    """Grab ``widget`` into ``path`` as a PNG under 150 KB where fewer colour bits do it."""
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    # Fewer bits per channel keep every hue (unlike a 256-colour palette) and let PNG
    # compress the anti-aliased text far better.
    for bits in (8, 5, 4, 3):
        candidate = image if bits == 8 else posterize(image, bits)
        candidate.save(str(path), "PNG", 9)
        if path.stat().st_size <= MAX_PNG_BYTES:
            break
    print(f"{path} ({path.stat().st_size // 1024} KB)")


def select_first_row(view: QWidget, table_name: str, prefer: Callable[[str], bool]) -> None:
    """Select the first row of ``table_name`` whose text matches ``prefer`` (else row 0)."""
    table = view.findChild(QTableView, table_name)
    if table is None or table.model() is None or table.model().rowCount() == 0:
        return
    model = table.model()
    for row in range(model.rowCount()):
        texts = " ".join(
            str(model.index(row, column).data() or "") for column in range(model.columnCount())
        )
        if prefer(texts):
            table.selectRow(row)
            return
    table.selectRow(0)


def add_example_profile(locations: Locations) -> None:
    """A real-looking profile next to the sandbox, so the Settings list shows both."""
    save_profile(
        Profile(
            name="acme",
            omnitron=OmnitronProfile(
                url="https://acme.omnitron.example/",
                username="channel-integration",
                channel_id=7,
                catalog_id=2,
            ),
            channel=ChannelProfile(
                adapter="marketplace", settings={"base_url": "https://api.marketplace.example/"}
            ),
        ),
        path=locations.config_file,
    )


def add_second_channel(locations: Locations, root: Path) -> Sandbox:
    """A second channel on simulators of its own (served until stopped), as a profile."""
    sims = Sandbox(SandboxOptions(orders=9, seed=11, data_dir=root / "bazaar-sims")).start()
    omnitron = sims.omnitron.config
    save_profile(
        Profile(
            name=SECOND_CHANNEL,
            omnitron=OmnitronProfile(
                url=sims.omnitron_url,
                username=omnitron.username,
                channel_id=omnitron.channel_id,
                catalog_id=omnitron.catalog_id,
            ),
            channel=ChannelProfile(adapter="marketplace", settings={"base_url": sims.channel_url}),
        ),
        path=locations.config_file,
    )
    # Its secrets come from the environment, as on a server.
    os.environ[secret_env_var(SECOND_CHANNEL, "omnitron")] = omnitron.password
    os.environ[secret_env_var(SECOND_CHANNEL, "channel")] = sims.marketplace.config.api_key
    return sims


def take(outdir: Path, theme: str) -> None:
    """Run the sandbox flows in a fresh console and save the screenshots into ``outdir``."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    apply_theme(app, theme)
    with tempfile.TemporaryDirectory(prefix="channeldesk-shots-") as tmp:
        root = Path(tmp)
        locations = Locations(root / "data", root / "profiles.toml")
        add_example_profile(locations)  # first, so Settings' second row is the example
        second = add_second_channel(locations, root)
        settings = QSettings(str(root / "console.ini"), QSettings.Format.IniFormat)
        settings.setValue("ui/theme", theme)
        hub = ProfilesHub.open(
            load_profiles(locations.config_file).values(),
            locations,
            sandbox_options=SandboxOptions(orders=14, seed=7),
        )
        window = MainWindow(hub, settings, profile="sandbox")
        window.resize(*WINDOW_SIZE)
        window.show()
        hub.start()
        session = window.session
        try:
            wait_until(lambda: session.state is not SessionState.STARTING)
            if session.state is not SessionState.READY:
                raise RuntimeError(f"the sandbox did not open: {session.error}")
            fill_views(window, session)
            run_on(window, SECOND_CHANNEL, Flow.FETCH_ORDERS)
            # Schedules of both channels, so the Overview says when each runs next.
            window.workspace_of("sandbox").scheduler.set_schedule(Flow.CHECK_BATCHES, 15, True)
            window.workspace_of(SECOND_CHANNEL).scheduler.set_schedule(Flow.FETCH_ORDERS, 5, True)
            window.refresh_overview()
            shoot(window, outdir, locations, settings)
        finally:
            window.close()
            hub.close()
            window.deleteLater()
            settle(100)
            second.stop()


def fill_views(window: MainWindow, session: ConsoleSession) -> None:
    """Fetch orders (some broken), send updates asynchronously and check the batch."""
    urls = session.sandbox_urls
    assert urls is not None
    with (
        httpx.Client(base_url=urls[0] + "_sandbox/", timeout=10) as omnitron,
        httpx.Client(base_url=urls[1] + "_sandbox/", timeout=10) as marketplace,
    ):
        marketplace.post("orders/generate", json={"count": 3, "broken_share": 1.0})
        marketplace.patch(
            "behaviour", json={"update_failure_share": 0.2, "batch_failure_share": 0}
        ).raise_for_status()
        run(window, Flow.FETCH_ORDERS)
        omnitron.post("clock/advance", json={"seconds": PREPARING_AFTER_S}).raise_for_status()
        tab_index(window, "update-orders", select=True)
        async_button = window.findChild(QRadioButton, "async-update-orders")
        if async_button is not None:
            async_button.setChecked(True)
        run(window, Flow.UPDATE_ORDERS)
        run(window, Flow.CHECK_BATCHES)
        marketplace.post("clock/advance", json={"seconds": 60}).raise_for_status()
        run(window, Flow.CHECK_BATCHES)
    window.refresh_views()


def tab_index(window: MainWindow, key: str, *, select: bool = False) -> int:
    """The index of the tab ``key`` (made current when ``select``)."""
    index = window._tab_keys.index(key)
    if select:
        window.tabs.setCurrentIndex(index)
    return index


def shoot(window: MainWindow, outdir: Path, locations: Locations, settings: QSettings) -> None:
    """Save every tab, then the Settings dialog."""
    for file_name, key in TAB_SHOTS:
        tab_index(window, key, select=True)
        settle(400)
        if key == "overview":
            # The health checks answer in the background; the rows wait for them.
            wait_until(lambda: "OK" in window.overview_model.text(SECOND_CHANNEL, "channel"))
            # The failed profile selected: the detail line shows its whole error.
            window.overview_view.select_profile("acme")
        elif key == "problems":
            select_first_row(window.problems_view, "problems-table", lambda t: "city" in t.lower())
        elif key == "batches":
            select_first_row(window.batches_view, "batches-table", lambda t: "done" in t)
        elif key == "errors":
            select_first_row(window.errors_view, "errors-table", lambda t: "city" in t.lower())
        settle(300)
        save(window, outdir / f"{file_name}.png")

    shoot_mapping(window, outdir)
    dialog = SettingsDialog(locations, settings, window)
    dialog.resize(*DIALOG_SIZE)
    dialog.show()
    dialog.test_connection("omnitron")
    wait_until(lambda: not dialog.testing())
    settle(200)
    save(dialog, outdir / "settings-sandbox.png")
    dialog.profile_list.setCurrentRow(1)  # the example profile, to show the form
    settle(200)
    save(dialog, outdir / "settings.png")
    dialog.close()
    dialog.deleteLater()


def shoot_mapping(window: MainWindow, outdir: Path) -> None:
    """The mapping assistant for the unknown city the broken orders carry."""
    problems = window.session.store.open_problems()
    city = next((p for p in problems if p.cause == "unknown_city"), None)
    if city is None:
        return
    dialog = MappingDialog(window.session, city, window)
    dialog.resize(*DIALOG_SIZE)
    dialog.show()
    candidates = dialog.findChild(QListWidget, "mapping-candidates")
    wait_until(lambda: candidates is not None and candidates.count() > 0)
    settle(200)
    save(dialog, outdir / "mapping.png")
    dialog.close()
    dialog.deleteLater()


def main(argv: list[str] | None = None) -> int:
    """Take the screenshots into OUTDIR (created when missing)."""
    parser = argparse.ArgumentParser(prog="python -m tests.screenshots", description=__doc__)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--theme", choices=("light", "dark"), default="light")
    args = parser.parse_args(argv)
    args.outdir.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    assert isinstance(app, QApplication)
    app.setApplicationName("ChannelDesk")
    take(args.outdir, args.theme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
