"""Interpretation benchmark: the deterministic draft written from a policy, beside rjieba segmentation.

Run: ``.venv/bin/python bench/interpretation.py [--sizes 2000,10000,50000] [--repeat N]``

No servers: drafting (services/interpretation/gongkai_interpretation/drafting.py) is pure. For each
size, a policy of that many characters is generated from the structure real policies have (a title;
chapters 第X章; articles 第X条 whose sentences carry a preamble with 为了…根据《…》, goals 到20XX年,
scope 适用于, definitions 本办法所称…是指, amounts 元/万元, percentages, dates, periods in working
days, counts, 应当/不得 duties, 补贴/补助/免费 measures), deterministically (a fixed seed). Then, in
the same run and process, alternately:

- draft: ``make_draft(title, text)`` (sentences, structure, every element, Q&A; as the service does);
- segment: ``rjieba.cut(text)``, the tokenizer alone on the same text (the reference the issue names).

Each is timed ``--repeat`` times (after one warm-up), the two taking turns sample by sample, in CPU
time of this process (``time.process_time``: on a shared machine, time spent waiting for a CPU is not
counted); a sample is enough calls for ~20,000 characters (10 calls at 2,000); the median counts.
Targets (issue 5): drafting within 5× of segmentation, and linear in length (the time per character of
the largest document at most 1.5× that of the smallest).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import rjieba

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services" / "interpretation"))
from gongkai_interpretation.drafting import make_draft

TARGET_RATIO = 5.0
TARGET_LINEAR = 1.5
SEED = 20261122

_CN = "零一二三四五六七八九"


def cn(n: int) -> str:
    """Chinese numeral for 1..999 as articles and chapters are numbered (十九, 一百二十三)."""
    if n < 10:
        return _CN[n]
    if n < 20:
        return "十" + (_CN[n % 10] if n % 10 else "")
    if n < 100:
        return _CN[n // 10] + "十" + (_CN[n % 10] if n % 10 else "")
    rest = n % 100
    tail = "" if rest == 0 else ("零" + cn(rest) if rest < 10 else ("一" + cn(rest) if rest < 20 else cn(rest)))
    return _CN[n // 100] + "百" + tail


SUBJECTS = ["困难群众", "小微企业", "高校毕业生", "农村低收入人口", "退役军人", "老年人", "残疾人", "新就业形态劳动者"]
MEASURES = [
    "临时生活补助",
    "一次性就业补贴",
    "租房补贴",
    "技能培训补贴",
    "社会保险补贴",
    "医疗救助",
    "助学补助",
    "创业担保贷款贴息",
]
AGENCIES = [
    "市民政局",
    "市人力资源社会保障局",
    "市财政局",
    "区县人民政府",
    "乡镇人民政府（街道办事处）",
    "市医疗保障局",
]
CHAPTERS = ["总则", "对象和条件", "标准和程序", "资金管理", "监督检查", "法律责任", "附则"]
LAWS = [
    "《社会救助暂行办法》",
    "《中华人民共和国就业促进法》",
    "《国务院关于进一步做好稳就业工作的意见》",
    "《省社会救助条例》",
]


def article_sentences(rng: random.Random, k: int) -> list[str]:
    subject, measure, agency = rng.choice(SUBJECTS), rng.choice(MEASURES), rng.choice(AGENCIES)
    amount, pct, days = (
        rng.choice([300, 500, 800, 1000, 2000, 5000]),
        rng.choice([50, 60, 80, 150]),
        rng.choice([3, 5, 7, 10, 15, 20]),
    )
    term, years = rng.choice(["应急性", "过渡性", "补偿性"]), rng.choice([1, 2, 3])
    goal_year, goal_pct, reach = rng.choice([2026, 2027, 2028]), rng.choice([90, 95, 98]), rng.choice([1, 2, 5])
    months = rng.choice([3, 6, 12])
    kinds = [
        f"对符合条件的{subject}，按照每人每月{amount}元的标准给予{measure}，期限最长不超过{months}个月。",
        f"{agency}应当自受理申请之日起{days}个工作日内完成审核，并将审核结果书面告知申请人。",
        f"对家庭人均收入低于当地最低生活保障标准{pct}%的{subject}，优先给予{measure}，并免费提供政策咨询服务。",
        f"{measure}资金实行专账管理，专款专用，任何单位和个人不得挤占挪用、截留滞留。",
        f"到{goal_year}年，全市{subject}{measure}覆盖率达到{goal_pct}%以上，累计惠及{reach}万人次。",
        f"本办法所称{measure}，是指政府对{subject}因特定困难给予的{term}资金支持。",
        f"{agency}负责本行政区域内{measure}的组织实施和监督管理工作。",
        f"申请人应当如实提供家庭收入、财产等情况，采取虚报、隐瞒等手段骗取{measure}的，{years}年内不再受理其申请。",
        f"单笔金额在{rng.choice([1, 3, 5])}万元以下的，可以授权{agency}审批。",
    ]
    return rng.sample(kinds, k)


def generate_policy(chars: int, seed: int = SEED) -> tuple[str, str]:
    """A policy of about ``chars`` characters: title, chapters, articles; (title, text)."""
    rng = random.Random(seed + chars)
    title = "示范市社会救助和就业扶持管理办法"
    parts = [title, ""]
    n_article = 1
    chapter = 0
    size = len(title)
    preamble = (
        f"第一条　为了进一步完善社会救助体系，切实保障{rng.choice(SUBJECTS)}基本生活，根据{LAWS[0]}{LAWS[2]}等规定，"
        "结合本市实际，制定本办法。"
    )
    scope = "第二条　本办法适用于本市行政区域内社会救助和就业扶持的申请、审核审批、资金发放及监督管理工作。"
    while size < chars:
        chapter += 1
        name = CHAPTERS[(chapter - 1) % len(CHAPTERS)]
        parts += [f"第{cn(chapter)}章　{name}", ""]
        for _ in range(rng.randint(4, 9)):
            if n_article == 1:
                text = preamble
            elif n_article == 2:
                text = scope
            else:
                text = f"第{cn(n_article)}条　" + "".join(article_sentences(rng, rng.randint(1, 3)))
            parts += [text, ""]
            n_article += 1
            size += len(text) + 2
            if size >= chars:
                break
    text = "\n".join(parts)[:chars]
    return title, text


def median_times(fns: list[Callable[[], object]], repeat: int, batch: int) -> list[float]:
    """Median CPU time of one call of each of ``fns``. Each timed sample is ``batch`` calls, and the
    functions take turns sample by sample, so that a busy or quiet moment of the shared machine falls on
    all of them alike (their ratio is what the targets judge)."""
    for fn in fns:
        fn()  # warm-up (regex and dictionary caches)
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for fn, times in zip(fns, samples, strict=True):
            t0 = time.process_time()
            for _ in range(batch):
                fn()
            times.append((time.process_time() - t0) / batch)
    return [statistics.median(times) for times in samples]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000,10000,50000", help="policy lengths in characters")
    parser.add_argument("--repeat", type=int, default=15, help="timed runs per size and method (median counts)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    load_before = os.getloadavg()
    rjieba.cut("预热分词词典")  # load the dictionary outside the timings

    rows = []
    for n in sizes:
        title, text = generate_policy(n)
        draft = make_draft(title, text)
        batch = max(1, 20_000 // n)  # a sample of at least ~20,000 characters (~5 ms of drafting)
        t_draft, t_seg = median_times(
            [lambda t=title, x=text: make_draft(t, x), lambda x=text: rjieba.cut(x)], args.repeat, batch
        )
        rows.append((n, len(text), draft, t_draft, t_seg))
    load_after = os.getloadavg()

    print()
    print("=" * 104)
    print("Gongkai interpretation benchmark: deterministic draft from the policy, beside rjieba segmentation")
    print("=" * 104)
    print(
        f"machine: nproc {os.cpu_count()}, Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.system()} {platform.release()}; 1-min load average {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after (other processes share these CPUs: figures vary run to run)"
    )
    print(
        f"run: --sizes {args.sizes} --repeat {args.repeat}; generated policies (seed {SEED}): chapters, articles, "
        "preamble 为了…根据《…》, figures, definitions, subsidies; median CPU time per call, draft and segmentation "
        "timed in turns"
    )
    print()
    head = (
        f"{'chars':>8}{'sentences':>11}{'articles':>10}{'elements':>10}{'Q&A':>5}"
        f"{'draft ms':>11}{'segment ms':>12}{'draft/seg':>11}{'draft µs/char':>15}{'seg µs/char':>13}"
    )
    print(head)
    print("-" * len(head))
    for _, length, draft, t_draft, t_seg in rows:
        articles = sum(1 for h in draft.headings if h.level == 2)
        print(
            f"{length:>8}{len(draft.sentences):>11}{articles:>10}{len(draft.covered):>10}{len(draft.qa):>5}"
            f"{t_draft * 1e3:>11.2f}{t_seg * 1e3:>12.2f}{t_draft / t_seg:>11.2f}"
            f"{t_draft / length * 1e6:>15.3f}{t_seg / length * 1e6:>13.3f}"
        )
    print()
    worst = max(t_draft / t_seg for _, _, _, t_draft, t_seg in rows)
    per_char = [t_draft / length for _, length, _, t_draft, _ in rows]
    growth = per_char[-1] / per_char[0]
    ok_ratio = worst <= TARGET_RATIO
    ok_linear = growth <= TARGET_LINEAR
    print(
        f"drafting within {TARGET_RATIO:g}× of segmentation: worst ratio {worst:.2f}×  {'PASS' if ok_ratio else 'FAIL'}"
    )
    print(
        f"linear in length: time per character at {rows[-1][1]} chars / at {rows[0][1]} chars = {growth:.2f} "
        f"(target ≤ {TARGET_LINEAR:g})  {'PASS' if ok_linear else 'FAIL'}"
    )
    return 0 if ok_ratio and ok_linear else 1


if __name__ == "__main__":
    sys.exit(main())
