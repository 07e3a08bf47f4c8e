"""The draft written from the policy, the clause differences and the quality check: pure, deterministic.

domain.md §4 lists the content elements (背景依据、目标任务、主要内容、适用范围、执行标准、注意事项、
关键词注释、惠民利民举措、新旧政策差异) and forbids an interpretation that merely excerpts or compresses
the document (文件要点摘抄、文件压缩). The policy texts are in tests/data (a fictional 示范市 管理办法,
2024 and its 2026 revision, written for these tests).
"""

from __future__ import annotations

from pathlib import Path

from gongkai_interpretation.diff import diff_policies
from gongkai_interpretation.drafting import ELEMENTS, cn_number, find_figures, make_draft, split_sentences, structure
from gongkai_interpretation.quality import check, copied_share

DATA = Path(__file__).parent / "data"
OLD = (DATA / "interpretation_policy_2024.txt").read_text(encoding="utf-8")
NEW = (DATA / "interpretation_policy_2026.txt").read_text(encoding="utf-8")
TITLE = "示范市城乡居民临时救助管理办法"

NOTICE = """示范市人民政府办公室关于支持小微企业稳岗就业的通知

为了稳定就业岗位，依据《中华人民共和国就业促进法》，现就有关事项通知如下。
一、支持范围
本通知适用于在本市登记注册的小微企业。
二、支持措施
（一）稳岗补贴。按企业上年度实际缴纳失业保险费的60%给予返还。
（二）吸纳就业补助。每吸纳1名登记失业人员，给予一次性补助2000元。
1. 申请材料须在30日内提交。
2. 企业不得虚报参保人数。
三、工作目标
到2027年，全市新增就业岗位5万个。
"""


def test_sentences_carry_offsets_and_their_article() -> None:
    sentences = split_sentences(NEW)
    for s in sentences:
        assert NEW[s.start : s.end] == s.text
    nine = [s for s in sentences if s.article == "第九条"]
    assert len(nine) == 1 and "800元" in nine[0].text
    assert nine[0].chapter == "第二章　救助对象和标准"


def test_structure_finds_chapters_articles_and_outline_headings() -> None:
    headings = structure(NEW)
    assert [h.title for h in headings if h.level == 1] == ["总则", "救助对象和标准", "申请和审批", "监督管理", "附则"]
    assert len([h for h in headings if h.level == 2]) == 19
    outline = structure(NOTICE)
    assert [(h.level, h.label) for h in outline] == [
        (3, "一、"),
        (3, "二、"),
        (4, "（一）"),
        (4, "（二）"),
        (5, "1."),
        (5, "2."),
        (3, "三、"),
    ]
    assert cn_number("第十九条") == 19 and cn_number("第一百二十三条") == 123 and cn_number("二十、") == 20


def test_figures_amounts_percentages_dates_periods_counts() -> None:
    found = [
        (f.text, f.kind)
        for f in find_figures("补助2000元，返还60%，自2026年7月1日起，30日内，吸纳1名，最高3万元，标准的4倍")
    ]
    assert found == [
        ("2000元", "amount"),
        ("60%", "percent"),
        ("2026年7月1日", "date"),
        ("30日", "duration"),
        ("1名", "count"),
        ("3万元", "amount"),
        ("4倍", "count"),
    ]
    assert find_figures("一次性临时救助，第八条") == []  # 一次性 is not a count, 第八条 not a figure


def test_draft_covers_the_elements_and_every_sentence_points_to_the_policy() -> None:
    """domain.md §4 content elements, each draft sentence with the policy sentences it came from."""
    draft = make_draft(TITLE, NEW)
    sentences = {s.id: s for s in draft.sentences}
    assert set(draft.covered) == {k for k, _ in ELEMENTS} - {"changes"}  # no superseded policy given
    for key, entries in draft.elements.items():
        for entry in entries:
            assert entry.sources, f"{key}: {entry.text} has no source"
            for sid, (start, end) in zip(entry.sources, entry.spans, strict=True):
                assert NEW[start:end] == sentences[sid].text
    background = draft.elements["background"]
    assert background[0].text == "出台目的：进一步完善分层分类社会救助体系。"
    assert "《社会救助暂行办法》" in background[1].text
    assert sentences[background[0].sources[0]].article == "第一条"
    goals = draft.elements["goals"][0]
    assert "2027年" in goals.text and {f.text for f in goals.figures} >= {"2027年", "7个工作日", "98%"}
    assert draft.elements["terms"][0].text.startswith("【临时救助】：指对因遭遇突发事件")
    assert draft.elements["main_content"][0].text.startswith("共5章19条，分为总则、救助对象和标准")
    standards = " ".join(e.text for e in draft.elements["standards"])
    assert "800元" in standards and "3个工作日" in standards
    assert any("免费提供心理疏导服务" in e.text for e in draft.elements["benefits"])
    assert any("不得挤占挪用" in e.text for e in draft.elements["cautions"])
    rendered = draft.text()
    assert "【800元】" in rendered, "figures are highlighted"


