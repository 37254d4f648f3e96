"""The records the local store reads and writes (frozen pydantic models)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

if TYPE_CHECKING:
    from service.omnitron.models.batch import BatchRequest

RunOutcome = Literal["running", "completed", "failed", "cancelled", "interrupted"]
# "interrupted": the run's process died (or lost its lease) before it could record an
# outcome; a later run found it and closed the record with the counts it had saved.
FINAL_OUTCOMES: frozenset[str] = frozenset({"completed", "failed", "cancelled", "interrupted"})
# Who wrote a batch request or error report: a run of this store, or another deployment.
Origin = Literal["local", "remote"]
FINAL_BATCH_STATUSES: frozenset[str] = frozenset({"done", "fail"})

BATCH_ORDER_COLUMNS: frozenset[str] = frozenset(
    {"created_at", "updated_at", "last_transition_at", "pk", "status", "content_type", "flow"}
)
ERROR_ORDER_COLUMNS: frozenset[str] = frozenset(
    {"created_at", "last_seen_at", "id", "code", "attempts", "content_type", "flow"}
)


def as_utc(value: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_time(value: Any) -> Any:
    """Accept a datetime or an ISO 8601 string (``Z`` allowed) and return aware UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.strip())
    if isinstance(value, datetime):
        return as_utc(value)
    return value


def iso(value: datetime | None) -> str | None:
    """The stored form of a time: ISO 8601 in UTC, fixed width so text order = time order."""
    if value is None:
        return None
    return as_utc(value).isoformat(timespec="microseconds")


UtcTime = Annotated[datetime, BeforeValidator(parse_time)]


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RunRecord(_Record):
    """One run of a flow: what was asked, how it ended, what it counted."""

    id: int
    flow: str
    profile: str = ""
    options: dict[str, Any] = Field(default_factory=dict)
    started_at: UtcTime
    finished_at: UtcTime | None = None
    outcome: RunOutcome = "running"
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    error_count: int = 0
    message: str = ""
    duration_s: float | None = None
    # The process that ran it, and when it last said it was alive.
    pid: int | None = None
    host: str = ""
    heartbeat_at: UtcTime | None = None
    # Parked items this run retried that still wait (counted apart from failures).
    waiting: int = 0
    # The local_batch_id this run asked Omnitron to create (known before the answer).
    pending_batch_id: str | None = None
    # The Celery task a worker ran this run for (None: run by this process or the CLI).
    task_id: str | None = None

    @property
    def is_running(self) -> bool:
        """True until :meth:`Store.finish_run` was called for it."""
        return self.outcome == "running"


class RunLogEntry(_Record):
    """One event of a run, as its log shows it (kept after a restart)."""

    id: int = 0
    run_id: int
    at: UtcTime
    level: int = 20  # logging.INFO
    kind: str
    subject: str = ""
    message: str


class LeaseRecord(_Record):
    """Who holds a named lease (``flow:<flow>`` or ``commit:<content type>``) right now.

    ``token`` identifies one holding (one run), so a process holding several runs'
    leases, like the console, still tells them apart.
    """

    name: str
    run_id: int | None = None
    flow: str = ""
    pid: int
    host: str
    token: str
    started_at: UtcTime
    heartbeat_at: UtcTime


