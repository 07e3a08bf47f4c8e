"""Rows for openpyxl worksheets: text without the control characters a worksheet cannot hold.

Names, titles and answers typed by people or sent by other systems may carry control characters
(a vertical tab pasted from Word, a NUL from a broken client). openpyxl refuses them with an
exception, which would make an export answer 500; they carry no meaning in a spreadsheet, so they
are dropped (found by fuzzing the merged OpenAPI).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

__all__ = ["worksheet_row"]


def worksheet_row(values: Iterable[Any]) -> list[Any]:
    """``values`` with every string stripped of the characters a worksheet cannot hold."""
    return [ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in values]
