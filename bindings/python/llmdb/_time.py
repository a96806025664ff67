"""Times: Python datetimes and ints to LLMDB's microseconds since the epoch, and back."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Union

from . import _capi

#: What the API accepts wherever it takes a time: an aware datetime, a naive datetime
#: (taken as UTC), or an int (microseconds since 1970-01-01T00:00:00Z).
Time = Union[datetime, int]

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_MIN_US = (datetime.min.replace(tzinfo=UTC) - EPOCH) // _US
_MAX_US = (datetime.max.replace(tzinfo=UTC) - EPOCH) // _US


def to_us(value: object, name: str) -> int:
    """Microseconds since the epoch for a time argument (`name` is for the error)."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            value = value.replace(tzinfo=UTC)
        return (value - EPOCH) // _US
    if isinstance(value, int) and not isinstance(value, bool):
        if not _capi.TIME_BEGINNING <= value <= _capi.TIME_END:
            from ._errors import InvalidArgument

            raise InvalidArgument(f"{name}: {value} is outside the 64-bit range of microseconds")
        return value
    raise TypeError(
        f"{name} must be a datetime or an int (microseconds since the epoch), not {type(value).__name__}"
    )


def opt_us(value: object, name: str) -> int:
    """As `to_us`, with None for LLMDB_TIME_UNSET (the function's default)."""
    if value is None:
        return _capi.TIME_UNSET
    return to_us(value, name)


def from_us(us: int) -> datetime | None:
    """An aware UTC datetime, or None for LLMDB_TIME_END (an open end).

    Instants outside datetime's years 1 to 9999 come back as datetime.min or
    datetime.max (UTC).
    """
    if us == _capi.TIME_END:
        return None
    if us < _MIN_US:
        return datetime.min.replace(tzinfo=UTC)
    if us > _MAX_US:
        return datetime.max.replace(tzinfo=UTC)
    return EPOCH + timedelta(microseconds=us)


def from_iso(text: str | None) -> datetime | None:
    """Parses the library's ISO-8601 text (`2024-03-01T00:00:00.000000Z`); None or "∞" is None."""
    if text is None or text == "∞":
        return None
    t = text[:-1] + "+00:00" if text.endswith("Z") else text
    try:
        d = datetime.fromisoformat(t)
    except ValueError:
        # Years outside datetime's 1..9999: 0000 and signed expanded years (-YYYYYY) before,
        # +YYYYYY after.
        before = text.startswith("-") or text.startswith("0000")
        return datetime.min.replace(tzinfo=UTC) if before else datetime.max.replace(tzinfo=UTC)
    return d if d.tzinfo is not None else d.replace(tzinfo=UTC)


def to_iso(value: datetime) -> str:
    """ISO-8601 text in UTC with microseconds and 'Z' (naive datetimes are taken as UTC)."""
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=UTC)
    v = value.astimezone(UTC)
    return (
        f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}"
        f".{v.microsecond:06d}Z"
    )
