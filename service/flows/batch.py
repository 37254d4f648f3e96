"""A run's batch requests, always brought to an end.

A :class:`BatchSession` opens a batch request of a content type, declares objects on
it (``commit``, repeatable), and finishes it ``done`` or ``fail``. Whatever happens in
the flow, the runner calls :meth:`BatchSession.close`, so no batch is left
``initialized`` or ``commit`` (docs/omnitron-api.md §6.2, §6.4). Async flows leave a batch
``sent_to_remote`` on purpose; check-batches finishes it later.

Every status the session sees is mirrored to the local store, which appends one
``batch_events`` row per transition. A run's own batch is a :class:`LazyBatch`:
created on first need, so a run with nothing to do leaves no batch behind. Flows that
only declare objects commit through a :class:`RollingBatch`, which goes on in a new
batch request once one is full, so no answer grows with the run (§7).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from service.flows.context import RunContext
from service.flows.names import Flow
from service.flows.result import BatchOutcome
from service.omnitron.client import OmnitronClient, new_local_batch_id
from service.omnitron.models.batch import (
    BatchObject,
    BatchRequest,
    BatchRequestHead,
    BatchStatus,
    FailedReasonType,
)
from service.store import BatchMirror, Store

ObjectKey = tuple[str, int]


def mirror_of(
    batch: BatchRequestHead,
    *,
    flow: Flow | None,
    run_id: int | None,
    objects: Iterable[BatchObject] | None = None,
) -> BatchMirror:
    """The store's record of an Omnitron batch request (``objects``: its own, if full)."""
    if objects is None:
        objects = batch.objects if isinstance(batch, BatchRequest) else ()
    return BatchMirror(
        pk=batch.pk,
        local_batch_id=batch.local_batch_id,
        remote_batch_id=batch.remote_batch_id,
        content_type=batch.content_type,
        status=batch.status.value,
        objects=[obj.to_json() for obj in objects],
        flow=None if flow is None else flow.value,
        run_id=run_id,
    )


def outcome_of(
    batch: BatchRequestHead, objects: Sequence[BatchObject] | None = None
) -> BatchOutcome:
    """The summary of a batch a run reports (``objects``: its own, if full)."""
    if objects is None:
        objects = batch.objects if isinstance(batch, BatchRequest) else ()
    return BatchOutcome(
        pk=batch.pk,
        local_batch_id=batch.local_batch_id,
        status=batch.status.value,
        content_type=batch.content_type,
        remote_batch_id=batch.remote_batch_id,
        objects=len(objects),
        failed_objects=sum(1 for obj in objects if obj.failed_reason_type is not None),
    )


class Batch(Protocol):
    """What a flow does with its batch request: a :class:`BatchSession`, or this run's
    :class:`LazyBatch` that becomes one on first need."""

    @property
    def batch(self) -> BatchRequestHead:
        """The batch as Omnitron last confirmed it (its head: objects are the session's)."""

    @property
    def local_batch_id(self) -> str:
        """The batch's ``local_batch_id``."""

    @property
    def status(self) -> BatchStatus:
        """The last status Omnitron confirmed."""

    @property
    def objects(self) -> list[BatchObject]:
        """Every object declared so far."""

    def commit(self, objects: Iterable[BatchObject]) -> None:
        """Declare objects on the batch."""

    def mark_failed(
        self, content_type: str, pk: int, reason: FailedReasonType, remote_id: str | None = None
    ) -> None:
        """Record that one declared object failed."""

    def set_remote_id(self, content_type: str, pk: int, remote_id: str) -> None:
        """Store the channel's id for a declared object."""

    def send_to_remote(self, remote_batch_id: str) -> None:
        """The channel accepted the batch asynchronously."""

    def ongoing(self) -> None:
        """The channel is still working on the batch."""

    def done(self) -> None:
        """Finish the batch with every declared object."""

    def fail(self) -> None:
        """Finish the batch as failed as a whole."""


