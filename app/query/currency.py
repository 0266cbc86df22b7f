"""How current a source is: its date as shown with a reference, its age, and whether it may be superseded.

>>> from datetime import date
>>> age_years("2016-06", None, date(2026, 12, 1))
10.5
>>> age_years("", 2022, date(2026, 12, 1)), age_years("", None, date(2026, 12, 1))
(4.5, None)
>>> date_label("2025-12-30", "reviewed", 2025), date_label("", "", 2016), date_label("", "", None)
('reviewed 2025-12-30', '2016', '')
"""

from __future__ import annotations

import re
from datetime import date

_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def age_years(iso: str, year: int | None, today: date) -> float | None:
    """Years between a source's date (``YYYY[-MM[-DD]]``, else its year taken as mid-year) and ``today``."""
    m = _DATE.match(iso or "")
    if m:
        y, mo, d = int(m.group(1)), int(m.group(2) or 6), int(m.group(3) or 15)
    elif year:
        y, mo, d = year, 6, 15
    else:
        return None
    try:
        then = date(y, max(1, min(mo, 12)), max(1, min(d, 28)))
    except ValueError:
        return None
    return round((today - then).days / 365.25, 1)


def date_label(iso: str, kind: str, year: int | None) -> str:
    """What a reference shows as its date: "reviewed 2025-12-30", "released 2016-06", "2016" or "" (unknown)."""
    if iso:
        return f"{kind} {iso}" if kind else iso
    return str(year) if year else ""
