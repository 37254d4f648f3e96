"""Turkish-aware folding: the four i's are one letter, diacritics and spacing go."""

from __future__ import annotations

import pytest

from service.text_fold import fold, fold_case


@pytest.mark.parametrize("text", ["İstanbul", "ISTANBUL", "istanbul", "ıstanbul", "i̇stanbul"])
def test_the_four_is_fold_to_one_letter(text: str) -> None:
    assert fold_case(text) == "istanbul"
    assert fold(text) == "istanbul"


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Şişli", "sisli"),
        ("ŞİŞLİ", "sisli"),
        ("Çağrı Öğüt", "cagri ogut"),
        ("Üsküdar", "uskudar"),
        ("Gölcük", "golcuk"),
        ("  Kadıköy \t Moda ", "kadikoy moda"),
    ],
)
def test_fold_drops_turkish_diacritics_and_extra_space(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_fold_case_keeps_diacritics_so_names_stay_distinct() -> None:
    # Omnitron's own case-insensitive match tells Şile from Sile; fold_case must too.
    assert fold_case("ŞİLE") == "şile"
    assert fold_case("ŞİLE") != fold_case("SILE")


def test_fold_keeps_what_tells_names_apart() -> None:
    assert fold("Istambul") != fold("İstanbul")
    assert fold("ABC-42") == "abc-42"
