"""Charts of the assessment as SVG written by hand (no plotting library): a bar chart of the scores by department
and a line chart of the trend. Every text is XML-escaped; labels are Chinese, so the font list names common CJK
fonts and the width of a label is estimated at one em per CJK character.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

FONT = "'Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei',sans-serif"
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def _attr(value: str) -> str:
    return escape(value, {'"': "&quot;"})


def _text_width(text: str, size: float) -> float:
    return sum(size if ord(ch) > 0x2E80 else size * 0.6 for ch in text)


def _svg(width: float, height: float, title: str, body: list[str]) -> str:
    return "\n".join(
        [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="{_attr(FONT)}" role="img">',
            f"<title>{escape(title)}</title>",
            '<rect x="0" y="0" width="100%" height="100%" fill="#ffffff"/>',
            f'<text x="{width / 2:.1f}" y="28" font-size="18" text-anchor="middle" font-weight="bold">'
            f"{escape(title)}</text>",
            *body,
            "</svg>",
        ]
    )


def bar_chart(title: str, bars: Sequence[tuple[str, float | None]], *, max_value: float = 100.0) -> str:
    """Horizontal bars, one per department (label, score); a department without a score shows “无法计分”."""
    size = 13.0
    label_w = max([_text_width(label, size) for label, _ in bars] + [60.0]) + 16
    bar_h, gap, top, plot_w = 22.0, 10.0, 50.0, 480.0
    width = label_w + plot_w + 90
    height = top + len(bars) * (bar_h + gap) + 40
    body: list[str] = []
    x0 = label_w
    for tick in range(0, 101, 20):
        x = x0 + plot_w * tick / 100
        body.append(
            f'<line x1="{x:.1f}" y1="{top - 6:.1f}" x2="{x:.1f}" y2="{height - 30:.1f}" stroke="#dddddd"/>'
            f'<text x="{x:.1f}" y="{height - 14:.1f}" font-size="11" text-anchor="middle">'
            f"{tick * max_value / 100:g}</text>"
        )
    for i, (label, value) in enumerate(bars):
        y = top + i * (bar_h + gap)
        body.append(
            f'<text x="{x0 - 8:.1f}" y="{y + bar_h * 0.7:.1f}" font-size="{size:g}" text-anchor="end">'
            f"{escape(label)}</text>"
        )
        if value is None:
            body.append(
                f'<text x="{x0 + 4:.1f}" y="{y + bar_h * 0.7:.1f}" font-size="12" fill="#888888">无法计分</text>'
            )
            continue
        w = plot_w * max(0.0, min(value, max_value)) / max_value
        body.append(
            f'<rect x="{x0:.1f}" y="{y:.1f}" width="{w:.1f}" height="{bar_h:g}" fill="{PALETTE[0]}">'
            f"<title>{escape(label)}：{value:g}</title></rect>"
            f'<text x="{x0 + w + 6:.1f}" y="{y + bar_h * 0.7:.1f}" font-size="12">{value:g}</text>'
        )
    return _svg(width, height, title, body)


def line_chart(
    title: str,
    periods: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    max_value: float = 100.0,
) -> str:
    """One line per department over the periods; a period without a score breaks the line."""
    size = 12.0
    plot_w, plot_h, left, top = 560.0, 300.0, 50.0, 50.0
    legend_w = max([_text_width(name, size) for name, _ in series] + [60.0]) + 40
    width = left + plot_w + legend_w + 20
    height = max(top + plot_h + 60, top + len(series) * 20 + 20)
    body: list[str] = []
    for tick in range(0, 101, 20):
        y = top + plot_h - plot_h * tick / 100
        body.append(
            f'<line x1="{left:.1f}" y1="{y:.1f}" x2="{left + plot_w:.1f}" y2="{y:.1f}" stroke="#dddddd"/>'
            f'<text x="{left - 6:.1f}" y="{y + 4:.1f}" font-size="11" text-anchor="end">'
            f"{tick * max_value / 100:g}</text>"
        )
    n = len(periods)

    def x_of(i: int) -> float:
        return left + (plot_w * (i + 0.5) / n if n else 0)

    for i, label in enumerate(periods):
        body.append(
            f'<text x="{x_of(i):.1f}" y="{top + plot_h + 20:.1f}" font-size="{size:g}" text-anchor="middle">'
            f"{escape(label)}</text>"
        )
    for k, (name, values) in enumerate(series):
        color = PALETTE[k % len(PALETTE)]
        segment: list[str] = []
        segments: list[list[str]] = []
        for i, v in enumerate(values):
            if v is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            y = top + plot_h - plot_h * max(0.0, min(v, max_value)) / max_value
            segment.append(f"{x_of(i):.1f},{y:.1f}")
            body.append(
                f'<circle cx="{x_of(i):.1f}" cy="{y:.1f}" r="3" fill="{color}">'
                f"<title>{escape(name)} {escape(periods[i])}：{v:g}</title></circle>"
            )
        if segment:
            segments.append(segment)
        for seg in segments:
            if len(seg) > 1:
                body.append(f'<polyline points="{" ".join(seg)}" fill="none" stroke="{color}" stroke-width="2"/>')
        ly = top + k * 20
        lx = left + plot_w + 20
        body.append(
            f'<line x1="{lx:.1f}" y1="{ly:.1f}" x2="{lx + 18:.1f}" y2="{ly:.1f}" stroke="{color}" stroke-width="3"/>'
            f'<text x="{lx + 24:.1f}" y="{ly + 4:.1f}" font-size="{size:g}">{escape(name)}</text>'
        )
    return _svg(width, height, title, body)


__all__ = ["bar_chart", "line_chart"]
