"""What the command line prints: aligned tables, JSON, a progress bar, log lines."""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

from service.flows.context import Progress
from service.flows.reporting import outbox_sentence
from service.flows.result import FlowResult
from service.store import OutboxCounts

# -- JSON ----------------------------------------------------------------------------


def dump_json(value: Any, stream: TextIO) -> None:
    """Write ``value`` as one JSON document (indented, UTF-8 text kept as is)."""
    stream.write(json.dumps(value, ensure_ascii=False, indent=2, default=str))
    stream.write("\n")
    stream.flush()


def result_json(result: FlowResult, profile: str) -> dict[str, Any]:
    """The ``run --json`` object: what the run did, its batches and how it ended."""
    return {
        "flow": result.flow.value,
        "profile": profile,
        "run_id": result.run_id,
        # completed, completed_with_failures, failed, cancelled or interrupted.
        "outcome": result.outcome_key,
        "message": result.message,
        "counts": {
            "created": result.created,
            "updated": result.updated,
            "skipped": result.skipped,
            "failed": result.failed,
            "waiting": result.waiting,
        },
        "batches": [batch.model_dump(mode="json") for batch in result.batches],
        "error_reports": result.error_count,
        "duration_s": result.duration_s,
    }


def result_text(result: FlowResult, profile: str, outbox: OutboxCounts | None = None) -> list[str]:
    """A run's outcome in a few lines for people (with the outbox, when it holds reports)."""
    waiting = f", {result.waiting} still waiting" if result.waiting else ""
    lines = [
        f"{result.flow.value} {result.outcome_label} in {result.duration_s:.1f}s "
        f"(run {result.run_id}, profile {profile})",
        f"  {result.created} created, {result.updated} updated, {result.skipped} skipped, "
        f"{result.failed} failed{waiting}; {result.error_count} error reports",
    ]
    for batch in result.batches:
        failed = f", {batch.failed_objects} failed" if batch.failed_objects else ""
        lines.append(
            f"  batch request {batch.pk} ({batch.local_batch_id}): {batch.status}, "
            f"{batch.objects} objects{failed}"
        )
    if result.message:
        lines.append(f"  {result.message}")
    if outbox is not None and (outbox.waiting or outbox.refused):
        lines.append(f"  {outbox_sentence(outbox)}")
    return lines


# -- tables --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Column:
    """One table column: its header, how to get the cell from a row, how to align it."""

    header: str
    cell: Callable[[Any], Any]
    right: bool = False
    max_width: int | None = None


def format_cell(value: Any) -> str:
    """Plain text for a table cell: local times to the second, ``None`` as blank."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return f"{value:.1f}"
    # Tables are one line per row: fold line breaks in messages.
    return " ".join(str(value).split())


def render_table(columns: Sequence[Column], rows: Iterable[Any]) -> str:
    """An aligned plain-text table with a header line; long cells are cut with ``…``."""
    cells = [[_clip(format_cell(col.cell(row)), col.max_width) for col in columns] for row in rows]
    widths = [
        max([len(col.header), *(len(line[i]) for line in cells)]) for i, col in enumerate(columns)
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            value.rjust(width) if col.right else value.ljust(width)
            for col, value, width in zip(columns, values, widths, strict=True)
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line([col.header for col in columns]), *(line(row) for row in cells)])


def _clip(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


# -- progress ------------------------------------------------------------------------


class ProgressBar:
    """A one-line progress bar redrawn in place on a terminal.

    Progress arrives from worker threads: drawing is under a lock and throttled.
    :meth:`write_line` prints a line above the bar (log lines go through it).
    """

    MIN_INTERVAL = 0.1

    def __init__(self, stream: TextIO, label: str) -> None:
        """Draw on ``stream`` (a terminal), each line starting with ``label``."""
        self._stream = stream
        self._label = label
        self._lock = threading.Lock()
        self._progress = Progress(0, None)
        self._drawn = False
        self._last = 0.0
        self._closed = False

    def update(self, progress: Progress) -> None:
        """Show ``progress`` (at most every :attr:`MIN_INTERVAL` seconds, or when done)."""
        with self._lock:
            self._progress = progress
            now = time.monotonic()
            finished = progress.total is not None and progress.done >= progress.total
            if self._closed or (now - self._last < self.MIN_INTERVAL and not finished):
                return
            self._last = now
            self._draw()

    def write_line(self, text: str) -> None:
        """Print ``text`` on its own line, then redraw the bar below it."""
        with self._lock:
            self._clear()
            self._stream.write(text + "\n")
            if not self._closed:
                self._draw()
            self._stream.flush()

    def close(self) -> None:
        """Remove the bar from the terminal."""
        with self._lock:
            self._clear()
            self._closed = True
            self._stream.flush()

    def _draw(self) -> None:
        columns = shutil.get_terminal_size((80, 24)).columns
        self._stream.write("\r" + self._render(columns - 1) + "\x1b[K")
        self._stream.flush()
        self._drawn = True

    def _clear(self) -> None:
        if self._drawn:
            self._stream.write("\r\x1b[K")
            self._drawn = False

    def _render(self, columns: int) -> str:
        p = self._progress
        if p.total:
            done = min(p.done, p.total)
            width = max(10, min(40, columns // 3))
            filled = width * done // p.total
            bar = "[" + "#" * filled + "-" * (width - filled) + "]"
            text = f"{self._label} {bar} {done}/{p.total}"
            if p.current:
                text += f"  {p.current}"
        else:
            # The total is unknown (a stream): as the console says it.
            text = f"{self._label} {p.done} processed"
            if p.current:
                text += f" · current: {p.current}"
        return text[:columns]


class BarAwareHandler(logging.StreamHandler):
    """A stderr log handler that prints above a live :class:`ProgressBar`."""

    def __init__(self, stream: TextIO) -> None:
        """Log to ``stream``."""
        super().__init__(stream)
        self.bar: ProgressBar | None = None

    def emit(self, record: logging.LogRecord) -> None:
        """Write the record, keeping the progress bar (if any) on the last line."""
        bar = self.bar
        if bar is None:
            super().emit(record)
            return
        try:
            bar.write_line(self.format(record))
        except Exception:
            self.handleError(record)
