"""Ranking candidates for the mapping assistant: Turkish-aware similarity."""

from __future__ import annotations

from service.mapping import Candidate, rank, similarity

CITIES = ["Adana", "Ankara", "Isparta", "İstanbul", "İzmir", "Kastamonu", "Kahramanmaraş"]


def _first(text: str) -> str:
    return rank(text, (Candidate(pk, name) for pk, name in enumerate(CITIES)))[0].label


def test_a_misspelling_ranks_the_meant_name_first() -> None:
    assert _first("Istambul") == "İstanbul"
    assert _first("ankra") == "Ankara"
    assert _first("KAHRAMANMARAS") == "Kahramanmaraş"


def test_folding_makes_case_and_turkish_letters_an_exact_match() -> None:
    assert similarity("IZMIR", "İzmir") == similarity("İzmir", "İzmir")
    assert similarity("Istambul", "İstanbul") > similarity("Istambul", "Isparta")


def test_a_common_beginning_counts_more_than_a_common_end() -> None:
    assert similarity("Istanbull", "İstanbul") > similarity("stanbul", "İstanbul")
    assert similarity("", "İstanbul") == 0.0


def test_equal_scores_keep_a_stable_alphabetical_order() -> None:
    ranked = rank("zzz", [Candidate(2, "Beta"), Candidate(1, "Alpha")])
    assert [c.label for c in ranked] == ["Alpha", "Beta"]