class BatchSession:
    """A batch request that this run owns. Thread-safe: workers may commit concurrently.

    The session keeps its own list of the objects it declared. Omnitron answers each
    commit with every object the batch holds, so only the answer's head (status,
    content type) is read, and only the new objects are appended to the store's
    mirror: a commit costs what it adds, not what the batch already holds. No lock
    on the session's state is held across an HTTP call; PATCHes of one batch are sent
    one at a time.
    """

    def __init__(
        self,
        omnitron: OmnitronClient,
        store: Store,
        ctx: RunContext,
        *,
        flow: Flow,
        run_id: int,
        batch: BatchRequest,
        owned: bool = True,
    ) -> None:
        """Wrap ``batch``; ``owned=False`` adopts a batch an earlier run opened."""
        self._omnitron = omnitron
        self._store = store
        self._ctx = ctx
        self._flow = flow
        self._run_id = run_id
        self._owned = owned
        self._state = threading.Lock()  # the head and the objects; never across HTTP
        self._send = threading.RLock()  # one PATCH of this batch at a time
        # A batch opened by an earlier run (check-batches) keeps the objects it declared.
        self._objects: dict[ObjectKey, BatchObject] = {
            (obj.content_type, obj.pk): obj for obj in batch.objects
        }
        self.batch: BatchRequestHead = batch
        self._final: BatchOutcome | None = None
        self._record(note="opened")

    @classmethod
    def open(
        cls,
        omnitron: OmnitronClient,
        store: Store,
        ctx: RunContext,
        *,
        flow: Flow,
        run_id: int,
    ) -> BatchSession:
        """Create a batch request in Omnitron (status ``initialized``).

        Its ``local_batch_id`` is ours and recorded on the run first: if the answer is
        lost the client finds the batch by it, and if the run dies before that,
        :func:`~service.flows.orphans.finish_orphan_batches` does.
        """
        local_batch_id = new_local_batch_id()
        store.set_pending_batch_id(run_id, local_batch_id)
        batch = omnitron.create_batch_request(local_batch_id)
        # Recorded before anything else happens, so an interrupted run's batch is known
        # to the next run, which finishes it.
        session = cls(omnitron, store, ctx, flow=flow, run_id=run_id, batch=batch)
        ctx.event("batch.opened", str(batch.pk), f"Opened batch request {batch.pk}.")
        return session

    @property
    def local_batch_id(self) -> str:
        """The batch's ``local_batch_id`` (the prefix of this run's error codes)."""
        return self.batch.local_batch_id

    @property
    def status(self) -> BatchStatus:
        """The last status Omnitron confirmed."""
        return self.batch.status

    @property
    def objects(self) -> list[BatchObject]:
        """Every object declared so far, with its failure reason if it failed (none
        once the batch is final: :meth:`outcome` keeps their counts)."""
        with self._state:
            return list(self._objects.values())

    @property
    def object_count(self) -> int:
        """How many objects are declared (without copying them)."""
        return len(self._objects)

    def commit(self, objects: Iterable[BatchObject]) -> None:
        """Declare objects on the batch (``commit``; the server adds them to the list)."""
        new = list(objects)
        if not new:
            return
        with self._send:
            previous = self.batch.status
            head = self._omnitron.move_batch(
                self.batch.pk, BatchStatus.COMMIT, objects=new, content_type=self._flow.content_type
            )
            with self._state:
                for obj in new:
                    self._objects[(obj.content_type, obj.pk)] = obj
                self.batch = head
            if previous is BatchStatus.COMMIT:
                self._store.add_batch_objects(head.pk, [obj.to_json() for obj in new])
            else:
                self._record()
            self._event(BatchStatus.COMMIT, previous)

    def mark_failed(
        self, content_type: str, pk: int, reason: FailedReasonType, remote_id: str | None = None
    ) -> None:
        """Record that one declared object failed; ``done`` will carry the reason."""
        with self._state:
            key = (content_type, pk)
            current = self._objects.get(key)
            if current is None:
                return
            update: dict[str, object] = {"failed_reason_type": reason}
            if remote_id is not None:
                update["remote_id"] = remote_id
            self._objects[key] = current.model_copy(update=update)

    def set_remote_id(self, content_type: str, pk: int, remote_id: str) -> None:
        """Store the channel's id for a declared object (sent with ``done``)."""
        with self._state:
            key = (content_type, pk)
            if (current := self._objects.get(key)) is not None:
                self._objects[key] = current.model_copy(update={"remote_id": remote_id})

    def send_to_remote(self, remote_batch_id: str) -> None:
        """The channel accepted the batch asynchronously: keep its id, wait for it."""
        self._set(BatchStatus.SENT_TO_REMOTE, remote_batch_id=remote_batch_id)

    def ongoing(self) -> None:
        """The channel is still working on the batch (``ongoing``; may repeat)."""
        self._set(BatchStatus.ONGOING)

    def done(self) -> None:
        """Finish the batch: every declared object, failed ones with their reason."""
        self._set(BatchStatus.DONE, final=True)

    def fail(self) -> None:
        """Finish the batch as failed as a whole (its integration actions are released)."""
        self._set(BatchStatus.FAIL, final=True)

    def close(self, *, succeeded: bool) -> None:
        """Bring the batch to a final state unless it already is, or waits on the channel.

        After a completed or cancelled run the batch is ``done`` with what it holds; after
        a run that failed before declaring anything it is ``fail``. Declared objects are
        real (orders exist), so a failed run that declared some still ends ``done``.
        """
        with self._send:
            if self.status.is_final or self.status in (
                BatchStatus.SENT_TO_REMOTE,
                BatchStatus.ONGOING,
            ):
                return
            if succeeded or self._objects:
                self.done()
            else:
                self.fail()

    def outcome(self) -> BatchOutcome:
        """The batch as it stands, for the run's result."""
        return self._final or outcome_of(self.batch, self.objects)

    def _set(
        self, status: BatchStatus, *, final: bool = False, remote_batch_id: str | None = None
    ) -> None:
        """Move the batch to ``status``; a ``final`` one carries every declared object."""
        with self._send:
            previous = self.batch.status
            # The content type is first sent at commit; a batch that ends without
            # declaring anything is named when it finishes, so every batch has one.
            named = final and not self.batch.content_type
            batch = self._omnitron.move_batch(
                self.batch.pk,
                status,
                objects=self.objects if final else None,
                content_type=self._flow.content_type if named else None,
                remote_batch_id=remote_batch_id,
            )
            with self._state:
                self.batch = batch
            self._record()
            if batch.status.is_final:
                # Nothing may follow a final status: keep the summary, not the objects,
                # so a run that fills many batches holds only the one it is filling.
                with self._state:
                    self._final = outcome_of(batch, list(self._objects.values()))
                    self._objects = {}
            self._event(status, previous)

    def _event(self, status: BatchStatus, previous: BatchStatus) -> None:
        # A repeated commit (one per window of orders) is detail; a change of state is news.
        level = logging.DEBUG if status is previous else logging.INFO
        self._ctx.event(
            f"batch.{status.value}",
            str(self.batch.pk),
            f"Batch request {self.batch.pk} is now {status.value}.",
            level,
        )

    def _record(self, note: str = "") -> None:
        flow: Flow | None = self._flow
        run_id: int | None = self._run_id
        if not self._owned:
            # An adopted batch stays filed under the run that opened it; the event
            # note says which run moved it.
            flow = run_id = None
            note = note or f"by {self._flow.value} run {self._run_id}"
        mirror = mirror_of(self.batch, flow=flow, run_id=run_id, objects=self.objects)
        self._store.record_batch(mirror, note=note)


