"""Sync a profile's store from Omnitron: on request and on the profile's own timer.

:class:`MirrorSync` runs :func:`service.mirror.sync.sync_from_omnitron` on a worker
thread (its own :class:`~gui.tasks.TaskRunner`, never the GUI thread) over the
session's open connection, one sync at a time. The Batches and Error reports views
offer "Sync from Omnitron" (:func:`sync_button`), which emits their
``sync_requested``; the window connects that to :meth:`MirrorSync.sync_now`.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QPushButton, QWidget

from gui.session import ConsoleSession
from gui.tasks import TaskRunner
from service.flows.context import CancelToken
from service.mirror.sync import MirrorResult, sync_from_omnitron

SYNC_SHORTCUT = "Ctrl+Shift+S"
CLOSE_WAIT_MS = 5_000  # how long close() lets a cancelled sync reach its next row
SYNC_TOOLTIP = (
    "Read the batch requests and error reports other deployments wrote to Omnitron "
    f"since the last sync; they show as remote ({SYNC_SHORTCUT})"
)


class MirrorSync(QObject):
    """Syncs one profile's store from Omnitron in the background."""

    started = Signal()
    """A sync began."""
    finished = Signal(str)
    """A sync ended: its one-line summary."""
    failed = Signal(str)
    """A sync could not run or stopped on an error: why, in one line."""

    def __init__(self, session: ConsoleSession, parent: QObject | None = None) -> None:
        """A sync of ``session``'s profile; its timer waits for :meth:`start`."""
        super().__init__(parent)
        self._session = session
        self._runner = TaskRunner(max_threads=1, parent=self, name="mirror")
        self._cancel: CancelToken | None = None
        self.last_result: MirrorResult | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(max(1, session.profile.mirror_minutes) * 60_000)
        self._timer.timeout.connect(self._scheduled)

    @property
    def running(self) -> bool:
        """Whether a sync is under way."""
        return self._cancel is not None

    @property
    def scheduled(self) -> bool:
        """Whether the timer syncs every ``profile.mirror_minutes`` minutes."""
        return self._timer.isActive()

    def start(self) -> None:
        """Sync every ``profile.mirror_minutes`` minutes (0: only when asked)."""
        if self._session.profile.mirror_minutes > 0:
            self._timer.start()

    def stop(self) -> None:
        """Stop the timer and ask a running sync to stop at its next row."""
        self._timer.stop()
        if self._cancel is not None:
            self._cancel.cancel()

    def close(self) -> None:
        """Stop, wait a bounded time for a running sync to stop at its next row (before the
        session closes the connection under it), and let the worker thread end; nothing
        is delivered afterwards."""
        self.stop()
        self._runner.wait(CLOSE_WAIT_MS)
        self._runner.close()

    def sync_now(self) -> bool:
        """Start a sync; ``False`` (and :attr:`failed` says why) when it cannot start.

        A sync already under way is not started twice: ``False`` without a signal.
        """
        if self._cancel is not None:
            return False
        connection = self._session.connection
        if connection is None:
            self.failed.emit(
                f"Cannot sync {self._session.profile.name} from Omnitron: not connected yet."
            )
            return False
        cancel = self._cancel = CancelToken()
        self.started.emit()
        self._runner.submit(
            lambda: sync_from_omnitron(connection.omnitron, connection.store, cancel=cancel),
            on_done=self._done,
            on_failed=self._failed,
        )
        return True

    def _scheduled(self) -> None:
        # A tick while disconnected or still syncing waits for the next one, silently.
        if self._session.connection is not None and self._cancel is None:
            self.sync_now()

    def _done(self, result: MirrorResult) -> None:
        self._cancel = None
        self.last_result = result
        self.finished.emit(result.summary)

    def _failed(self, message: str) -> None:
        self._cancel = None
        self.failed.emit(f"Sync from Omnitron failed: {message}")


def sync_button(view: QWidget, name: str, request: Callable[[], object]) -> QPushButton:
    """The "Sync from Omnitron" button of a data view, with its shortcut (in the view)."""
    button = QPushButton("Sync from Omnitron", view)
    button.setObjectName(f"{name}-sync")
    button.setToolTip(SYNC_TOOLTIP)
    button.clicked.connect(request)
    shortcut = QShortcut(QKeySequence(SYNC_SHORTCUT), view)
    shortcut.setObjectName(f"{name}-sync-shortcut")
    shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
    shortcut.activated.connect(request)
    return button
