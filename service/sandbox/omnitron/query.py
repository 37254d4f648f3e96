"""DRF/django-filter style query strings: declared filters, ``__in``, booleans, ordering, pages.

Each list route declares its filter set: for every field, the lookups it accepts
(docs/omnitron-api.md §9). Like django-filter, a parameter the set does not declare
is ignored silently — the answer is then the unfiltered listing, with HTTP 200.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from starlette.datastructures import URL, QueryParams

from service.sandbox.omnitron.errors import ApiError, field_error
from service.sandbox.omnitron.formats import parse_datetime, turkish_fold
from service.sandbox.omnitron.store import Row, Table

Kind = Literal["int", "str", "bool", "date", "decimal"]

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 1000
_TEXT_LOOKUPS = ("iexact", "contains", "icontains", "startswith", "istartswith")
_RANGE_LOOKUPS = ("gt", "gte", "lt", "lte")
LOOKUPS = frozenset(("exact", "in", "isnull", *_TEXT_LOOKUPS, *_RANGE_LOOKUPS))
_TRUE = frozenset(("true", "1", "yes", "on"))
_FALSE = frozenset(("false", "0", "no", "off"))


@dataclass(frozen=True, slots=True)
class Field:
    """A declared filter: how to read its field from a row, its type, its lookups.

    ``lookups`` are the ones the filter set declares: ``name`` alone is ``exact``
    (when declared), ``name__<lookup>`` any declared lookup; others are ignored.
    ``many`` fields yield several values (e.g. a location's mapping codes); a row
    matches when any of them does. ``multiple`` filters (django-filter's
    ``MultipleChoiceFilter``) OR the values of a repeated key; any other filter reads
    only the last one, as a plain ``CharFilter`` does.
    """

    get: Callable[[Row], Any]
    kind: Kind = "str"
    many: bool = False
    lookups: frozenset[str] = frozenset({"exact"})
    multiple: bool = False


def column(
    name: str, kind: Kind = "str", lookups: Iterable[str] = ("exact",), *, multiple: bool = False
) -> Field:
    """A filter on the row's ``name`` key, declaring ``lookups``."""
    return Field(lambda row: row.get(name), kind, lookups=frozenset(lookups), multiple=multiple)


def declare(field: Field, *lookups: str) -> Field:
    """``field`` declaring exactly ``lookups`` (for shared or computed fields)."""
    return replace(field, lookups=frozenset(lookups))


Fields = Mapping[str, Field]


def _coerce(name: str, kind: Kind, raw: str) -> Any:
    """Turn a query-string value into the field's type (400 like django-filter)."""
    if kind == "int":
        try:
            return int(raw.strip())
        except ValueError:
            raise field_error(name, "Enter a whole number.") from None
    if kind == "bool":
        folded = raw.strip().lower()
        if folded in _TRUE:
            return True
        if folded in _FALSE:
            return False
        raise _IgnoredValueError
    if kind == "date":
        moment = parse_datetime(raw)
        if moment is None:
            raise field_error(name, "Enter a valid date/time.")
        return moment
    if kind == "decimal":
        try:
            return Decimal(raw)
        except InvalidOperation:
            raise field_error(name, "Enter a number.") from None
    return raw


class _IgnoredValueError(Exception):
    """A value django-filter would drop silently (e.g. an unknown boolean)."""


def _normalise(kind: Kind, value: Any) -> Any:
    """Bring a stored value to the comparable type of its field."""
    if value is None:
        return None
    if kind == "date":
        return parse_datetime(value)
    if kind == "decimal":
        try:
            return Decimal(str(value))
        except InvalidOperation:
            return None
    if kind == "int":
        try:
            return int(value)
        except (TypeError, ValueError):
            return None
    if kind == "str" and not isinstance(value, str):
        return str(value)
    return value


@dataclass(frozen=True, slots=True)
class Condition:
    """One parsed filter: ``field__lookup=values``."""

    field: str
    lookup: str
    values: tuple[Any, ...]

    def test(self, spec: Field, row: Row) -> bool:
        """Whether ``row`` passes this filter."""
        raw = spec.get(row)
        stored = list(raw) if spec.many else [raw]
        values = [_normalise(spec.kind, v) for v in (stored or [None])]
        return any(self._test_one(spec.kind, value) for value in values)

    def _test_one(self, kind: Kind, value: Any) -> bool:
        lookup = self.lookup
        if lookup == "isnull":
            return (value is None) == bool(self.values[0])
        if value is None:
            return False
        if lookup in ("exact", "in"):
            return value in self.values
        if lookup == "iexact":
            return any(turkish_fold(str(value)) == turkish_fold(v) for v in self.values)
        text, wanted = str(value), str(self.values[-1])
        if lookup == "contains":
            return wanted in text
        if lookup == "icontains":
            return turkish_fold(wanted) in turkish_fold(text)
        if lookup == "startswith":
            return text.startswith(wanted)
        if lookup == "istartswith":
            return turkish_fold(text).startswith(turkish_fold(wanted))
        bound = self.values[-1]
        try:
            if lookup == "gt":
                return bool(value > bound)
            if lookup == "gte":
                return bool(value >= bound)
            if lookup == "lt":
                return bool(value < bound)
            return bool(value <= bound)
        except TypeError:
            return False


def _declared(key: str, fields: Fields) -> tuple[str, str] | None:
    """``(field, lookup)`` for a declared filter parameter, else ``None`` (ignored)."""
    if key in fields:
        return (key, "exact") if "exact" in fields[key].lookups else None
    head, _, tail = key.rpartition("__")
    if head in fields and tail in LOOKUPS and tail in fields[head].lookups:
        return head, tail
    return None


def parse_conditions(params: QueryParams, fields: Fields) -> list[Condition]:
    """The declared filters of a query string; anything else is ignored (as in django-filter)."""
    conditions: list[Condition] = []
    for key in dict.fromkeys(params.keys()):
        declared = _declared(key, fields)
        if declared is None:
            continue
        name, lookup = declared
        spec = fields[name]
        raws = [r for r in params.getlist(key)]
        if lookup != "in" and not spec.multiple:
            raws = raws[-1:]  # a plain filter reads the last value of a repeated key
        if lookup == "in":
            raws = [part for r in raws for part in r.split(",") if part.strip() != ""]
            if not raws:
                continue
        elif all(r == "" for r in raws):
            continue  # django-filter skips empty values
        try:
            if lookup == "isnull":
                flag = _coerce(key, "bool", raws[-1])
                conditions.append(Condition(name, lookup, (flag,)))
                continue
            if lookup in _TEXT_LOOKUPS:
                values = tuple(raws)
            else:
                values = tuple(_coerce(key, spec.kind, r) for r in raws if r != "")
        except _IgnoredValueError:
            continue
        conditions.append(Condition(name, lookup, values))
    return conditions


def select(
    table: Table,
    fields: Fields,
    params: QueryParams,
    *,
    where: Callable[[Row], bool] | None = None,
    candidates: Iterable[int] | None = None,
) -> list[Row]:
    """Rows of ``table`` passing the query's filters (and ``where``), ordered as asked.

    Equality filters on indexed fields narrow the candidates first, so hot lookups
    (remote ids, order numbers, address hashes) never scan the table.
    """
    conditions = parse_conditions(params, fields)
    pool: set[int] | None = set(candidates) if candidates is not None else None
    for cond in conditions:
        if cond.lookup in ("exact", "in") and table.has_index(cond.field):
            hits: set[int] = set()
            for value in cond.values:
                hits |= table.lookup(cond.field, value)
            pool = hits if pool is None else pool & hits
    rows = [
        row
        for row in table.rows(pool)
        if all(c.test(fields[c.field], row) for c in conditions) and (where is None or where(row))
    ]
    return order_rows(rows, fields, params)


def order_rows(rows: list[Row], fields: Fields, params: QueryParams) -> list[Row]:
    """Apply ``sort``/``ordering`` (comma-joined, ``-`` for descending); pk order otherwise."""
    spec = params.get("sort") or params.get("ordering")
    if not spec:
        return rows
    keys = [part.strip() for part in spec.split(",") if part.strip()]
    for key in reversed(keys):
        name = key.lstrip("-")
        if name in ("id", "pk"):
            getter: Callable[[Row], Any] = lambda row: row["pk"]  # noqa: E731
        elif name in fields:
            field = fields[name]
            getter = lambda row, f=field: _sort_key(f, row)  # noqa: E731
        else:
            continue
        rows = sorted(rows, key=getter, reverse=key.startswith("-"))
    return rows


def _sort_key(field: Field, row: Row) -> tuple[int, Any]:
    value = _normalise(field.kind, field.get(row)) if not field.many else None
    return (0, value) if value is not None else (1, 0)


def _positive(raw: str | None, default: int) -> int:
    try:
        value = int(raw) if raw is not None else default
    except ValueError:
        return default
    return value if value > 0 else default


def paginate(
    rows: list[Row], url: URL, serialize: Callable[[Row], dict[str, Any]]
) -> dict[str, Any]:
    """DRF page-number pagination: ``count``, absolute ``next``/``previous``, ``results``.

    ``next`` is ``null`` on the last page (the SDK pages on while ``next`` is truthy).
    """
    params = QueryParams(url.query)
    size = min(
        _positive(params.get("limit") or params.get("page_size"), DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE
    )
    raw_page = params.get("page", "1")
    try:
        page = int(raw_page)
    except ValueError:
        page = 0
    pages = max(1, -(-len(rows) // size))
    if page < 1 or page > pages:
        raise ApiError(404, {"detail": "Invalid page."})
    start = (page - 1) * size
    chunk = rows[start : start + size]
    next_url = str(url.include_query_params(page=page + 1)) if page < pages else None
    if page <= 1:
        previous_url = None
    elif page == 2:
        previous_url = str(url.remove_query_params("page"))
    else:
        previous_url = str(url.include_query_params(page=page - 1))
    return {
        "count": len(rows),
        "next": next_url,
        "previous": previous_url,
        "results": [serialize(row) for row in chunk],
    }


def as_int(value: Any) -> int | None:
    """Coerce an id that may arrive as ``"1"`` or ``1`` (None for blanks or junk)."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def newer(modified: Any, version: Any) -> bool:
    """Whether ``modified`` is later than ``version`` (a missing version is always older)."""
    moment = parse_datetime(modified)
    synced = parse_datetime(version)
    if synced is None:
        return True
    return moment is not None and moment > synced


__all__ = [
    "MAX_PAGE_SIZE",
    "Condition",
    "Field",
    "Fields",
    "as_int",
    "column",
    "declare",
    "newer",
    "order_rows",
    "paginate",
    "parse_conditions",
    "select",
]
