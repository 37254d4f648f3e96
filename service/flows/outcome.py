"""How a run ended, in the words and colour every surface shows it with.

One helper for the console's summary and badges, the tray, the CLI summary and its
JSON, so they never disagree. ``completed with failures`` is derived, not stored: a
run records ``completed`` and its ``failed`` count, so stores written before this
distinction read right (a completed run with failures is amber there too).

Tones: ``ok`` (green), ``warn`` (amber), ``bad`` (red), ``neutral`` (grey).
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

# The JSON/CLI name of a completed run that had failures (the store keeps ``completed``).
COMPLETED_WITH_FAILURES = "completed_with_failures"

OK = "ok"
WARN = "warn"
BAD = "bad"
NEUTRAL = "neutral"


class OutcomeText(NamedTuple):
    """A run's outcome for people: a short label and its tone."""

    label: str
    tone: str


class RunLike(Protocol):
    """What :func:`describe_outcome` reads: a ``FlowResult`` or a stored ``RunRecord``.

    A ``FlowResult`` also has ``total`` (the run's last known total), read when present.
    """

    @property
    def outcome(self) -> str: ...

    @property
    def message(self) -> str: ...

    @property
    def created(self) -> int: ...

    @property
    def updated(self) -> int: ...

    @property
    def skipped(self) -> int: ...

    @property
    def failed(self) -> int: ...

    @property
    def waiting(self) -> int: ...


def outcome_key(outcome: str, failed: int) -> str:
    """The outcome's machine name: ``completed_with_failures`` when a completed run failed items."""
    outcome = str(outcome)
    if outcome == "completed" and failed > 0:
        return COMPLETED_WITH_FAILURES
    return outcome


def describe(
    outcome: str,
    *,
    failed: int = 0,
    done: int = 0,
    total: int | None = None,
    waiting: int = 0,
    changed: int | None = None,
) -> OutcomeText:
    """Label and tone of a run that ended ``outcome`` having finished ``done`` items.

    ``done`` counts every item the run settled (created, updated, skipped, failed);
    ``total`` is how many it knew it had, ``None`` when it never knew; ``waiting`` the
    items it left waiting — parked items it retried, or orders sent to the channel
    whose verdict comes later (not failures of this run); ``changed``
    the items it created or updated (default: ``done`` less ``failed``). A completed
    run that changed nothing and failed nothing says "nothing new" — also when it
    skipped items already there (the channel lists the last order again).
    """
    outcome = str(outcome)
    still = f" · still waiting ({waiting})" if waiting else ""
    if outcome == "completed":
        if failed > 0:
            noun = "failure" if failed == 1 else "failures"
            return OutcomeText(f"completed with {failed} {noun}{still}", WARN)
        if (done - failed if changed is None else changed) == 0:
            # Items left waiting (parked, or sent for the channel's verdict) are news.
            return OutcomeText(f"still waiting ({waiting})" if waiting else "nothing new", OK)
        return OutcomeText(f"completed{still}", OK)
    if outcome == "cancelled":
        # Retried parked items that still wait were worked on too.
        done += waiting
        if total is not None and total > 0:
            return OutcomeText(f"cancelled after {min(done, total)} of {total}", NEUTRAL)
        return OutcomeText(f"cancelled after {done}", NEUTRAL)
    if outcome == "failed":
        return OutcomeText("failed", BAD)
    if outcome == "interrupted":
        return OutcomeText("interrupted", BAD)
    return OutcomeText(outcome, NEUTRAL)  # "running"


def describe_outcome(run: RunLike) -> OutcomeText:
    """Label and tone of a ``FlowResult`` or a stored ``RunRecord``."""
    return describe(
        str(run.outcome),
        failed=run.failed,
        done=run.created + run.updated + run.skipped + run.failed,
        # A FlowResult knows its total; the store does not keep it (the message does).
        total=getattr(run, "total", None),
        waiting=run.waiting,
        changed=run.created + run.updated,
    )


def outcome_sentence(run: RunLike) -> str:
    """The label followed by the run's own sentence (why it failed, what it sent), if any."""
    label = describe_outcome(run).label
    return f"{label}: {run.message}" if run.message else label
