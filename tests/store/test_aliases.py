"""The store's aliases: the operator's mappings of channel spellings to Omnitron objects."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from service.store import Alias, Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "profile.sqlite3") as opened:
        yield opened


def test_an_alias_is_found_by_any_spelling_that_folds_alike(store: Store) -> None:
    store.set_alias(Alias(kind="city", channel_value="Istambul", omnitron_pk=34, label="İstanbul"))

    for spelling in ("Istambul", "ISTAMBUL", "istambul", "İstambul", " ıstambul "):
        found = store.find_alias("city", "", spelling)
        assert found is not None, spelling
        assert (found.omnitron_pk, found.label, found.channel_value) == (34, "İstanbul", "Istambul")
        assert found.created_at is not None
    assert store.find_alias("city", "", "Istanbul") is None
    # Another kind or another scope is another alias.
    assert store.find_alias("cargo", "", "Istambul") is None
    assert store.find_alias("city", "7", "Istambul") is None


def test_scope_keeps_the_same_name_apart_under_different_parents(store: Store) -> None:
    store.set_alias(Alias(kind="township", scope="34", channel_value="Merkez", omnitron_pk=1))
    store.set_alias(Alias(kind="township", scope="6", channel_value="Merkez", omnitron_pk=2))

    assert store.find_alias("township", "34", "merkez").omnitron_pk == 1  # type: ignore[union-attr]
    assert store.find_alias("township", "6", "MERKEZ").omnitron_pk == 2  # type: ignore[union-attr]
    assert store.find_alias("township", "", "Merkez") is None


def test_setting_a_spelling_again_replaces_it(store: Store) -> None:
    store.set_alias(Alias(kind="cargo", channel_value="horoz", omnitron_pk=1, label="Aras"))
    store.set_alias(Alias(kind="cargo", channel_value="HOROZ", omnitron_pk=3, label="MNG"))

    assert [(a.channel_value, a.omnitron_pk, a.label) for a in store.aliases()] == [
        ("HOROZ", 3, "MNG")
    ]


def test_listing_by_kind_and_deleting(store: Store) -> None:
    store.set_alias(Alias(kind="cargo", channel_value="horoz", omnitron_pk=1))
    store.set_alias(Alias(kind="city", channel_value="Istambul", omnitron_pk=34))
    store.set_alias(Alias(kind="city", channel_value="Ankra", omnitron_pk=6))

    assert [a.channel_value for a in store.aliases()] == ["horoz", "Ankra", "Istambul"]
    assert [a.channel_value for a in store.aliases("city")] == ["Ankra", "Istambul"]

    assert store.delete_alias("city", "", "ISTAMBUL") is True
    assert store.delete_alias("city", "", "Istambul") is False
    assert store.find_alias("city", "", "Istambul") is None
    assert [a.channel_value for a in store.aliases("city")] == ["Ankra"]


def test_aliases_survive_reopening_the_store(tmp_path: Path) -> None:
    path = tmp_path / "profile.sqlite3"
    with Store(path) as store:
        store.set_alias(Alias(kind="district", scope="12", channel_value="Moda", omnitron_pk=5))
    with Store(path) as store:
        assert store.find_alias("district", "12", "moda") is not None


def test_unknown_kinds_and_empty_spellings_are_refused(store: Store) -> None:
    with pytest.raises(ValidationError):
        Alias(kind="country", channel_value="Turkey", omnitron_pk=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="channel value"):
        store.set_alias(Alias(kind="city", channel_value="  ", omnitron_pk=1))
    assert store.aliases() == []
