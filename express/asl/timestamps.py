"""RFC 3339 / ISO-8601 extended offset date-times, as ASL reads them.

AWS accepts ``2016-03-14T01:59:00Z``, a numeric offset, and any number of fractional
digits (nanoseconds included). A time without an offset, or without the ``T``, is not a
timestamp.
"""

from __future__ import annotations

import datetime
import re

__all__ = ["parse_timestamp"]

_TIMESTAMP = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|z|[+-]\d{2}:\d{2})$")


def parse_timestamp(text: object) -> float | None:
    """Epoch seconds, or None when ``text`` is not an RFC 3339 date-time with an offset."""
    if not isinstance(text, str):
        return None
    m = _TIMESTAMP.match(text)
    if m is None:
        return None
    year, month, day, hour, minute, second, fraction, offset = m.groups()
    try:
        tz = datetime.UTC
        if offset not in ("Z", "z"):
            sign = 1 if offset[0] == "+" else -1
            hours, minutes = int(offset[1:3]), int(offset[4:6])
            if hours > 23 or minutes > 59:
                return None
            tz = datetime.timezone(sign * datetime.timedelta(hours=hours, minutes=minutes))
        moment = datetime.datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=tz
        )
    except ValueError:
        return None
    return moment.timestamp() + (float("0." + fraction) if fraction else 0.0)