class LazyBatch:
    """This run's batch request, created in Omnitron only when the run first needs it.

    A run with nothing to do opens no batch at all. The first commit, or the first
    report that is written (its code carries the batch id), opens it through
    :meth:`BatchSession.open` — so the ``local_batch_id`` is still recorded on the run
    before the POST, and the runner's close and the next run's recovery still apply.
    Until then, finishing or marking objects is a no-op: there is nothing to finish.
    Thread-safe: workers of fetch-orders commit concurrently.
    """

    def __init__(self, opener: Callable[[], BatchSession]) -> None:
        """``opener`` creates the batch request (called at most once, on first need)."""
        self._opener = opener
        self._lock = threading.Lock()
        self._session: BatchSession | None = None
        self._failure: BaseException | None = None

    @property
    def opened(self) -> bool:
        """Whether the batch request exists in Omnitron."""
        return self._session is not None

    def session(self) -> BatchSession:
        """The batch request, created now if it does not exist yet.

        If creating it failed, every later need fails the same way: a second batch
        would replace the ``local_batch_id`` recorded on the run (the first may exist
        though its answer was lost), and the run cannot go on without one anyway.
        """
        with self._lock:
            if self._failure is not None:
                raise self._failure
            if self._session is None:
                try:
                    self._session = self._opener()
                except BaseException as exc:
                    self._failure = exc
                    raise
            return self._session

    @property
    def batch(self) -> BatchRequestHead:
        """The batch request as Omnitron last confirmed it (creates it if needed)."""
        return self.session().batch

    @property
    def local_batch_id(self) -> str:
        """The batch's ``local_batch_id`` (creates it if needed)."""
        return self.session().local_batch_id

    @property
    def status(self) -> BatchStatus:
        """The last status Omnitron confirmed (creates the batch if needed)."""
        return self.session().status

    @property
    def objects(self) -> list[BatchObject]:
        """Every object declared so far (none before the batch exists)."""
        session = self._session
        return [] if session is None else session.objects

    @property
    def object_count(self) -> int:
        """How many objects are declared (none before the batch exists)."""
        session = self._session
        return 0 if session is None else session.object_count

    def commit(self, objects: Iterable[BatchObject]) -> None:
        """Declare objects; the first non-empty commit creates the batch."""
        new = list(objects)
        if new:
            self.session().commit(new)

    def mark_failed(
        self, content_type: str, pk: int, reason: FailedReasonType, remote_id: str | None = None
    ) -> None:
        """See :meth:`BatchSession.mark_failed` (nothing is declared before the batch exists)."""
        if self._session is not None:
            self._session.mark_failed(content_type, pk, reason, remote_id)

    def set_remote_id(self, content_type: str, pk: int, remote_id: str) -> None:
        """See :meth:`BatchSession.set_remote_id`."""
        if self._session is not None:
            self._session.set_remote_id(content_type, pk, remote_id)

    def send_to_remote(self, remote_batch_id: str) -> None:
        """See :meth:`BatchSession.send_to_remote`."""
        self.session().send_to_remote(remote_batch_id)

    def ongoing(self) -> None:
        """See :meth:`BatchSession.ongoing`."""
        self.session().ongoing()

    def done(self) -> None:
        """Finish the batch ``done``, if the run opened one."""
        if self._session is not None:
            self._session.done()

    def fail(self) -> None:
        """Finish the batch ``fail``, if the run opened one."""
        if self._session is not None:
            self._session.fail()

    def close(self, *, succeeded: bool) -> None:
        """See :meth:`BatchSession.close`; a batch never opened needs no closing."""
        if self._session is not None:
            self._session.close(succeeded=succeeded)

    def outcome(self) -> BatchOutcome | None:
        """The batch for the run's result, ``None`` when the run never opened one."""
        return None if self._session is None else self._session.outcome()