def test_draft_questions_and_answers_keep_their_sources() -> None:
    draft = make_draft(TITLE, NEW, differences=diff_policies(OLD, NEW))
    assert 3 <= len(draft.qa) <= 6
    questions = [q.question for q in draft.qa]
    assert questions[0] == f"为什么出台《{TITLE}》？"
    assert "什么是“临时救助”？" in questions and "与原政策相比有哪些变化？" in questions
    assert all(q.sources for q in draft.qa if "变化" not in q.question)


def test_draft_is_deterministic_and_works_without_articles() -> None:
    assert make_draft(TITLE, NEW).as_dict() == make_draft(TITLE, NEW).as_dict()
    draft = make_draft("关于支持小微企业稳岗就业的通知", NOTICE)
    assert draft.elements["background"][0].text == "出台目的：稳定就业岗位。"
    assert "支持范围；支持措施；工作目标" in draft.elements["main_content"][0].text
    assert any("2000元" in e.text for e in draft.elements["benefits"])
    assert draft.elements["scope"][0].text == "适用范围：在本市登记注册的小微企业。"
    assert any("不得虚报参保人数" in e.text for e in draft.elements["cautions"])


def test_clause_differences_added_removed_changed_with_figures() -> None:
    """新旧政策差异 (domain.md §4): aligned by number and similarity, so an insertion does not shift every article."""
    diff = diff_policies(OLD, NEW)
    assert diff.counts == {"added": 1, "removed": 1, "changed": 7, "unchanged": 11}
    [added] = diff.of("added")
    assert added.new is not None and added.new.label == "第十一条" and "流浪乞讨" in added.new.text
    [removed] = diff.of("removed")
    assert removed.old is not None and removed.old.label == "第十六条" and "公示期为7天" in removed.old.text
    changed = {c.new.label: c for c in diff.of("changed") if c.new is not None}
    assert [(f.old, f.new) for f in changed["第八条"].figures] == [("3倍", "4倍"), ("20000元", "30000元")]
    assert [(f.old, f.new) for f in changed["第四条"].figures] == [
        ("2025年", "2027年"),
        ("10个工作日", "7个工作日"),
        ("95%", "98%"),
    ]
    fourteen = changed["第十四条"]
    assert fourteen.renumbered and fourteen.old is not None and fourteen.old.label == "第十三条"
    assert [(f.old, f.new) for f in fourteen.figures] == [("10个工作日", "5个工作日"), ("1000元", "3000元")]
    assert changed["第一条"].figures == () and any(s["new"] == "分层分类" for s in changed["第一条"].segments)
    lines = [line for line, _, _ in diff.summary_lines()]
    assert "第九条：500元调整为800元。" in lines
    assert "第一条：增加“分层分类”。" in lines
    # Same text, different number: unchanged (only renumbered).
    unchanged = {c.new.label: c for c in diff.of("unchanged") if c.new is not None}
    assert unchanged["第十六条"].old is not None and unchanged["第十六条"].old.label == "第十五条"
    assert diff_policies(NEW, NEW).counts["unchanged"] == 19


def test_copied_out_interpretation_gets_a_low_score_with_the_reason() -> None:
    """domain.md §4: 文件要点摘抄、文件压缩 are forbidden."""
    excerpt = "".join(line for line in NEW.splitlines() if line.startswith("第") and "条" in line[:5])
    report = check(text=excerpt, policy_body=NEW, policy_linked=True, forms={"text"})
    assert report.copied_share > 0.95
    assert report.score <= 30 and not report.passed
    copied = next(r for r in report.reasons if r.code == "copied")
    assert copied.points == 0 and "文件要点摘抄" in copied.detail and "文件压缩" in copied.detail

    # The deterministic draft is a starting point, not a finished interpretation: it quotes clauses.
    draft_text = make_draft(TITLE, NEW).text()
    assert copied_share(draft_text, NEW) > 0.3


