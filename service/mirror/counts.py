"""What one sync did to one kind of row."""

from __future__ import annotations

from dataclasses import dataclass

from service.store import MirrorChange


@dataclass
class KindCounts:
    """Rows of one kind a sync added and updated (``same`` and ``ours`` count nowhere)."""

    new: int = 0
    updated: int = 0

    def add(self, change: MirrorChange) -> None:
        """Count what :meth:`Store.mirror_batch` or :meth:`Store.mirror_report` did."""
        if change == "new":
            self.new += 1
        elif change == "updated":
            self.updated += 1
