"""Bounding the text of error reports: head kept, marker appended, never twice."""

from __future__ import annotations

import pytest

from service.bounded_text import (
    RAW_TEXT_LIMIT,
    truncate_text,
    truncation_marker,
    utf8_length,
)


def test_text_within_the_limit_is_kept_whole() -> None:
    assert truncate_text("abc", 3) == "abc"
    assert truncate_text("", 0) == ""
    exact = "ş" * (RAW_TEXT_LIMIT // 2)  # two bytes each: exactly the limit
    assert truncate_text(exact) is exact


def test_long_text_keeps_its_head_and_says_how_much_was_cut() -> None:
    text = "HTTP 500\n" + "x" * 200_000
    cut = truncate_text(text, 1000)
    marker = truncation_marker(utf8_length(text) - utf8_length(cut.split("…[")[0]))
    assert cut.startswith("HTTP 500\nxxx")
    assert cut.endswith(marker)
    assert utf8_length(cut) <= 1000
    # What was kept plus what the marker counts is the whole text.
    kept = cut[: -len(marker)]
    dropped = int(marker.split()[1])
    assert utf8_length(kept) + dropped == utf8_length(text)


def test_a_cut_never_splits_a_character() -> None:
    text = "€" * 1000  # three bytes each
    cut = truncate_text(text, 100)
    kept = cut.split("…[")[0]
    assert set(kept) == {"€"}
    assert utf8_length(kept) + int(cut.split()[1]) == 3000


def test_bounding_a_bounded_text_changes_nothing() -> None:
    once = truncate_text("y" * 5_000_000)
    assert truncate_text(once) == once
    assert utf8_length(once) <= RAW_TEXT_LIMIT
    assert once.endswith(f"…[truncated {5_000_000 - utf8_length(once.split('…[')[0])} bytes]")


def test_lone_surrogates_from_json_do_not_break_the_cut() -> None:
    cut = truncate_text("\ud800" * 100, 60)
    assert cut.endswith("bytes]")


def test_a_negative_limit_is_a_mistake() -> None:
    with pytest.raises(ValueError, match="negative"):
        truncate_text("a", -1)