def test_interpretation_in_own_words_with_forms_and_links_scores_high() -> None:
    own = (
        "出台背景：群众遇到突发困难时求助不便，依据国家规定修订。目标任务：力争2027年一周内办结。"
        "主要内容：办法共五章，明确了对象、标准、程序和监管。适用范围：本市城乡居民，外地务工人员也可就近求助。"
        "执行标准：生活补助每月800元，最长半年。注意事项：弄虚作假要退回资金。"
        "关键词注释：临时救助是指政府给突遇困难家庭的应急帮扶。惠民举措：免费心理疏导。"
        "新旧政策差异：补助标准提高，审批时限缩短。"
    )
    report = check(
        text=own,
        qa_pairs=[{"question": "外地人能申请吗？", "answer": "可以。"}],
        forms={"text", "graphic", "qa"},
        policy_body=NEW,
        policy_linked=True,
        supersedes=True,
    )
    assert report.elements_missing == [] and report.copied_share < 0.2
    assert report.score == 100 and report.passed
    unlinked = check(text=own, forms={"text"}, policy_body=NEW, policy_linked=False, supersedes=True)
    assert {r.code: r.points for r in unlinked.reasons} == {"elements": 40, "copied": 35, "forms": 0, "linked": 0}
    assert check(text="", policy_body=NEW, policy_linked=True).score == 0


# --------------------------------------------------------------------------------------------
# Behaviour the faster drafting (bench/interpretation.py) must keep: headings at the very start and
# after blank or indented lines, figures written in Chinese numerals only, clause selection around
# several matches, the clauses that hold a sentence's figures, an article line with no words.
# --------------------------------------------------------------------------------------------


def test_headings_at_the_start_after_blank_lines_and_indented_keep_their_offsets() -> None:
    text = (
        "第一章　总则\n\n\u3000\u3000第一条　为了测试，制定本办法。\n  第二条 本办法自公布之日起施行。\n"
        "第二章\n一、要求\n（一）细则"
    )
    headings = structure(text)
    assert [(h.level, h.label, h.title, text[h.start : h.start + len(h.label)]) for h in headings] == [
        (1, "第一章", "总则", "第一章"),
        (2, "第一条", "为了测试，制定本办法。", "第一条"),
        (2, "第二条", "本办法自公布之日起施行。", "第二条"),
        (1, "第二章", "", "第二章"),
        (3, "一、", "要求", "一、"),
        (4, "（一）", "细则", "（一）"),
    ]
    articles = {s.text: s.article for s in split_sentences(text)}
    assert articles["第二条 本办法自公布之日起施行。"] == "第二条" and articles["一、要求"] is None


def test_figures_in_chinese_numerals_only_and_what_is_not_a_figure() -> None:
    text = "期限三个月，补助五万元，比例百分之五十，提高两倍，十五个工作日内办结；第十条、一次性、第三章不是数字。"
    assert [(f.text, f.kind) for f in find_figures(text)] == [
        ("三个月", "duration"),
        ("五万元", "amount"),
        ("百分之五十", "percent"),
        ("两倍", "count"),
        ("十五个工作日", "duration"),
    ]
    for f in find_figures(text, offset=7):
        assert text[f.start - 7 : f.end - 7] == f.text


def test_clauses_around_several_matches_are_kept_once_in_order() -> None:
    """目标任务 keeps each matching clause and the two after it: overlapping ranges merge, in order."""
    draft = make_draft("标题", "标题\n目标明确，任务清楚，甲，乙，丙，丁。\n确保落实，戊，己，庚，力争完成，辛。")
    assert [e.text for e in draft.elements["goals"]] == [
        "目标明确，任务清楚，甲，乙。",
        "确保落实，戊，己，力争完成，辛。",
    ]


def test_standards_keep_the_clauses_holding_the_sentences_figures() -> None:
    draft = make_draft("标题", "标题\n第三条　补助标准为每月800元，由街道审核，审核在5个工作日内完成，另行公布。")
    [standard] = draft.elements["standards"]
    assert standard.text == "（第三条）金额、期限：补助标准为每月800元，审核在5个工作日内完成。"
    assert [f.text for f in standard.figures] == ["800元", "5个工作日"]


def test_an_article_line_without_words_does_not_break_the_draft() -> None:
    draft = make_draft("", "第一章　总则\n第一条：\n第二条　本办法自公布之日起施行。")
    assert draft.elements["main_content"][1].text.startswith("第一章“总则”（第一条至第二条）：第一条；")
