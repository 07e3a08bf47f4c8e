"""Chinese text utilities (gongkai_shared.text): normalisation, segmentation, search terms, similarity.

Search strings are checked against the real PostgreSQL (``to_tsvector('simple', …) @@
to_tsquery('simple', …)``), and recall is measured against plain substring matching, as
architecture.md ("Data") asks: 条例 art. 24 requires that published information can be retrieved.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator

import asyncpg
import pytest
from gongkai_shared.text import (
    STOP_WORDS,
    cosine_similarity,
    jaccard,
    minhash,
    minhash_similarity,
    normalize,
    search_tokens,
    segment,
    shingles,
    tsquery_text,
    tsvector_text,
)
from sqlalchemy.engine import make_url

REQUEST = "申请公开某某小区拆迁补偿方案"
REWORDED = ("关于公开某某小区拆迁补偿方案的申请", "请求公开某某小区拆迁补偿的具体方案")
UNRELATED = "请提供2023年全市财政预算执行情况报告"
SAME_FORMULA_OTHER_TOPIC = "申请公开某某街道2023年低保人员名单"


# --------------------------------------------------------------------------------------------
# Normalisation and tokens
# --------------------------------------------------------------------------------------------


def test_normalize_maps_full_width_collapses_whitespace_and_lower_cases_latin() -> None:
    assert normalize("  ＡＢＣ　１２３，Hello\n\t World  ") == "abc 123,hello world"
    assert normalize("《政府信息公开条例》第２０条") == "《政府信息公开条例》第20条"
    # Traditional characters stay as they are (no OpenCC dependency).
    assert normalize("政府資訊公開") == "政府資訊公開"


def test_segment_is_precise_mode_without_whitespace() -> None:
    assert segment("申请公开 某某小区") == ["申请", "公开", "某某", "小区"]
    assert segment("关于加强生态环境保护工作的通知") == ["关于", "加强", "生态", "环境保护", "工作", "的", "通知"]


def test_search_tokens_add_inner_words_and_drop_punctuation_stop_words_and_symbols() -> None:
    tokens = search_tokens("关于加强生态环境保护工作的通知！（E-mail：3.14）")
    assert tokens == [
        "关于",
        "加强",
        "生态",
        "环境",
        "保护",
        "环境保护",
        "工作",
        "通知",
        "mail",
        "e",
        "mail",
        "3",
        "14",
    ]
    assert not STOP_WORDS & set(tokens)


def test_search_tokens_keep_repeats_for_ranking() -> None:
    assert search_tokens("公开，公开，再公开").count("公开") == 3


def test_tsquery_is_an_and_of_quoted_terms_and_never_tsquery_syntax() -> None:
    assert tsquery_text("生态环境") == "'生态' & '环境'"
    assert tsquery_text("拆迁补偿方案") == "'拆迁' & '补偿' & '方案'"
    assert tsquery_text("中华人民共和国政府信息公开条例") == (
        "'中华' & '人民' & '共和国' & '政府' & '信息' & '公开' & '条例'"
    )
    assert tsquery_text("公开 公开") == "'公开'"
    assert tsquery_text("的 了 ！！") == ""


# --------------------------------------------------------------------------------------------
# Against PostgreSQL
# --------------------------------------------------------------------------------------------


@pytest.fixture
async def pg() -> AsyncIterator[asyncpg.Connection]:
    url = make_url(os.environ["DATABASE_URL"]).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(url)
    yield conn
    await conn.close()


TITLES = [
    "关于加强生态环境保护工作的通知",
    "某某市生态环境局2023年政府信息公开工作年度报告",
    "关于印发《某某区环境卫生管理办法》的通知",
    "某某小区国有土地上房屋征收与补偿方案（征求意见稿）",
    "某某街道2024年城乡最低生活保障对象公示",
    "关于某某路道路拆迁补偿安置方案的公告",
    "某某市人民政府关于调整最低工资标准的通知",
    "某某县农村集体土地征收补偿标准",
    "政府信息公开指南（2024年修订）",
    "某某区2023年财政预算执行情况和2024年财政预算草案的报告",
]


@pytest.mark.parametrize("query", ["环境", "生态环境", "补偿方案", "拆迁补偿", "最低生活保障", "财政预算", "信息公开"])
async def test_full_text_search_finds_every_title_containing_the_query(pg: asyncpg.Connection, query: str) -> None:
    """Recall against substring matching (architecture.md "Data"): every title containing the query is found."""
    expected = {t for t in TITLES if query in t}
    assert expected, "the corpus should contain the query"
    found = set()
    for title in TITLES:
        if await pg.fetchval(
            "SELECT to_tsvector('simple', $1) @@ to_tsquery('simple', $2)", tsvector_text(title), tsquery_text(query)
        ):
            found.add(title)
    assert expected <= found, expected - found


@pytest.mark.parametrize("query", ["a'b & c | !(d)", "':*' <-> 'x'", "E-mail: x@y.cn", "100%", "生态&环境|保护!"])
async def test_any_user_input_is_a_valid_tsquery(pg: asyncpg.Connection, query: str) -> None:
    q = tsquery_text(query)
    assert await pg.fetchval("SELECT to_tsvector('simple', $1) @@ to_tsquery('simple', $2)", tsvector_text(query), q), (
        "a text must match a query made of itself"
    )


@pytest.mark.parametrize("query", ["(((", "\\'", "的", "  "])
def test_a_query_without_terms_is_empty(query: str) -> None:
    assert tsquery_text(query) == ""


async def test_each_token_is_one_lexeme_in_postgresql(pg: asyncpg.Connection) -> None:
    text = "关于E-mail、3.14元和C++的 a_b 说明"
    tokens = tsvector_text(text).split(" ")
    lexemes = await pg.fetchval(
        "SELECT array_length(tsvector_to_array(to_tsvector('simple', $1)), 1)", " ".join(tokens)
    )
    assert lexemes == len(set(tokens))


# --------------------------------------------------------------------------------------------
# Similarity
# --------------------------------------------------------------------------------------------


def test_shingles_are_character_ngrams_without_punctuation() -> None:
    assert shingles("拆迁，补偿！") == {"拆迁", "迁补", "补偿"}
    assert shingles("拆迁补偿", n=3) == {"拆迁补", "迁补偿"}
    assert shingles("水") == {"水"}
    assert shingles("。！") == set()
    with pytest.raises(ValueError):
        shingles("x", n=0)


def test_jaccard() -> None:
    assert jaccard({"a", "b"}, {"b", "c"}) == pytest.approx(1 / 3)
    assert jaccard("拆迁补偿", "拆迁补偿") == 1.0
    assert jaccard("", "") == 0.0


@pytest.mark.parametrize("reworded", REWORDED)
def test_a_reworded_application_is_similar_by_every_measure(reworded: str) -> None:
    """Similar applications (依申请转主动, domain.md §2) are found whatever the wording."""
    assert jaccard(REQUEST, reworded) > 0.5
    assert minhash_similarity(minhash(REQUEST), minhash(reworded)) > 0.5
    assert cosine_similarity(REQUEST, reworded) > 0.5


def test_an_unrelated_application_is_not_similar() -> None:
    assert jaccard(REQUEST, UNRELATED) < 0.2
    assert minhash_similarity(minhash(REQUEST), minhash(UNRELATED)) < 0.2
    assert cosine_similarity(REQUEST, UNRELATED) < 0.2


def test_a_shared_formula_lifts_unweighted_cosine_and_weights_remove_it() -> None:
    """申请公开某某… is in every application: weighted by IDF it no longer makes texts look alike."""
    assert jaccard(REQUEST, SAME_FORMULA_OTHER_TOPIC) < 0.25
    assert minhash_similarity(minhash(REQUEST), minhash(SAME_FORMULA_OTHER_TOPIC)) < 0.2
    assert cosine_similarity(REQUEST, SAME_FORMULA_OTHER_TOPIC) > 0.3
    idf = {"申请": 0.05, "公开": 0.05, "某某": 0.05}
    assert cosine_similarity(REQUEST, SAME_FORMULA_OTHER_TOPIC, weights=idf) < 0.2
    assert cosine_similarity(REQUEST, REWORDED[0], weights=idf) > 0.5


def test_minhash_estimates_jaccard() -> None:
    a = "某某市人民政府办公室关于印发某某市政务公开工作要点的通知" * 3
    b = "某某市人民政府办公室关于印发某某市政务服务工作要点的通知" * 3
    assert abs(minhash_similarity(minhash(a, 256), minhash(b, 256)) - jaccard(a, b)) < 0.1
    assert minhash(a) == minhash(a)
    assert len(minhash(a, 16)) == 16
    assert minhash_similarity(minhash(""), minhash("")) == 0.0
    with pytest.raises(ValueError):
        minhash_similarity(minhash(a, 16), minhash(a, 32))


def test_minhash_is_the_same_in_another_process_with_another_hash_seed() -> None:
    """Signatures are stored and compared later, by other processes: Python's salted hash() must not leak in."""
    code = "from gongkai_shared.text import minhash; print(minhash('申请公开某某小区拆迁补偿方案'))"
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2", "random")
    }
    assert outputs == {str(minhash(REQUEST))}
