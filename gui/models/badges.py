"""State badges: which kind each status is, and the colours of each kind."""

from __future__ import annotations

from PySide6.QtGui import QColor

from service.flows.outcome import BAD, NEUTRAL, OK, WARN, RunLike, describe_outcome

# kind → (fill, text) for a light palette and for a dark one; text contrast ≥ 4.5:1.
_LIGHT: dict[str, tuple[str, str]] = {
    "success": ("#d3f1dc", "#13653a"),
    "danger": ("#fad7d5", "#a11d1b"),
    "warning": ("#fde8bd", "#7c4a00"),
    "info": ("#d8e7fc", "#1f4f96"),
    "neutral": ("#e4e6e9", "#3c4148"),
}
_DARK: dict[str, tuple[str, str]] = {
    "success": ("#1f4d32", "#aeeec6"),
    "danger": ("#5e2020", "#ffb9b5"),
    "warning": ("#5a4210", "#ffdb8f"),
    "info": ("#1e3b64", "#b8d4ff"),
    "neutral": ("#3a3e44", "#d7dadd"),
}

BATCH_STATUS_KINDS: dict[str, str] = {
    "initialized": "info",
    "commit": "info",
    "sent_to_remote": "warning",
    "ongoing": "warning",
    "done": "success",
    "fail": "danger",
}
# The stored outcome alone; outcome_badge() also reads the counts (failures: amber).
RUN_OUTCOME_KINDS: dict[str, str] = {
    "running": "info",
    "completed": "success",
    "failed": "danger",
    "cancelled": "neutral",
    "interrupted": "danger",
}

# An outcome's tone (service/flows/outcome.py) → the badge kind showing it.
TONE_KINDS: dict[str, str] = {
    OK: "success",
    WARN: "warning",
    BAD: "danger",
    NEUTRAL: "neutral",
}


def outcome_badge(run: RunLike) -> tuple[str, str]:
    """The (label, badge kind) of a run's outcome: "completed with 3 failures" is amber.

    ``run`` is a ``FlowResult`` or a stored ``RunRecord``; a running run is ``info``.
    """
    if str(run.outcome) == "running":
        return "running", RUN_OUTCOME_KINDS["running"]
    text = describe_outcome(run)
    return text.label, TONE_KINDS.get(text.tone, "neutral")


# Rows that need attention (a batch pending too long): amber, translucent so the
# text keeps the palette's own colour in light and dark themes alike.
ATTENTION_BACKGROUND = QColor(255, 176, 0, 70)


def badge_colors(kind: str | None, *, dark: bool) -> tuple[QColor, QColor]:
    """The (fill, text) colours of a badge of ``kind`` (unknown kinds are neutral)."""
    table = _DARK if dark else _LIGHT
    fill, text = table.get(kind or "neutral", table["neutral"])
    return QColor(fill), QColor(text)