class RollingBatch:
    """The run's batch for flows that only declare objects: full ones are finished and
    the next commit opens another.

    Omnitron answers every commit with all the objects its batch holds, so a bound on
    the batch bounds every answer, however long the run. The objects of one group (an
    order and its items) stay together on one batch, and a batch never holds more than
    ``limit`` objects unless one group alone does. Commits are sent one at a time;
    thread-safe.
    """

    def __init__(self, opener: Callable[[], LazyBatch], limit: int) -> None:
        """``opener`` gives the run a new lazily created batch (``FlowRun.open_batch``)."""
        self._opener = opener
        self._limit = limit
        self._lock = threading.Lock()
        self._batch = opener()

    def commit(self, groups: Sequence[Sequence[BatchObject]]) -> None:
        """Declare each group's objects, in as few PATCHes as the batch size allows."""
        with self._lock:
            pending = [list(group) for group in groups if group]
            while pending:
                room = self._limit - self._batch.object_count
                part: list[BatchObject] = []
                while pending and (not part or len(part) + len(pending[0]) <= room):
                    if len(pending[0]) > room and self._batch.object_count:
                        break  # it fits only on a new batch
                    part.extend(pending.pop(0))
                if part:
                    self._batch.commit(part)
                if pending:
                    self._batch.done()
                    self._batch = self._opener()

    def done(self) -> None:
        """Finish the current batch (earlier ones were finished when they filled up)."""
        with self._lock:
            self._batch.done()
