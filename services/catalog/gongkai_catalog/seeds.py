"""The default catalog tree and the pilot areas, seeded as data by migration 0002 (the office edits them).

- The platform's four columns (国办公开办函〔2019〕61号): 政府信息公开指南, 政府信息公开制度,
  法定主动公开内容, 政府信息公开年报.
- Under 法定主动公开内容: the 15 items of 条例 art. 20 (every agency), then the lists of art. 21 for
  设区的市级、县级人民政府及其部门 and for 乡（镇）人民政府.
- The pilot areas of 基层政务公开标准化规范化 (国办发〔2019〕54号): no authoritative list of all 26 was
  found (domain.md §1); the names confirmed from guideline titles first, then names seen in local
  standard catalogs, marked as such.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

__all__ = ["CATEGORY_SEED", "PILOT_AREA_SEED", "SeedCategory", "category_rows", "pilot_area_rows"]

# A fixed namespace so that seeded ids are the same in every database (uuid5 of the key).
_NS = uuid.UUID("6f1c1d52-3f0e-4c1b-9a63-5b0c7e4d2a10")


@dataclass(frozen=True)
class SeedCategory:
    key: str
    name: str
    parent: str | None = None
    basis: str | None = None
    scope: str = "all"


_ART20 = [
    ("法规规章和规范性文件", "行政法规、规章和规范性文件"),
    ("机关职能", "机关职能、机构设置、办公地址、办公时间、联系方式、负责人姓名"),
    ("规划信息", "国民经济和社会发展规划、专项规划、区域规划及相关政策"),
    ("统计信息", "国民经济和社会发展统计信息"),
    ("行政许可和对外管理服务", "办理行政许可和其他对外管理服务事项的依据、条件、程序以及办理结果"),
    (
        "行政处罚和行政强制",
        "实施行政处罚、行政强制的依据、条件、程序以及本行政机关认为具有一定社会影响的行政处罚决定",
    ),
    ("财政预决算", "财政预算、决算信息"),
    ("行政事业性收费", "行政事业性收费项目及其依据、标准"),
    ("政府集中采购", "政府集中采购项目的目录、标准及实施情况"),
    ("重大建设项目", "重大建设项目的批准和实施情况"),
    ("扶贫教育医疗社保就业", "扶贫、教育、医疗、社会保障、促进就业等方面的政策、措施及其实施情况"),
    ("突发公共事件", "突发公共事件的应急预案、预警信息及应对情况"),
    ("监督检查", "环境保护、公共卫生、安全生产、食品药品、产品质量的监督检查情况"),
    ("公务员招考", "公务员招考的职位、名额、报考条件等事项以及录用结果"),
    ("其他法定公开信息", "法律、法规、规章和国家有关规定规定应当主动公开的其他政府信息"),
]
_ITEM_NUMERALS = "一二三四五六七八九十"


def _numeral(n: int) -> str:
    if n <= 10:
        return _ITEM_NUMERALS[n - 1]
    return "十" + _ITEM_NUMERALS[n - 11]


_ART21_CITY_COUNTY = ["市政建设", "公共服务", "公益事业", "土地征收", "房屋征收", "治安管理", "社会救助"]
_ART21_TOWNSHIP = [
    "农业农村政策",
    "农田水利工程建设运营",
    "农村土地承包经营权流转",
    "宅基地使用情况审核",
    "土地征收",
    "房屋征收",
    "筹资筹劳",
    "社会救助",
]


def _build() -> list[SeedCategory]:
    out = [
        SeedCategory("column.guide", "政府信息公开指南", basis="国办公开办函〔2019〕61号"),
        SeedCategory("column.rules", "政府信息公开制度", basis="国办公开办函〔2019〕61号"),
        SeedCategory(
            "column.statutory", "法定主动公开内容", basis="国办公开办函〔2019〕61号；条例第二十条、第二十一条"
        ),
        SeedCategory("column.annual_report", "政府信息公开年报", basis="国办公开办函〔2019〕61号；条例第四十九条"),
    ]
    for i, (name, text) in enumerate(_ART20, start=1):
        out.append(
            SeedCategory(
                f"art20.{i}", name, parent="column.statutory", basis=f"条例第二十条第（{_numeral(i)}）项：{text}"
            )
        )
    out.append(
        SeedCategory(
            "art21.city_county",
            "设区的市级、县级人民政府及其部门",
            parent="column.statutory",
            basis="条例第二十一条",
            scope="city_county",
        )
    )
    for i, name in enumerate(_ART21_CITY_COUNTY, start=1):
        out.append(
            SeedCategory(
                f"art21.city_county.{i}", name, parent="art21.city_county", basis="条例第二十一条", scope="city_county"
            )
        )
    out.append(
        SeedCategory(
            "art21.township", "乡（镇）人民政府", parent="column.statutory", basis="条例第二十一条", scope="township"
        )
    )
    for i, name in enumerate(_ART21_TOWNSHIP, start=1):
        out.append(
            SeedCategory(f"art21.township.{i}", name, parent="art21.township", basis="条例第二十一条", scope="township")
        )
    return out


CATEGORY_SEED: list[SeedCategory] = _build()


def seed_id(key: str) -> uuid.UUID:
    return uuid.uuid5(_NS, key)


def category_rows() -> list[dict]:
    """Rows for ``categories``, parents before children."""
    position: dict[str | None, int] = {}
    rows = []
    for c in CATEGORY_SEED:
        position[c.parent] = position.get(c.parent, 0) + 1
        rows.append(
            {
                "id": seed_id(c.key),
                "parent_id": seed_id(c.parent) if c.parent else None,
                "name": c.name,
                "key": c.key,
                "basis": c.basis,
                "scope": c.scope,
                "position": position[c.parent],
            }
        )
    return rows


_CONFIRMED = "国务院部门标准指引（已确认名称）"
_LOCAL = "地方标准目录所见（未见于国务院部门指引名单，待核实）"
PILOT_AREA_SEED: list[tuple[str, str]] = [
    *(
        (name, _CONFIRMED)
        for name in (
            "城乡规划",
            "重大建设项目",
            "户籍管理",
            "财政预决算",
            "公共资源交易",
            "社会救助",
            "养老服务",
            "公共法律服务",
            "就业",
            "社会保险",
            "公共文化服务",
            "安全生产",
            "救灾",
            "涉农补贴",
            "农村危房改造",
            "扶贫",
            "义务教育",
            "卫生健康",
            "国有土地上房屋征收与补偿",
            "食品药品监管",
            "征地补偿（农村集体土地征收）",
            "环境保护（生态环境）",
        )
    ),
    *((name, _LOCAL) for name in ("保障性住房", "城市综合执法", "市政服务", "税收管理", "自然资源", "乡村振兴")),
]


def pilot_area_rows() -> list[dict]:
    return [
        {"id": seed_id(f"pilot.{name}"), "name": name, "note": note, "position": i}
        for i, (name, note) in enumerate(PILOT_AREA_SEED, start=1)
    ]
