"""Turkish-aware folding of names, for matching what a channel typed to Omnitron's names.

Python's ``str.casefold`` maps ``İ`` to ``i̇`` (an ``i`` with a combining dot) and leaves
the dotless ``ı`` alone, so ``İSTANBUL``, ``Istanbul`` and ``ıstanbul`` would be three
different words. :func:`fold_case` treats the four i's as one letter; :func:`fold` also
drops the Turkish (and any other) diacritics, so ``Şişli``, ``SISLI`` and ``sisli`` fold
alike, and collapses whitespace. Aliases are keyed by :func:`fold`.
"""

from __future__ import annotations

import unicodedata

# The dotted capital and both dotless letters all become a plain "i".
_I_FOLD = str.maketrans({"İ": "i", "I": "i", "ı": "i"})


def fold_case(text: str) -> str:
    """Case-fold ``text`` with Turkish İ, I, ı and i as one letter (diacritics kept)."""
    return text.translate(_I_FOLD).replace("i̇", "i").casefold()


def fold(text: str) -> str:
    """``text`` for matching: Turkish case folding, no diacritics, single spaces.

    ``fold("  İstanbul ")``, ``fold("ISTANBUL")`` and ``fold("istanbul")`` are all
    ``"istanbul"``; ``fold("Şişli")`` is ``"sisli"``; ``fold("Çağrı Öğüt")`` is
    ``"cagri ogut"``.
    """
    decomposed = unicodedata.normalize("NFKD", text.translate(_I_FOLD))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.casefold().split())
