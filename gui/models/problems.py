"""Open problems: failures grouped by cause and value, and the items of one problem.

A *problem* is the open (unresolved) failures of one flow with one cause and one
value — "Unknown city 'Istambul' — 12 orders". Both tables read through the store
API of :mod:`service.store` (``open_problems``, ``problem_reports``) on the models'
reader thread, never on the GUI thread.
"""

from __future__ import annotations

import zlib
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QObject

from gui.models.formatting import format_age, format_time
from gui.models.lazy import Column, LazyTableModel
from gui.models.origin import ORIGIN_TIPS
from service.causes import info
from service.flows.names import Flow
from service.store import Store
from service.store_records import Problem, StoredErrorReport

# One problem's items listed at most (the store keeps the latest report per subject).
ITEMS_LIMIT = 1000

# What one item of a flow is called, for "1 order" next to Flow.items' "12 orders".
_SINGULAR: dict[str, str] = {
    "orders": "order",
    "batches": "batch",
    "cancellations": "cancellation",
    "line updates": "line update",
    "cancellation requests": "cancellation request",
}


def items_word(flow: str, count: int) -> str:
    """``12 orders``, ``1 line update``: ``count`` items of ``flow`` in the operator's words."""
    try:
        plural = Flow(flow).items
    except ValueError:
        plural = "items"
    word = plural if count != 1 else _SINGULAR.get(plural, "item")
    return f"{count:,} {word}"


def problem_text(problem: Problem) -> str:
    """The problem in one line: ``Unknown city 'Istambul'`` (the title alone without a value)."""
    title = info(problem.cause).title
    return f"{title} {problem.cause_value!r}" if problem.cause_value else title


def problem_id(problem: Problem) -> int:
    """A stable number for a problem (flow, cause, value, origin): a refresh keeps the
    selection."""
    key = f"{problem.flow}\0{problem.cause}\0{problem.cause_value}\0{problem.origin}"
    return zlib.crc32(key.encode())


def flow_text(problem: Problem) -> str:
    """The Flow column: the flow, and ``remote`` for another deployment's failures."""
    flow = problem.flow or "—"
    return f"{flow} · remote" if problem.origin == "remote" else flow


def describe_problems(problems: Sequence[Problem]) -> str:
    """One status-bar sentence naming new problems: ``New problem: Unknown city 'X' (3 orders)``."""
    if not problems:
        return ""
    first = problems[0]
    named = f"{problem_text(first)} ({items_word(first.flow, first.count)})"
    if len(problems) == 1:
        return f"New problem: {named} — see Problems."
    return f"{len(problems)} new problems, among them {named} — see Problems."


@dataclass(frozen=True)
class RetryRequest:
    """What the operator asked to retry: one flow's reports, or a whole problem group.

    ``count`` is how many items that is, for the question and the status bar.
    """

    flow: Flow
    report_ids: tuple[int, ...] = ()
    cause: str | None = None
    cause_value: str | None = None
    count: int = 0

    def describe(self) -> str:
        """``12 orders`` of the request's flow."""
        return items_word(self.flow.value, self.count)


PROBLEM_COLUMNS: tuple[Column, ...] = (
    Column("Problem", problem_text, tooltip=lambda p: info(p.cause).what_to_do),
    Column("Flow", flow_text, tooltip=lambda p: ORIGIN_TIPS[p.origin]),
    Column("Affected", lambda p: items_word(p.flow, p.count), badge=lambda _p: "danger"),
    Column("First seen", lambda p: format_time(p.first_seen)),
    Column("Last seen", lambda p: f"{format_age(p.last_seen)} ago"),
)


@dataclass(frozen=True)
class ProblemsQuery:
    """Which problems to list: every flow's open problems (``flow`` narrows them)."""

    flow: str | None = None


class ProblemsModel(LazyTableModel):
    """One row per open problem, newest first (the store's order)."""

    def __init__(self, store: Store, parent: QObject | None = None) -> None:
        """A model over the open problems of ``store`` (not loaded until refreshed)."""
        super().__init__(store, PROBLEM_COLUMNS, ProblemsQuery(), parent=parent)

    def fetch_rows(
        self, store: Store, query: ProblemsQuery, offset: int, limit: int
    ) -> list[Problem]:
        """One page of problems (the store groups them all at once; few exist)."""
        return store.open_problems(flow=query.flow)[offset : offset + limit]

    def count_rows(self, store: Store, query: ProblemsQuery) -> int:
        """How many problems are open (of the flow)."""
        if query.flow is None:
            return store.count_open_problems()
        return len(store.open_problems(flow=query.flow))

    def record_id(self, record: Problem) -> int:
        """See :func:`problem_id`."""
        return problem_id(record)


@dataclass(frozen=True)
class ItemsQuery:
    """The items of one problem; ``cause`` ``None`` lists nothing (no problem selected)."""

    cause: str | None = None
    cause_value: str = ""
    flow: str | None = None
    origin: str | None = None


ITEM_COLUMNS: tuple[Column, ...] = (
    Column("Subject", lambda r: r.subject or r.object_id, tooltip=lambda r: r.object_id or None),
    Column("Latest report", lambda r: format_time(r.last_seen_at or r.created_at)),
    Column(
        "Description",
        lambda r: r.description.split("\n", 1)[0],
        tooltip=lambda r: r.description[:2000] or None,
    ),
)


class ProblemItemsModel(LazyTableModel):
    """The items of one problem: the latest open report per subject."""

    def __init__(self, store: Store, parent: QObject | None = None) -> None:
        """A model over the items of no problem until :meth:`show_problem`."""
        super().__init__(store, ITEM_COLUMNS, ItemsQuery(), page_size=ITEMS_LIMIT, parent=parent)

    def show_problem(self, problem: Problem | None) -> None:
        """List the items of ``problem`` (``None``: none)."""
        if problem is None:
            self.set_query(ItemsQuery())
        else:
            self.set_query(
                ItemsQuery(problem.cause, problem.cause_value, problem.flow, problem.origin)
            )

    def fetch_rows(
        self, store: Store, query: ItemsQuery, offset: int, limit: int
    ) -> list[StoredErrorReport]:
        """The problem's reports (one read: ``problem_reports`` is bounded, not paged)."""
        if query.cause is None or offset:
            return []
        return store.problem_reports(
            query.cause,
            query.cause_value,
            flow=query.flow,
            origin=query.origin,  # type: ignore[arg-type]
            limit=min(limit, ITEMS_LIMIT),
        )

    def count_key(self, query: ItemsQuery) -> Hashable:
        """The problem itself."""
        return query

    def record_id(self, record: StoredErrorReport) -> int:
        """The report's id."""
        return record.id