class BatchMirror(_Record):
    """The local mirror of one Omnitron batch request.

    ``created_at``/``updated_at``/``last_transition_at`` left ``None`` are filled by
    the store (first record time, now, time of the last status change).
    """

    pk: int
    local_batch_id: str
    remote_batch_id: str | None = None
    content_type: str | None = None
    status: str
    objects: list[dict[str, Any]] = Field(default_factory=list)
    flow: str | None = None
    run_id: int | None = None
    created_at: UtcTime | None = None
    updated_at: UtcTime | None = None
    last_transition_at: UtcTime | None = None
    # "local": a run of this store opened it; "remote": read from Omnitron's listing.
    origin: Origin = "local"

    @field_validator("status", "local_batch_id", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        # BatchStatus is a StrEnum; store its plain value.
        return str(value) if value is not None else value

    @field_validator("remote_batch_id", mode="before")
    @classmethod
    def _optional_text(cls, value: Any) -> Any:
        return None if value is None else str(value)

    @field_validator("objects", mode="before")
    @classmethod
    def _objects(cls, value: Any) -> Any:
        return value or []

    @property
    def object_count(self) -> int:
        """How many objects the batch carries."""
        return len(self.objects)

    @property
    def failed_count(self) -> int:
        """How many of its objects carry a ``failed_reason_type``."""
        return sum(1 for obj in self.objects if obj.get("failed_reason_type"))

    @property
    def is_open(self) -> bool:
        """True while the batch is neither ``done`` nor ``fail``."""
        return self.status not in FINAL_BATCH_STATUSES

    @classmethod
    def from_omnitron(
        cls, batch: BatchRequest, *, flow: str | None = None, run_id: int | None = None
    ) -> BatchMirror:
        """Mirror a batch request as the Omnitron client returned it."""
        return cls(
            pk=batch.pk,
            local_batch_id=batch.local_batch_id,
            remote_batch_id=batch.remote_batch_id,
            content_type=batch.content_type,
            status=batch.status,
            objects=[obj.to_json() for obj in batch.objects],
            flow=flow,
            run_id=run_id,
            created_at=_lenient_time(batch.created_date),
            updated_at=_lenient_time(batch.modified_date),
        )


def _lenient_time(value: str | None) -> datetime | None:
    """Omnitron's date strings, or ``None`` when one does not parse."""
    try:
        return parse_time(value)
    except ValueError:
        return None


class BatchEvent(_Record):
    """One status a batch was seen in, with when and by which run."""

    id: int
    batch_pk: int
    status: str
    at: UtcTime
    run_id: int | None = None
    note: str = ""


class NewErrorReport(_Record):
    """An error (or success) report to keep locally and deliver to Omnitron."""

    code: str
    description: str = ""
    is_ok: bool = False
    flow: str = ""
    run_id: int | None = None
    batch_pk: int | None = None
    local_batch_id: str | None = None
    content_type: str = ""
    object_id: str = ""
    subject: str = ""
    raw_request: str = ""
    raw_response: str = ""
    # The exact body for Omnitron's error_reports endpoint, kept for redelivery.
    omnitron_payload: dict[str, Any] = Field(default_factory=dict)
    delivered: bool = False
    # Why it failed, from the fixed set in service/causes.py ('' for successes), and
    # what was not found or refused (e.g. the city "Istambul"): one problem per pair.
    cause: str = ""
    cause_value: str = ""
    # "local": written by a run of this store; "remote": read from Omnitron's listing.
    origin: Origin = "local"
    # The report's id in Omnitron, once known.
    remote_pk: int | None = None

    @field_validator("object_id", mode="before")
    @classmethod
    def _object_id_text(cls, value: Any) -> Any:
        return "" if value is None else str(value)

    @field_validator("local_batch_id", mode="before")
    @classmethod
    def _batch_id_text(cls, value: Any) -> Any:
        return None if value is None else str(value)


class StoredErrorReport(NewErrorReport):
    """An error report as the store holds it."""

    id: int
    created_at: UtcTime
    delivered_at: UtcTime | None = None
    attempts: int = 1
    last_seen_at: UtcTime
    # Omnitron refused the report for good: kept, out of the outbox, with the answer.
    dead: bool = False
    # The last answer that kept the report from being delivered (one line).
    delivery_error: str = ""
    # When a POST of it started; set and not delivered means its answer was lost.
    sending_at: UtcTime | None = None
    # When a later attempt at the same item went through.
    resolved_at: UtcTime | None = None

    @property
    def delivery_state(self) -> Delivery:
        """``delivered``, ``waiting`` (in the outbox) or ``refused`` (dead)."""
        if self.delivered:
            return "delivered"
        return "refused" if self.dead else "waiting"


# Where a report is on its way to Omnitron, as ErrorQuery.delivery filters it;
# "undelivered" is waiting or refused.
Delivery = Literal["delivered", "waiting", "refused"]
DeliveryFilter = Literal["undelivered", "waiting", "refused"]


class OutboxCounts(_Record):
    """How many reports wait for Omnitron and how many it refused for good."""

    waiting: int = 0
    refused: int = 0


class ErrorQuery(_Record):
    """Filters, order and page of an error-report search; unset filters do not apply."""

    text: str | None = None
    code: str | None = None
    code_contains: str | None = None
    is_ok: bool | None = None
    content_type: str | None = None
    flow: str | None = None
    run_id: int | None = None
    batch_pk: int | None = None
    local_batch_id: str | None = None
    delivery: DeliveryFilter | None = None
    # A cause code of service/causes.py; resolved: True only resolved, False only open.
    cause: str | None = None
    resolved: bool | None = None
    since: UtcTime | None = None
    until: UtcTime | None = None
    # Only this store's reports ("local") or those mirrored from Omnitron ("remote").
    origin: Origin | None = None
    order_by: str = "created_at"
    descending: bool = True
    limit: int = Field(100, ge=1, le=10_000)
    offset: int = Field(0, ge=0)

    @field_validator("order_by")
    @classmethod
    def _known_column(cls, value: str) -> str:
        # The column name goes into SQL text; only known, indexed ones are allowed.
        if value not in ERROR_ORDER_COLUMNS:
            raise ValueError(f"order_by must be one of {sorted(ERROR_ORDER_COLUMNS)}")
        return value


PROBLEM_SUBJECTS = 20  # subjects a Problem lists; its count says how many there are


class Problem(_Record):
    """Open failures of one flow with one cause and value: one thing for the operator to fix.

    ``count`` is how many subjects (orders, lines, cancellations) are affected;
    ``subjects`` lists up to :data:`PROBLEM_SUBJECTS` of them, most recently failed first.
    """

    cause: str
    cause_value: str
    flow: str
    count: int
    subjects: list[str] = Field(default_factory=list)
    first_seen: UtcTime
    last_seen: UtcTime
    # "remote": failures another deployment reported (mirrored), not retryable here.
    origin: Origin = "local"


class ParkedItem(_Record):
    """A record that failed on the Omnitron side and waits for a later run to retry it."""

    flow: str
    remote_id: str
    subject: str = ""
    payload: dict[str, Any] = Field(default_factory=dict)
    reason: str = ""
    error_report_id: int | None = None
    attempts: int = 1
    first_seen_at: UtcTime | None = None
    last_seen_at: UtcTime | None = None

    @field_validator("remote_id", mode="before")
    @classmethod
    def _remote_id_text(cls, value: Any) -> Any:
        return str(value)


AliasKind = Literal["city", "township", "district", "cargo"]
ALIAS_KINDS: tuple[str, ...] = ("city", "township", "district", "cargo")


class Alias(_Record):
    """The operator's mapping of a channel's spelling to an Omnitron object.

    ``scope`` is ``""`` for a city or a cargo company, the city's pk (as text) for a
    township and the township's pk for a district: the same name may mean different
    places under different parents. ``label`` is the Omnitron object's name, shown to
    the operator; ``channel_value`` is kept as the channel sent it (matching folds it).
    """

    kind: AliasKind
    scope: str = ""
    channel_value: str
    omnitron_pk: int
    label: str = ""
    created_at: UtcTime | None = None
