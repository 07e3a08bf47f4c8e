"""Attachments: the declared type must be what the bytes are (issue 3, "Bad input").

A file whose bytes do not match its declared type is refused: PDF (``%PDF-``), Word/Excel 2007+
(a ZIP package holding ``word/`` or ``xl/``), Word/Excel 97-2003 (an OLE compound file), PNG, JPEG,
and plain text (which must be valid UTF-8). The file name's extension must agree with the type.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

__all__ = ["ACCEPTED_TYPES", "FileProblem", "base_content_type", "check_attachment", "is_text"]

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOC = "application/msword"
XLS = "application/vnd.ms-excel"
PNG = "image/png"
JPEG = "image/jpeg"
TEXT = "text/plain"
CSV = "text/csv"

_OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

#: declared type -> (Chinese name, accepted file name extensions)
ACCEPTED_TYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    PDF: ("PDF 文档", (".pdf",)),
    DOCX: ("Word 文档（docx）", (".docx",)),
    XLSX: ("Excel 表格（xlsx）", (".xlsx",)),
    DOC: ("Word 文档（doc）", (".doc",)),
    XLS: ("Excel 表格（xls）", (".xls",)),
    PNG: ("PNG 图片", (".png",)),
    JPEG: ("JPEG 图片", (".jpg", ".jpeg")),
    TEXT: ("文本文件", (".txt",)),
    CSV: ("CSV 文件", (".csv",)),
}


@dataclass(frozen=True)
class FileProblem:
    field: str  # which part of the request is wrong: "header.content-type", "query.filename" or "body"
    message: str
    type: str


def base_content_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def is_text(content_type: str) -> bool:
    return base_content_type(content_type) in (TEXT, CSV)


def _zip_has(data: bytes, folder: str) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return any(name.startswith(folder) for name in archive.namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return False


def _bytes_match(kind: str, data: bytes) -> bool:
    if kind == PDF:
        return data.startswith(b"%PDF-")
    if kind == DOCX:
        return data.startswith(b"PK\x03\x04") and _zip_has(data, "word/")
    if kind == XLSX:
        return data.startswith(b"PK\x03\x04") and _zip_has(data, "xl/")
    if kind in (DOC, XLS):
        return data.startswith(_OLE_MAGIC)
    if kind == PNG:
        return data.startswith(_PNG_MAGIC)
    if kind == JPEG:
        return data.startswith(b"\xff\xd8\xff")
    if kind in (TEXT, CSV):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return b"\x00" not in data
    return False


def check_attachment(*, filename: str, content_type: str, data: bytes, max_bytes: int) -> FileProblem | None:
    """None when the file may be attached; else what is wrong and where."""
    kind = base_content_type(content_type)
    if kind not in ACCEPTED_TYPES:
        accepted = "、".join(name for name, _ in ACCEPTED_TYPES.values())
        return FileProblem("header.content-type", f"不支持的附件类型 {kind or '（未声明）'}；支持：{accepted}", "type")
    name, extensions = ACCEPTED_TYPES[kind]
    if not filename.lower().endswith(extensions):
        return FileProblem("query.filename", f"文件名扩展名与声明的类型（{name}）不符", "extension_mismatch")
    if not data:
        return FileProblem("body", "附件内容为空", "empty")
    if len(data) > max_bytes:
        return FileProblem("body", f"附件超过大小上限（{max_bytes} 字节）", "too_large")
    if not _bytes_match(kind, data):
        if kind in (TEXT, CSV):
            return FileProblem("body", "文本附件必须是有效的 UTF-8 编码", "not_utf8")
        return FileProblem("body", f"附件内容与声明的类型（{name}）不符", "content_mismatch")
    return None
