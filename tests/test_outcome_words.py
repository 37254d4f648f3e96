"""The words and tones of outcomes that a short real run cannot easily produce."""

from __future__ import annotations

import pytest

from service.flows.outcome import OutcomeText, describe, outcome_key


@pytest.mark.parametrize(
    ("outcome", "counts", "expected"),
    [
        ("completed", {"failed": 1, "done": 4}, ("completed with 1 failure", "warn")),
        ("completed", {"done": 3, "changed": 0}, ("nothing new", "ok")),
        ("completed", {"done": 0, "changed": 0, "waiting": 4}, ("still waiting (4)", "ok")),
        (
            "completed",
            {"done": 3, "changed": 3, "waiting": 2},
            ("completed · still waiting (2)", "ok"),
        ),
        ("cancelled", {"done": 8, "total": 38}, ("cancelled after 8 of 38", "neutral")),
        ("cancelled", {"done": 8}, ("cancelled after 8", "neutral")),
        ("cancelled", {"done": 0, "total": 0}, ("cancelled after 0", "neutral")),
        ("failed", {"done": 12, "total": 60}, ("failed", "bad")),
        ("interrupted", {"done": 5}, ("interrupted", "bad")),
        ("running", {}, ("running", "neutral")),
    ],
)
def test_describe(outcome: str, counts: dict[str, int], expected: tuple[str, str]) -> None:
    assert describe(outcome, **counts) == OutcomeText(*expected)


def test_only_a_completed_run_with_failures_is_completed_with_failures() -> None:
    assert outcome_key("completed", 2) == "completed_with_failures"
    assert outcome_key("completed", 0) == "completed"
    assert outcome_key("failed", 2) == "failed"
    assert outcome_key("cancelled", 2) == "cancelled"
