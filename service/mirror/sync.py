"""One sync from Omnitron: batch requests, then error reports, with one-line summary."""

from __future__ import annotations

from dataclasses import dataclass

from service.flows.context import CancelToken
from service.mirror.batches import mirror_batches
from service.mirror.counts import KindCounts
from service.mirror.reports import mirror_reports
from service.omnitron.client import OmnitronClient
from service.store import Store


@dataclass(frozen=True)
class MirrorResult:
    """What a sync added and updated; ``cancelled`` when it stopped early."""

    batches_new: int = 0
    batches_updated: int = 0
    reports_new: int = 0
    cancelled: bool = False

    @property
    def changed(self) -> bool:
        """Whether the sync stored anything."""
        return bool(self.batches_new or self.batches_updated or self.reports_new)

    @property
    def summary(self) -> str:
        """The sync in one line, e.g. ``Synced from Omnitron: 2 new batch requests, …``."""
        if not self.changed:
            head = "Nothing new from Omnitron"
        else:
            parts = [
                _count(self.batches_new, "new batch request"),
                _count(self.batches_updated, "updated batch request"),
                _count(self.reports_new, "new error report"),
            ]
            head = "Synced from Omnitron: " + ", ".join(part for part in parts if part)
        return head + (" (cancelled; the next sync goes on)." if self.cancelled else ".")

    def to_json(self) -> dict[str, object]:
        """The counts and the summary, for ``main.py mirror --json``."""
        return {
            "batches_new": self.batches_new,
            "batches_updated": self.batches_updated,
            "reports_new": self.reports_new,
            "cancelled": self.cancelled,
            "summary": self.summary,
        }


def _count(number: int, noun: str) -> str:
    if not number:
        return ""
    return f"{number:,} {noun}" + ("" if number == 1 else "s")


def sync_from_omnitron(
    omnitron: OmnitronClient, store: Store, *, cancel: CancelToken | None = None
) -> MirrorResult:
    """Mirror what other deployments wrote to Omnitron since the last sync into ``store``.

    Batch requests and error reports are kept with ``origin = 'remote'``; rows this
    store's runs wrote are recognised and left alone. A second sync with nothing new
    in Omnitron stores nothing. Omnitron errors are raised (the store keeps what was
    stored before them; the next sync goes on from the same watermarks).
    """
    batches, finished = mirror_batches(omnitron, store, cancel=cancel)
    reports = KindCounts()
    if finished:
        reports, finished = mirror_reports(omnitron, store, cancel=cancel)
    return MirrorResult(
        batches_new=batches.new,
        batches_updated=batches.updated,
        reports_new=reports.new,
        cancelled=not finished,
    )
