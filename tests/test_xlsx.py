"""Exports to xlsx never fail on text a worksheet cannot hold (a 500 found by fuzzing the merged OpenAPI)."""

from __future__ import annotations

import io

import pytest
from gongkai_shared.xlsx import worksheet_row
from openpyxl import Workbook, load_workbook
from openpyxl.utils.exceptions import IllegalCharacterError


def test_control_characters_are_dropped_and_the_rest_kept() -> None:
    row = [1, "示范市\x0b民政局\x00", None, 2.5, "第一行\n第二行\t制表"]
    wb = Workbook()
    with pytest.raises(IllegalCharacterError):
        wb.active.append(row)  # what the exports did before
    wb = Workbook()
    wb.active.append(worksheet_row(row))
    buf = io.BytesIO()
    wb.save(buf)
    cells = [c.value for c in next(load_workbook(io.BytesIO(buf.getvalue())).active.iter_rows())]
    assert cells == [1, "示范市民政局", None, 2.5, "第一行\n第二行\t制表"]  # newlines and tabs are legal
