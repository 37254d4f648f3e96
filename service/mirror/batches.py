"""Batch requests another deployment opened: new ones by id, open ones read again.

- New: ``sort=-id`` from the newest down to the watermark (only ``sort`` and paging
  are relied on; a server ignoring ``sort`` is read to the end).
- Changed: batches mirrored while not final are asked for again. When the mirror knows
  a modification date, one listing of the batches modified since then
  (``modified_date__gte``, inferred) answers for all of them; every row's date is
  checked, and a row that shows the filter ignored sends the rest to the declared
  detail route, one ``GET batch_requests/{id}/`` each.

A batch of this store's runs is recognised by its pk or its ``local_batch_id`` and left
alone (:meth:`Store.mirror_batch`).
"""

from __future__ import annotations

import logging
from datetime import datetime

from service.flows.context import CancelToken
from service.mirror.counts import KindCounts
from service.mirror.watermarks import BATCHES, read_id, read_since, write_id, write_modified
from service.omnitron.client import OmnitronClient, omnitron_time
from service.omnitron.errors import OmnitronNotFound
from service.omnitron.filtered import OmnitronFilterIgnored
from service.omnitron.models.batch import BatchRequest
from service.store import BatchMirror, Store

log = logging.getLogger(__name__)

FIRST_SYNC_ROWS = 1000  # batch requests the first sync reads (the newest)


class _Latest:
    """The latest modification date among the batches read."""

    def __init__(self) -> None:
        self.moment: datetime | None = None

    def see(self, batch: BatchRequest) -> None:
        """Take ``batch``'s modification date into account."""
        moment = omnitron_time(batch.modified_date)
        if moment is not None and (self.moment is None or moment > self.moment):
            self.moment = moment


def _remote(batch: BatchRequest) -> BatchMirror:
    return BatchMirror.from_omnitron(batch).model_copy(update={"origin": "remote"})


def _stopped(cancel: CancelToken | None) -> bool:
    return cancel is not None and cancel.cancelled


def mirror_batches(
    omnitron: OmnitronClient, store: Store, *, cancel: CancelToken | None = None
) -> tuple[KindCounts, bool]:
    """Mirror new and changed batch requests; the counts and whether it finished.

    A cancelled sync keeps what it stored and leaves the watermarks where they were,
    so the next one reads the same rows again (storing them again changes nothing).
    """
    counts = KindCounts()
    latest = _Latest()
    watermark = read_id(store, BATCHES)
    top = watermark
    seen: set[int] = set()
    newest = None if watermark else FIRST_SYNC_ROWS
    for batch in omnitron.batch_requests_above(watermark, newest=newest):
        if _stopped(cancel):
            return counts, False
        counts.add(store.mirror_batch(_remote(batch)))
        latest.see(batch)
        seen.add(batch.pk)
        top = max(top, batch.pk)
    pending = {mirror.pk for mirror in store.open_remote_batches() if mirror.pk not in seen}
    since = read_since(store)
    if pending and since is not None:
        try:
            for batch in omnitron.batch_requests_modified_since(since):
                if _stopped(cancel):
                    return counts, False
                latest.see(batch)
                if batch.pk in pending:
                    counts.add(store.mirror_batch(_remote(batch)))
                    pending.discard(batch.pk)
            pending.clear()  # every date was checked: the others did not change
        except OmnitronFilterIgnored as exc:
            log.info("%s; reading the %d open mirrored batches one by one", exc, len(pending))
    for pk in sorted(pending):
        if _stopped(cancel):
            return counts, False
        try:
            batch = omnitron.get_batch_request(pk)
        except OmnitronNotFound:
            continue  # gone from Omnitron: the mirror keeps what it last saw
        latest.see(batch)
        counts.add(store.mirror_batch(_remote(batch)))
    write_id(store, BATCHES, top)
    if latest.moment is not None:
        write_modified(store, latest.moment)
    return counts, True
