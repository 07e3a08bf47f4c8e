"""``./gongkai demo``: load a realistic, reproducible demo city through the gateway's HTTP API (issue 8 point 3).

It starts nothing: it talks to a running ``./gongkai up``, signed in as the bootstrap administrator, and creates
the users and the API key it needs. It never writes to a database. Everything is drawn from one seeded
``random.Random``, so the same ``--seed`` gives the same city (names, 统一社会信用代码, documents, applications).

What is historical and what is live (the services' APIs decide, not this loader):

- historical: 成文日期 of documents (five calendar years); repeal dates; applications registered by staff with the
  day they were received (条例 art. 31) and every later legal event with its own date (补正, 征求第三方意见, 延期,
  收费, 答复, 送达, 复议/诉讼); table 二 figures per year;
- live (the API acts "now"): publication (发布日期 and the 索引号 year are today: documents of earlier years are
  published today and therefore flagged late by the art. 26 clock), interpretations (due 3 working days after
  that publication), public-opinion posts (the last ten days), the consultation and its comments.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import httpx
from gongkai_shared.calendar import WorkingDayCalendar
from gongkai_shared.timeutil import china_today
from gongkai_shared.validators import org_code_check_char, resident_id_check_char, uscc_check_char

__all__ = ["SCALES", "CityExists", "DemoError", "Scale", "load_city", "main"]

CITY = "示范市"
GOVERNMENT = "示范市人民政府"
#: 行政区划代码 of the demo city (a real prefecture's code, as in the README's example 11441700007280420Y).
DIVISION = 441700
USER_PASSWORD = "demo-city-password"  # every demo user's password (≥ 12 characters)


class DemoError(RuntimeError):
    """The gateway answered something the loader cannot go on from."""


class CityExists(DemoError):
    """The demo city is already loaded: the loader refuses instead of loading it twice."""


@dataclass(frozen=True)
class Scale:
    departments: int
    districts: int
    townships_per_district: int
    years: int
    #: documents per organization and year (policies, news, budgets, decisions)
    items_per_org_year: int
    applications_per_org_year: int
    posts: int


SCALES = {
    "tiny": Scale(departments=3, districts=0, townships_per_district=0, years=1, items_per_org_year=6,
                  applications_per_org_year=12, posts=24),
    "small": Scale(departments=10, districts=2, townships_per_district=2, years=5, items_per_org_year=3,
                   applications_per_org_year=2, posts=80),
    "full": Scale(departments=30, districts=10, townships_per_district=6, years=5, items_per_org_year=6,
                  applications_per_org_year=4, posts=300),
}  # fmt: skip

# name, 文号 abbreviation, what it mostly decides (for table 二 and 行政许可/处罚 items)
DEPARTMENTS: list[tuple[str, str, str]] = [
    ("发展和改革委员会", "示范发改", "licensing"),
    ("教育局", "示范教", "policy"),
    ("科学技术局", "示范科", "policy"),
    ("工业和信息化局", "示范工信", "policy"),
    ("公安局", "示范公", "penalty"),
    ("民政局", "示范民", "policy"),
    ("司法局", "示范司", "policy"),
    ("财政局", "示范财", "fees"),
    ("人力资源和社会保障局", "示范人社", "policy"),
    ("自然资源局", "示范自然资源", "licensing"),
    ("生态环境局", "示范环", "penalty"),
    ("住房和城乡建设局", "示范建", "licensing"),
    ("交通运输局", "示范交", "licensing"),
    ("水务局", "示范水", "licensing"),
    ("农业农村局", "示范农", "policy"),
    ("商务局", "示范商", "policy"),
    ("文化广电旅游体育局", "示范文旅", "licensing"),
    ("卫生健康局", "示范卫健", "licensing"),
    ("退役军人事务局", "示范退役", "policy"),
    ("应急管理局", "示范应急", "penalty"),
    ("审计局", "示范审", "policy"),
    ("市场监督管理局", "示范市监", "penalty"),
    ("统计局", "示范统", "policy"),
    ("医疗保障局", "示范医保", "policy"),
    ("林业局", "示范林", "licensing"),
    ("城市管理和综合执法局", "示范城管", "penalty"),
    ("政务服务数据管理局", "示范政数", "licensing"),
    ("信访局", "示范信访", "policy"),
    ("国有资产监督管理委员会", "示范国资", "policy"),
    ("乡村振兴局", "示范振兴", "policy"),
]
DISTRICTS = ["江城区", "阳东区", "海陵区", "青山区", "北湖区", "南岭县", "东溪县", "西坪县", "石门县", "云台市"]
TOWNSHIP_STEMS = (
    "平冈 合山 雅韶 大八 那龙 塘坪 新洲 东城 北惯 红丰 白沙 双捷 织篢 沙扒 程村 溪头 儒洞 上洋 望夫 春湾 合水 河口 "
    "潭水 八甲 马水 三甲 圭岗 永宁 松柏 岗美 陂面 岗列 城北 城南 城西 南山 五福 石桥 金田 桃源 杏花 柳溪 荷塘 龙湾 "
    "凤岭 鹤山 梅林 竹园 兰溪 桂峰 松岭 云岗 枫林 樟树 榕城 文昌 丰乐 长安 永安 太平 安宁 富民 兴隆 和平 新村 大坪"
).split()
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高梁郑谢宋唐许韩冯邓曹彭曾肖田董袁潘蔡蒋余"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀华平刚桂英建国志红玉兰海燕晓东文斌"
POLICY_TOPICS = [
    ("促进民营经济高质量发展", "民营企业", "营商环境"),
    ("支持中小微企业纾困", "中小微企业", "融资担保"),
    ("老旧小区改造", "老旧小区", "城市更新"),
    ("城乡居民最低生活保障", "低保", "社会救助"),
    ("义务教育阶段招生入学", "招生入学", "学区"),
    ("公共租赁住房保障", "公租房", "住房保障"),
    ("生活垃圾分类管理", "垃圾分类", "生态环境"),
    ("高校毕业生就业创业扶持", "就业创业", "人才"),
    ("农村集体经营性建设用地入市", "集体土地", "乡村振兴"),
    ("养老服务体系建设", "养老服务", "民生保障"),
    ("停车设施建设管理", "停车", "城市管理"),
    ("科技创新券管理", "科技创新", "研发投入"),
    ("扬尘污染防治", "扬尘", "大气污染防治"),
    ("政府信息公开工作", "政务公开", "依申请公开"),
    ("行政规范性文件制定和备案", "规范性文件", "合法性审核"),
    ("医疗保障待遇", "医保", "门诊共济"),
]
INTERPRETATION_ELEMENTS = [
    ("背景依据", "近年来我市在{a}方面遇到的新情况较多，群众和企业反映集中，上位政策也作了调整，需要结合本地实际细化。"),
    ("目标任务", "力争用三年左右时间，使{a}工作的覆盖面、办理效率和群众满意度都有明显提升。"),
    ("主要内容", "文件共分几个部分，重点明确了办理条件、申请材料、办理流程以及部门分工，把过去分散的规定集中起来。"),
    ("适用范围", "适用于本市行政区域内与{a}相关的单位和个人，各县（市、区）可在此基础上制定实施细则。"),
    (
        "执行标准",
        "符合条件的申请人可以按照文件规定的标准享受相应支持，具体标准以文件附件为准，每年根据财力情况评估调整。",
    ),
    ("注意事项", "申请人应当如实提供材料，弄虚作假的将依法追回已享受的支持；办理中遇到问题可以向主管部门咨询。"),
    ("关键词注释", "文件所称{b}，是指符合本市规定条件、在本市登记或者居住的对象，具体认定口径见文件第二条。"),
    ("惠民利民举措", "新政策减少了申请材料，推行网上办理和“一件事一次办”，群众少跑腿、企业少跑路。"),
    ("新旧政策差异", "与原有规定相比，新文件放宽了申请条件，缩短了办理时限，并增加了事中事后监管的要求。"),
]
#: the kinds the catalog counts as policies (each gets an interpretation task: 三同步)
POLICY_KINDS = frozenset({"regulation", "normative_document", "policy_document"})
NON_TEXT_FORMS = ["graphic", "qa", "video", "expert", "interview", "press_conference", "case", "animation"]

# Public-opinion events: (topic key, department suffix, place, the posts' sentences)
OPINION_EVENTS: list[tuple[str, str, list[str]]] = [
    (
        "生态环境局",
        "青山区",
        [
            "青山区宏达化工厂晚上偷偷排气，整个小区都是刺鼻的臭味，孩子咳嗽了一晚上，环保部门管不管？",
            "又闻到化工厂的臭味了，青山区这边已经持续一个多月，投诉了好几次都没有回音。",
            "宏达化工厂附近河水发黑发臭，鱼都死了，希望生态环境局尽快来查一查。",
            "青山区化工厂排污问题到底什么时候解决？晚上不敢开窗，老人孩子都受不了。",
        ],
    ),
    (
        "教育局",
        "江城区",
        [
            "今年江城区学区划分突然调整，我们小区被划出去了，买房时说好的学位没了，教育局要给个说法。",
            "学区调整事先没有公示征求意见，家长们很着急，希望教育局解释一下新的招生入学政策。",
            "听说义务教育招生新政策要求父母双方都有社保才能入学，这是真的吗？很多家长都看不懂。",
        ],
    ),
    (
        "住房和城乡建设局",
        "北湖区",
        [
            "北湖区老旧小区改造工程拖了半年，道路挖开了一直没人管，居民出行很不方便。",
            "老旧小区改造的施工队晚上十一点还在施工，噪音太大，投诉电话打不通。",
            "我们小区加装电梯的补贴申请交上去三个月了，住建局一直没有答复，到底怎么办理？",
        ],
    ),
]
SCATTERED_POSTS = [
    "建议在人民路和解放路交叉口增设红绿灯，早晚高峰太危险了。",
    "感谢政务服务中心的工作人员，营业执照一天就办好了，效率很高。",
    "市医保局的门诊共济新政策很实用，药店可以直接用个人账户给家人买药了。",
    "公交12路改线以后绕远了很多，希望交通运输局考虑恢复原来的站点。",
    "小区门口的路灯坏了两个星期了，晚上回家很黑，希望城管部门尽快修一下。",
    "社区养老服务中心的午餐又便宜又好吃，给老人们点个赞。",
    "请问今年的高校毕业生就业补贴怎么申请，在哪里可以查到政策原文？",
    "菜市场旁边的违章摊点占道经营，垃圾也没人清理，夏天气味很大。",
]
CHANNELS = ["weibo", "wechat", "hotline", "board", "douyin", "news"]


# --------------------------------------------------------------------------------------------
# Codes and people (valid check characters, computed)
# --------------------------------------------------------------------------------------------


def agency_code(rng: random.Random, division: int) -> str:
    """A 统一社会信用代码 of a 机关 (GB 32100-2015): 1 (机构编制) 1 (机关), the 行政区划代码, a 组织机构代码 with its
    check character (GB 11714), then the code's own check character."""
    body = f"{rng.randrange(10**7, 10**8):08d}"
    first17 = f"11{division:06d}{body}{org_code_check_char(body)}"
    return first17 + uscc_check_char(first17)


def company_code(rng: random.Random) -> str:
    """A 统一社会信用代码 of a company (9 工商, 1 企业)."""
    body = f"{rng.randrange(10**7, 10**8):08d}"
    first17 = f"91{DIVISION:06d}{body}{org_code_check_char(body)}"
    return first17 + uscc_check_char(first17)


def resident_id(rng: random.Random) -> str:
    """A resident ID number (GB 11643) born 1950-2003 in the demo city, with its check character."""
    birth = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(0, 53 * 365))
    first17 = f"{DIVISION + rng.randrange(2, 30):06d}{birth:%Y%m%d}{rng.randrange(0, 1000):03d}"
    return first17 + resident_id_check_char(first17)


def person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


# --------------------------------------------------------------------------------------------
# The HTTP side
# --------------------------------------------------------------------------------------------


@dataclass
class Account:
    username: str
    password: str
    token: str | None = None


_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|(?<=/)\d{4}(?=/|$)")


class Gateway:
    """A small client of the gateway: signs in, signs in again when a 15-minute token expires, bounds concurrency."""

    def __init__(self, base_url: str, admin: Account, *, concurrency: int = 6, timeout: float = 60) -> None:
        self.http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout)
        self.admin = admin
        self.accounts: dict[str, Account] = {admin.username: admin}
        self.limit = asyncio.Semaphore(concurrency)
        self.calls = 0
        self.retries = 0
        #: ``"POST catalog/items/{id}/approve"`` → [calls, seconds] (time per route, for bench/demo.py)
        self.timings: dict[str, list[float]] = {}

    async def close(self) -> None:
        await self.http.aclose()

    async def _sign_in(self, account: Account) -> None:
        resp = await self.http.post(
            "/api/v1/auth/token", data={"username": account.username, "password": account.password}
        )
        if resp.status_code != 200:
            raise DemoError(f"cannot sign in as {account.username!r}: {resp.status_code} {resp.text[:300]}")
        account.token = resp.json()["access_token"]

    async def call(
        self,
        method: str,
        path: str,
        *,
        as_: Account | None = None,
        ok: Iterable[int] = (200, 201),
        **kwargs: Any,
    ) -> httpx.Response:
        """Call ``/api/v1/<path>`` as an account (None: anonymous); raise ``DemoError`` unless the status is ok."""
        given = dict(kwargs.pop("headers", {}) or {})
        async with self.limit:
            signed_in_again = False
            for attempt in range(5):
                headers = dict(given)
                if as_ is not None:
                    if as_.token is None:
                        await self._sign_in(as_)
                    headers["Authorization"] = f"Bearer {as_.token}"
                t0 = time.perf_counter()
                resp = await self.http.request(method, f"/api/v1/{path.lstrip('/')}", headers=headers, **kwargs)
                spent = self.timings.setdefault(f"{method} {_ID.sub('{id}', path.lstrip('/'))}", [0, 0.0])
                spent[0] += 1
                spent[1] += time.perf_counter() - t0
                self.calls += 1
                if resp.status_code == 401 and as_ is not None and not signed_in_again:
                    as_.token, signed_in_again = None, True  # expired (15 minutes): sign in again, once
                    continue
                # The gateway answers 502/503 when it could not reach a service (the request did not get there):
                # try again a few times with a growing pause.
                if resp.status_code in (502, 503) and attempt < 4:
                    self.retries += 1
                    await asyncio.sleep(0.5 * 2**attempt)
                    continue
                break
        if resp.status_code not in set(ok):
            raise DemoError(f"{method} {path} → {resp.status_code}: {resp.text[:600]}")
        return resp

    async def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return (await self.call(method, path, **kwargs)).json()

    async def pages(self, path: str, *, as_: Account | None, params: dict[str, Any] | None = None) -> list[dict]:
        """Every item of a keyset-paginated list."""
        out: list[dict] = []
        params = dict(params or {}, limit=200)
        while True:
            page = await self.json("GET", path, as_=as_, params=params)
            out.extend(page["items"])
            if not page.get("next_cursor"):
                return out
            params["cursor"] = page["next_cursor"]


async def gather_all(factories: Iterable[Awaitable[Any]]) -> list[Any]:
    return list(await asyncio.gather(*factories))


# --------------------------------------------------------------------------------------------
# The city
# --------------------------------------------------------------------------------------------


@dataclass
class Org:
    id: str
    name: str
    code: str
    type: str
    abbrev: str
    focus: str
    staff: Account
    reviewer: Account
    place: str = CITY


@dataclass
class Loaded:
    counts: Counter = field(default_factory=Counter)
    orgs: list[Org] = field(default_factory=list)
    policies: list[dict] = field(default_factory=list)
    items_by_kind: Counter = field(default_factory=Counter)
    outcomes: Counter = field(default_factory=Counter)
    example_item: dict | None = None
    #: information processing fees paid (国办函〔2020〕109号), per (organization id, year paid), in yuan: what staff
    #: enter in the annual report (the requests service's statistics do not carry them)
    fees: Counter = field(default_factory=Counter)
    #: wall-clock seconds per phase, in order
    phases: dict[str, float] = field(default_factory=dict)
    #: per route: [calls, seconds waited for the answers] (see ``Gateway.timings``)
    timings: dict[str, list[float]] = field(default_factory=dict)


class CityLoader:
    def __init__(
        self,
        gw: Gateway,
        scale: Scale,
        seed: int,
        *,
        log: Callable[[str], None],
        today: dt.date | None = None,
        on_phase: Callable[[str | None], None] | None = None,
    ) -> None:
        self.gw = gw
        self.on_phase = on_phase
        self.scale = scale
        self.rng = random.Random(seed)
        self.seed = seed
        self.log = log
        self.today = today or china_today()
        self.cal = WorkingDayCalendar.default()
        self.out = Loaded()
        self.categories: dict[str, str] = {}
        last = self.today.year
        first = last - scale.years + 1
        # One year only (tiny): the year an annual report is written for, complete.
        self.years = [last - 1] if scale.years == 1 else list(range(first, last + 1))

    # -- helpers ------------------------------------------------------------------------------

    def add_wd(self, start: dt.date, n: int) -> dt.date:
        return self.cal.add_working_days(start, n, provisional=True).end

    def working_day(self, d: dt.date) -> dt.date:
        return self.cal.working_day_on_or_after(d)

    def rng_for(self, what: str) -> random.Random:
        """The random stream of one part of the city. Parts are loaded at the same time, so each draws from its own
        stream (seeded by the seed and its name) and the city never depends on the order the servers answer in."""
        return random.Random(f"{self.seed}:{what}")

    def day_in(self, rng: random.Random, year: int, *, latest: dt.date | None = None) -> dt.date:
        """A working day of ``year``, not after ``latest`` (default: today)."""
        latest = min(latest or self.today, dt.date(year, 12, 31))
        start = dt.date(year, 1, 4)
        span = max((latest - start).days, 0)
        d = self.working_day(start + dt.timedelta(days=rng.randrange(0, span + 1)))
        return d if d <= latest else start

    async def user(self, username: str, roles: list[str], department_id: str | None, display: str) -> Account:
        body = {
            "username": username,
            "display_name": display,
            "password": USER_PASSWORD,
            "roles": roles,
            "department_id": department_id,
        }
        await self.gw.call("POST", "users", as_=self.gw.admin, json=body, ok=(201, 409))
        return Account(username, USER_PASSWORD)

    # -- 1. organizations ------------------------------------------------------------------------

    async def refuse_if_loaded(self) -> None:
        govs = await self.gw.pages("catalog/organizations", as_=None, params={"type": "government"})
        if any(g["name"] == GOVERNMENT for g in govs):
            raise CityExists(
                f"the demo city is already loaded ({GOVERNMENT} exists): nothing was changed. "
                "Load it into an empty installation (stop `./gongkai up`, move .data/ aside, start it again)."
            )

    async def organizations(self) -> None:
        rng, s = self.rng, self.scale
        specs: list[dict[str, Any]] = [
            {"name": GOVERNMENT, "type": "government", "abbrev": "示范府", "focus": "policy", "division": DIVISION}
        ]
        for name, abbrev, focus in DEPARTMENTS[: s.departments]:
            specs.append(
                {"name": CITY + name, "type": "department", "abbrev": abbrev, "focus": focus, "division": DIVISION}
            )
        stems = iter(TOWNSHIP_STEMS)
        for i, district in enumerate(DISTRICTS[: s.districts]):
            division = DIVISION + 2 + i
            specs.append(
                {
                    "name": f"{CITY}{district}人民政府",
                    "type": "district",
                    "abbrev": "示范" + district[:2],
                    "focus": "policy",
                    "division": division,
                    "district": district,
                }
            )
            for j in range(s.townships_per_district):
                stem = next(stems)
                suffix = "街道办事处" if j < 2 and district.endswith("区") else "镇人民政府"
                specs.append(
                    {
                        "name": f"{district}{stem}{suffix}",
                        "type": "township",
                        "abbrev": stem + ("街" if "街道" in suffix else "镇"),
                        "focus": "policy",
                        "division": division,
                        "parent_district": district,
                        "place": district,
                    }
                )
        for spec in specs:
            spec["code"] = agency_code(rng, spec["division"])
            spec["head"] = person_name(rng)

        async def create(spec: dict[str, Any], parent_id: str | None) -> dict:
            body = {
                "name": spec["name"],
                "code": spec["code"],
                "type": spec["type"],
                "parent_id": parent_id,
                "address": f"{CITY}{spec.get('place', '')}政务服务大道{rng.randrange(1, 300)}号",
                "office_hours": "工作日 8:30-12:00，14:30-17:30",
                "head_name": spec["head"],
                "head_title": "局长" if spec["type"] == "department" else ("镇长" if "镇" in spec["name"] else "主任"),
            }
            if spec["type"] in ("government", "district"):
                body["head_title"] = "市长" if spec["type"] == "government" else "区（县）长"
            return await self.gw.json("POST", "catalog/organizations", as_=self.gw.admin, json=body)

        gov = await create(specs[0], None)
        ids = {specs[0]["name"]: gov["id"]}
        middle = [sp for sp in specs[1:] if sp["type"] in ("department", "district")]
        for sp, row in zip(middle, await gather_all(create(sp, gov["id"]) for sp in middle), strict=True):
            ids[sp["name"]] = row["id"]
        towns = [sp for sp in specs if sp["type"] == "township"]
        district_id = {sp["district"]: ids[sp["name"]] for sp in middle if sp["type"] == "district"}
        rows = await gather_all(create(sp, district_id[sp["parent_district"]]) for sp in towns)
        for sp, row in zip(towns, rows, strict=True):
            ids[sp["name"]] = row["id"]
        self.out.counts["organizations"] = len(specs)

        async def people(i: int, spec: dict[str, Any]) -> Org:
            oid = ids[spec["name"]]
            staff = await self.user(f"demo-staff-{i:03d}", ["staff"], oid, f"{spec['name']}公开专员")
            reviewer = await self.user(f"demo-review-{i:03d}", ["reviewer"], oid, f"{spec['name']}审核人")
            return Org(
                oid, spec["name"], spec["code"], spec["type"], spec["abbrev"], spec["focus"], staff, reviewer,
                spec.get("place", spec.get("district", CITY)),
            )  # fmt: skip

        self.out.orgs = await gather_all(people(i, sp) for i, sp in enumerate(specs))
        self.out.counts["users"] = 2 * len(specs) + 1
        await self.user("demo-office", ["office"], None, f"{CITY}政务公开办")
        cats = await self.gw.json("GET", "catalog/categories", as_=None)
        stack = list(cats)
        while stack:
            node = stack.pop()
            if node.get("key"):
                self.categories[node["key"]] = node["id"]
            stack.extend(node.get("children", []))
        self.log(f"  {len(specs)} organizations, {2 * len(specs) + 1} users")

    # -- 2. documents ---------------------------------------------------------------------------

    def _policy_body(self, rng: random.Random, topic: tuple[str, str, str], org: Org, year: int) -> str:
        _what, a, b = topic
        return (
            f"第一条 为了做好{a}工作，推动{b}，根据有关法律法规和上级政策规定，结合{CITY}实际，制定本办法。\n"
            f"第二条 本办法适用于{CITY}行政区域内的{a}相关工作。\n"
            f"第三条 {org.name}负责本办法的组织实施，有关部门按照职责分工做好相关工作。\n"
            f"第四条 符合条件的单位和个人可以通过{CITY}政务服务网申请办理，办理时限为十个工作日。\n"
            f"第五条 各有关单位应当加强监督检查，定期公开{a}工作情况，接受社会监督。\n"
            f"第六条 本办法自{year}年{rng.randrange(1, 13)}月1日起施行，有效期五年。"
        )

    def _item_specs(self, rng: random.Random, org: Org, year: int) -> list[dict[str, Any]]:
        """This organization's documents of one year, across the statutory categories and kinds."""
        n = self.scale.items_per_org_year
        latest = self.today - dt.timedelta(days=3)
        kinds = ["normative_document", "work_news", "budget", "policy_document", "work_news"]
        if org.focus == "licensing":
            kinds.insert(2, "licensing_decision")
        elif org.focus == "penalty":
            kinds.insert(2, "penalty_decision")
        if org.type == "government":
            kinds.insert(1, "regulation")
        kinds = (kinds * (n // len(kinds) + 1))[:n]
        specs = []
        for serial, kind in enumerate(kinds, start=1):
            written = self.day_in(rng, year, latest=latest)
            topic = rng.choice(POLICY_TOPICS)
            spec: dict[str, Any] = {"organization_id": org.id, "kind": kind, "written_on": written.isoformat()}
            if kind in ("normative_document", "policy_document", "regulation"):
                doc = f"{org.abbrev}规〔{year}〕{serial}号" if kind == "normative_document" else None
                if kind == "policy_document":
                    doc = f"{org.abbrev}〔{year}〕{serial + 10}号"
                if kind == "regulation":
                    doc = f"{GOVERNMENT}令第{(year - 2000) * 10 + serial}号"
                name = "规定" if kind == "regulation" else rng.choice(["实施办法", "管理办法", "若干措施", "实施意见"])
                spec |= {
                    "title": f"{CITY}{topic[0]}{name}",
                    "document_number": doc,
                    "body": self._policy_body(rng, topic, org, year),
                    "summary": f"规范{topic[1]}工作，明确办理条件、流程和部门职责。",
                    "keywords": [topic[1], topic[2]],
                    "subject_category": "综合政务\\政务公开" if "公开" in topic[0] else f"综合政务\\{topic[2]}",
                    "effective_on": written.isoformat(),
                    "category_id": self.categories.get("art20.1"),
                }
            elif kind == "work_news":
                spec |= {
                    "title": f"{org.name}召开{topic[1]}工作推进会",
                    "body": f"{written.month}月{written.day}日，{org.name}召开{topic[1]}工作推进会，总结前一阶段工作，"
                    f"部署下一步{topic[2]}重点任务。会议要求，各科室要对照目标任务，倒排工期，确保各项工作落到实处。",
                }
            elif kind == "budget":
                final = rng.random() < 0.5
                spec |= {
                    "title": f"{org.name}{year - 1 if final else year}年部门{'决算' if final else '预算'}公开",
                    "body": f"{org.name}{'决算' if final else '预算'}说明：一般公共预算财政拨款支出"
                    f"{rng.randrange(800, 90000) / 100:.2f}万元，“三公”经费支出{rng.randrange(5, 200) / 10:.1f}万元，"
                    "比上年有所下降，主要是厉行节约、压减非必要支出。",
                    "category_id": self.categories.get("art20.7"),
                }
            elif kind == "licensing_decision":
                spec |= {
                    "title": f"关于准予{CITY}{rng.choice(['宏远', '恒信', '华茂', '绿源', '安康'])}"
                    f"{rng.choice(['建设', '环保', '实业', '医疗', '旅游'])}有限公司行政许可的决定",
                    "body": "经审查，申请人提交的申请材料齐全、符合法定形式，"
                    f"根据《中华人民共和国行政许可法》第三十八条，{org.name}决定准予行政许可。",
                    "category_id": self.categories.get("art20.5"),
                }
            else:  # penalty_decision
                spec |= {
                    "title": f"{org.abbrev}罚〔{year}〕{serial}号行政处罚决定书",
                    "body": f"当事人违反有关法律规定，{org.name}依据《中华人民共和国行政处罚法》作出罚款"
                    f"{rng.randrange(1, 50) * 1000}元的行政处罚决定。当事人已履行完毕。",
                    "category_id": self.categories.get("art20.6"),
                }
            specs.append(spec)
        return specs

    async def publish(self, org: Org, body: dict[str, Any]) -> dict:
        """Draft → submit (sensitive check) → 保密审查 and the content stages by the reviewer → publish.

        条例 art. 17 (先审查后公开): the reviewer is not the drafter."""
        body = {k: v for k, v in body.items() if v is not None}
        item = await self.gw.json("POST", "catalog/items", as_=org.staff, json=body)
        item = await self.gw.json("POST", f"catalog/items/{item['id']}/submit", as_=org.staff)
        while item["status"] == "in_review":
            item = await self.gw.json(
                "POST", f"catalog/items/{item['id']}/approve", as_=org.reviewer, json={"opinion": "同意"}
            )
        item = await self.gw.json("POST", f"catalog/items/{item['id']}/publish", as_=org.staff)
        self.out.items_by_kind[item["kind"]] += 1
        return item

    async def documents(self) -> None:
        """Every document of every year is drawn first; then each organization publishes its years in order (a
        revision supersedes a policy of an earlier year), every organization at the same time (no pause between
        years: a department's 2023 waits only for its own 2022)."""
        rng = self.rng_for("documents")
        # plan[org][year index] = the specs; a revision names the (year index, spec index) of the policy it revises
        plan: dict[str, list[list[dict[str, Any]]]] = {o.id: [] for o in self.out.orgs}
        earlier: dict[str, list[tuple[int, int]]] = {o.id: [] for o in self.out.orgs}  # policies not yet revised
        for y, year in enumerate(self.years):
            new: dict[str, list[tuple[int, int]]] = {o.id: [] for o in self.out.orgs}
            for org in self.out.orgs:
                specs = self._item_specs(rng, org, year)
                for k, spec in enumerate(specs):
                    olds = earlier[org.id]
                    if spec["kind"] == "normative_document" and olds and rng.random() < 0.2:
                        old_y, old_k = olds.pop(rng.randrange(len(olds)))  # a revision (立改废): supersedes it
                        spec["_revises"] = (old_y, old_k)
                        spec["title"] = plan[org.id][old_y][old_k]["title"].replace("（修订）", "") + "（修订）"
                    if spec["kind"] in POLICY_KINDS:
                        new[org.id].append((y, k))
                plan[org.id].append(specs)
            for org_id, keys in new.items():
                earlier[org_id].extend(keys)
        published: dict[str, list[list[dict]]] = {o.id: [] for o in self.out.orgs}

        async def years_of(org: Org) -> None:
            for specs in plan[org.id]:
                bodies = []
                for spec in specs:
                    body = {k: v for k, v in spec.items() if k != "_revises"}
                    if "_revises" in spec:
                        old_y, old_k = spec["_revises"]
                        body["supersedes_id"] = published[org.id][old_y][old_k]["id"]
                    bodies.append(body)
                published[org.id].append(await gather_all(self.publish(org, body) for body in bodies))

        await gather_all(years_of(org) for org in self.out.orgs)
        for y, year in enumerate(self.years):  # in the plan's order, not the order they were published in
            for org in self.out.orgs:
                self.out.policies.extend(item for item in published[org.id][y] if item["is_policy"])
            self.log(f"  {year}: {sum(len(published[o.id][y]) for o in self.out.orgs)} documents published")
        # Repeal a few older policies (废止), on a past date.
        candidates = [p for p in self.out.policies if p["kind"] == "normative_document"]
        rng.shuffle(candidates)
        by_id = {o.id: o for o in self.out.orgs}
        repeal = []
        for p in candidates[: max(1, len(candidates) // 12)]:
            written = dt.date.fromisoformat(p["written_on"])
            if written.year < self.today.year:
                on = self.day_in(rng, min(written.year + 1, self.today.year), latest=self.today - dt.timedelta(days=1))
                repeal.append((p, max(on, written)))
        await gather_all(
            self.gw.call(
                "POST",
                f"catalog/items/{p['id']}/repeal",
                as_=by_id[p["organization_id"]].reviewer,
                json={"repealed_on": on.isoformat(), "reason": "上位法已修改，经评估决定废止"},
            )
            for p, on in repeal
        )
        self.out.counts["repealed"] = len(repeal)
        self.out.counts["superseded"] = sum(1 for p in self.out.policies if p.get("supersedes_id"))
        self.out.example_item = self.out.policies[0] if self.out.policies else None

    # -- 3. table 二 figures -------------------------------------------------------------------

    async def figures(self) -> None:
        rng = self.rng_for("figures")
        jobs = []
        for org in self.out.orgs:
            for year in self.years:
                big = org.focus in ("licensing", "penalty")
                body = {
                    "licensing_decisions": rng.randrange(50, 900) if org.focus == "licensing" else rng.randrange(0, 30),
                    "penalty_decisions": rng.randrange(20, 400) if org.focus == "penalty" else rng.randrange(0, 10),
                    "enforcement_decisions": rng.randrange(0, 40) if big else 0,
                    "fee_amount": f"{rng.randrange(0, 50000) / 100:.2f}" if org.focus == "fees" else "0",
                }
                jobs.append(
                    self.gw.call(
                        "PUT", f"catalog/organizations/{org.id}/annual-report/{year}/figures", as_=self.gw.admin,
                        json=body,
                    )
                )  # fmt: skip
        await gather_all(jobs)
        self.out.counts["table2_figures"] = len(jobs)

    # -- 4. interpretations ---------------------------------------------------------------------

    async def interpretations(self) -> None:
        """Each published policy gets a task from the interpretation worker (catalog.policy.published); most are
        written, reviewed and published (→ a 政策解读 item in the catalog); the rest stay open and fall due."""
        wanted = {p["id"]: p for p in self.out.policies}
        tasks: dict[str, dict] = {}
        # The worker opens them from catalog.policy.published: wait while they keep coming (a minute without a new
        # one ends the wait; the policies without a task then get no interpretation from the demo).
        last_news = time.monotonic()
        while time.monotonic() - last_news < 60:
            before = len(tasks)
            for t in await self.gw.pages("interpretation/tasks", as_=self.gw.admin, params={"kind": "regular"}):
                if t.get("policy_item_id") in wanted:
                    tasks[t["policy_item_id"]] = t
            if len(tasks) >= len(wanted):
                break
            if len(tasks) > before:
                last_news = time.monotonic()
            await asyncio.sleep(2)
        if len(tasks) < len(wanted):
            self.log(f"  {len(wanted) - len(tasks)} policies got no interpretation task in time")
        self.out.counts["interpretation_tasks"] = len(tasks)
        by_id = {o.id: o for o in self.out.orgs}
        rng = self.rng_for("interpretations")
        # Every policy draws whether it is written and which non-text form it gets (if any), in the plan's order.
        draws = [(p["id"], rng.random(), rng.random() < 0.5, rng.choice(NON_TEXT_FORMS)) for p in self.out.policies]
        chosen = [
            (tasks[pid], form if non_text else None)
            for pid, r, non_text, form in draws
            if r < 0.85 and pid in tasks and tasks[pid]["status"] != "published"
        ]

        async def write(task: dict, f: str | None) -> None:
            org = by_id[task["organization_id"]]
            policy = wanted[task["policy_item_id"]]
            a = (policy.get("keywords") or ["该项工作"])[0]
            b = (policy.get("keywords") or ["", "对象"])[-1]
            text = "\n".join(f"一、{k}\n{v.format(a=a, b=b)}" for k, v in INTERPRETATION_ELEMENTS)
            forms = [{"form": "text", "title": "文字解读"}]
            if f is not None:
                forms.append(
                    {"form": f, "title": f"《{policy['title']}》{f}解读", "url": "https://www.example.gov.cn/jd"}
                )
            qa = [
                {
                    "question": f"哪些对象可以申请{a}相关支持？",
                    "answer": "在本市登记或居住、符合文件第二条条件的单位和个人。",
                },
                {"question": "到哪里办理？", "answer": "可以在政务服务网在线办理，也可以到各级政务服务中心窗口办理。"},
            ]
            body = {"title": f"一图读懂《{policy['title']}》", "text": text, "forms": forms, "qa_pairs": qa}
            tid = task["id"]
            await self.gw.call("PUT", f"interpretation/tasks/{tid}/content", as_=org.staff, json=body)
            await self.gw.call("POST", f"interpretation/tasks/{tid}/submit", as_=org.staff, json={"opinion": "请审核"})
            resp = await self.gw.call(
                "POST", f"interpretation/tasks/{tid}/publish", as_=org.reviewer, json={"opinion": "同意发布"},
                ok=(200, 422),
            )  # fmt: skip
            if resp.status_code == 422:  # below the quality threshold: the reviewer publishes with a reason
                await self.gw.call(
                    "POST", f"interpretation/tasks/{tid}/publish", as_=org.reviewer,
                    json={"opinion": "同意发布", "override_reason": "解读内容经部门负责人审定，形式已满足要求"},
                )  # fmt: skip

        await gather_all(write(t, f) for t, f in chosen)
        self.out.counts["interpretations_published"] = len(chosen)

    # -- 5. applications ------------------------------------------------------------------------

    def _applicant(self, rng: random.Random) -> dict[str, Any]:
        if rng.random() < 0.78:
            return {
                "type": "natural_person",
                "name": person_name(rng),
                "id_type": "resident_id",
                "id_number": resident_id(rng),
                "phone": f"13{rng.randrange(0, 10)}{rng.randrange(10**7, 10**8)}",
                "address": f"{CITY}{rng.choice(DISTRICTS)}人民路{rng.randrange(1, 300)}号",
                "postal_code": "529500",
            }
        kind = rng.choices(
            ["commercial", "research", "public_welfare", "legal_services", "other"], weights=[6, 1, 1, 2, 1]
        )[0]
        names = {
            "commercial": "有限公司",
            "research": "研究院",
            "public_welfare": "公益服务中心",
            "legal_services": "律师事务所",
            "other": "业主委员会",
        }
        return {
            "type": "legal_person",
            "kind": kind,
            "name": f"{CITY}{rng.choice(['宏远', '恒信', '华茂', '绿源', '安康', '正和'])}{names[kind]}",
            "organization_code": company_code(rng),
            "legal_representative": person_name(rng),
            "phone": f"0662-{rng.randrange(2000000, 9999999)}",
            "address": f"{CITY}{rng.choice(DISTRICTS)}建设路{rng.randrange(1, 300)}号",
        }

    SCENARIOS: ClassVar[list[tuple[str, int]]] = [
        ("disclosed", 40),
        ("partially_disclosed", 10),
        ("third_party", 5),
        ("withheld", 7),
        ("unavailable_not_held", 10),
        ("unavailable_needs_creation", 4),
        ("not_processed", 6),
        ("correction", 6),
        ("correction_lapsed", 2),
        ("extension", 5),
        ("fee", 2),
    ]

    async def applications(self) -> None:
        rng = self.rng_for("applications")
        jobs = []
        for org in self.out.orgs:
            for year in self.years:
                for _ in range(self.scale.applications_per_org_year):
                    scenario = rng.choices([s for s, _ in self.SCENARIOS], weights=[w for _, w in self.SCENARIOS])[0]
                    latest = self.today - dt.timedelta(days=75)
                    open_case = year == self.today.year and rng.random() < 0.1
                    if open_case:
                        latest = self.today - dt.timedelta(days=1)
                    if latest.year < year:
                        continue
                    received = self.day_in(rng, year, latest=latest)
                    if open_case:
                        received = self.working_day(self.today - dt.timedelta(days=rng.randrange(2, 12)))
                        if received > self.today:
                            continue
                    topic = rng.choice(POLICY_TOPICS)
                    remedy = rng.random() < 0.06
                    jobs.append((org, received, "open" if open_case else scenario, topic, remedy, rng.random()))
        results = await gather_all(
            self._application(*job, random.Random(f"{self.seed}:application:{i}")) for i, job in enumerate(jobs)
        )
        self.out.counts["applications"] = len(results)
        for outcome in results:
            self.out.outcomes[outcome or "（办理中）"] += 1

    async def _application(
        self,
        org: Org,
        received: dt.date,
        scenario: str,
        topic: tuple[str, str, str],
        remedy: bool,
        r: float,
        rng: random.Random,
    ) -> str | None:
        gw, staff = self.gw, org.staff
        channel = "in_person" if r < 0.6 else "letter_signed"
        body: dict[str, Any] = {
            "department_id": org.id,
            "applicant": self._applicant(rng),
            "title": f"{org.name}{topic[1]}相关政府信息",
            "description": f"申请公开{org.name}{received.year}年{topic[0]}工作的相关文件、资金使用情况及实施方案",
            "wanted_form": "paper" if channel == "letter_signed" else "electronic",
            "delivery_method": "post" if channel == "letter_signed" else "email",
            "channel": channel,
        }
        if channel == "in_person":
            body["submitted_on"] = received.isoformat()
        else:
            body["signed_on"] = received.isoformat()
            body["postal_tracking_number"] = f"EMS{int(r * 10**9):09d}CN"
        if body["applicant"]["type"] == "natural_person" and body["delivery_method"] == "email":
            body["applicant"]["email"] = f"user{int(r * 10**6)}@example.com"
        elif body["delivery_method"] == "email":
            body["applicant"]["email"] = f"office{int(r * 10**6)}@example.com"
        # The requests service learns organizations from catalog.organization.created: wait until it knows this one.
        deadline = time.monotonic() + 120
        while True:
            resp = await gw.call("POST", "requests/staff/applications", as_=staff, json=body, ok=(201, 422))
            if resp.status_code == 201 or "受理机关不存在" not in resp.text or time.monotonic() > deadline:
                break
            await asyncio.sleep(1)
        if resp.status_code != 201:
            raise DemoError(f"POST requests/staff/applications → {resp.status_code}: {resp.text[:600]}")
        app = resp.json()
        aid = app["id"]
        received = dt.date.fromisoformat(app["received_on"])
        if scenario == "open":
            return None

        async def entry(kind: str, on: dt.date, **extra: Any) -> dict:
            return await gw.json(
                "POST", f"requests/applications/{aid}/ledger", as_=extra.pop("as_", staff),
                json={"kind": kind, "on": on.isoformat(), **extra},
            )  # fmt: skip

        reply_on = self.add_wd(received, 3 + int(r * 14))
        outcome, details = "disclosed", {"access_route": "随答复告知书一并提供纸质文本"}
        if scenario == "partially_disclosed":
            outcome = "partially_disclosed"
            details = {
                "access_route": "随答复告知书提供可以公开的部分",
                "withheld_parts": [
                    {"part": "涉及个人的姓名、身份证号码", "reason": "属于个人隐私，公开会对第三方权益造成损害",
                     "article": "条例第十五条"}
                ],
            }  # fmt: skip
        elif scenario == "third_party":
            sent = self.add_wd(received, 2)
            consult = await entry("third_party_consulted", sent, note="书面征求第三方意见")
            answered = self.add_wd(sent, 6)
            await entry("third_party_answered", answered, ref=consult["id"])
            reply_on = self.add_wd(answered, 3)
            outcome = "withheld_third_party_rights"
            details = {
                "refusal_reason": "所申请信息含有第三方的商业秘密，第三方不同意公开",
                "third_party_opinion": "第三方书面答复不同意公开，并说明了理由",
            }
        elif scenario == "withheld":
            outcome = rng.choice(
                ["withheld_process_information", "withheld_internal_affairs", "withheld_enforcement_case_file",
                 "withheld_state_secret"]
            )  # fmt: skip
            details = {"refusal_reason": "经审查，所申请信息依法不予公开"}
        elif scenario == "unavailable_not_held":
            outcome = "unavailable_not_held"
            details = {
                "explanation": "经检索，本机关未制作或获取该政府信息",
                "holding_agency": {"name": f"{CITY}人民政府办公室", "contact": "0662-3300000"},
            }
        elif scenario == "unavailable_needs_creation":
            outcome, details = "unavailable_needs_creation", {"explanation": "所申请信息需要对现有数据进行汇总、加工"}
        elif scenario == "not_processed":
            outcome = rng.choice(["not_processed_petition", "not_processed_publication"])
            details = {
                "proper_channel": "请通过12345热线或信访渠道反映",
                "publication_route": "该信息已在《示范市统计年鉴》公开出版，可在市图书馆查阅",
            }
            details = {k: v for k, v in details.items() if (k == "proper_channel") == (outcome.endswith("petition"))}
        elif scenario in ("correction", "correction_lapsed"):
            asked = self.add_wd(received, 3)
            await entry("correction_requested", asked, working_days=10, note="请补充所需信息的名称或文号")
            if scenario == "correction_lapsed":
                reply_on = self.add_wd(asked, 16)
                outcome = "other_correction_lapsed"
                details = {"correction_notice": f"{asked.isoformat()}发出补正告知书，期限10个工作日，逾期未补正"}
            else:
                corrected = self.add_wd(asked, 5)
                await entry("corrected_received", corrected)
                reply_on = self.add_wd(corrected, 8)
        elif scenario == "extension":
            await entry("extension_approved", self.add_wd(received, 18), working_days=20, as_=self.gw.admin,
                        note="所需信息涉及多个科室，经政务公开工作机构负责人同意延长答复期限")  # fmt: skip
            reply_on = self.add_wd(received, 30)
        elif scenario == "fee":
            noticed = self.add_wd(received, 4)
            fee = await gw.json(
                "POST", f"requests/applications/{aid}/fee-notice", as_=staff,
                json={"fee_method": "volume", "pages": 250, "on": noticed.isoformat(),
                      "delivered_on": self.add_wd(noticed, 1).isoformat()},
            )  # fmt: skip
            paid = self.add_wd(noticed, 5)
            await gw.call(
                "POST", f"requests/applications/{aid}/fee-payment", as_=staff,
                json={"on": paid.isoformat(), "amount": str(fee["amount"])},
            )  # fmt: skip
            self.out.fees[(org.id, paid.year)] += Decimal(str(fee["amount"]))
            reply_on = self.add_wd(paid, 4)
        reply_on = min(reply_on, self.today - dt.timedelta(days=1))
        await gw.call("POST", f"requests/applications/{aid}/outcome", as_=staff,
                      json={"outcome": outcome, "details": details})  # fmt: skip
        await entry("reply_sent", reply_on)
        delivered = min(reply_on + dt.timedelta(days=2), self.today)
        letter = await gw.json(
            "POST", f"requests/applications/{aid}/correspondence", as_=staff,
            json={"direction": "outgoing", "channel": "post_signed", "purpose": "reply",
                  "tracking_number": f"EMS{int(r * 10**9) + 7:09d}CN", "sent_on": reply_on.isoformat()},
        )  # fmt: skip
        await gw.call(
            "POST", f"requests/applications/{aid}/correspondence/{letter['id']}/delivered", as_=staff,
            json={"delivered_on": delivered.isoformat()},
        )  # fmt: skip
        await gw.call("POST", f"requests/applications/{aid}/close", as_=staff, json={"on": delivered.isoformat()})
        if remedy and outcome != "disclosed":
            filed = delivered + dt.timedelta(days=20)
            if filed < self.today:
                concluded = filed + dt.timedelta(days=60)
                done = concluded < self.today
                kind = "review" if r < 0.8 else "suit_direct"
                await gw.call(
                    "POST", f"requests/applications/{aid}/remedies", as_=staff,
                    json={"kind": kind, "filed_on": filed.isoformat(),
                          "case_number": f"示范复〔{filed.year}〕{int(r * 100) + 1}号" if kind == "review" else
                          f"（{filed.year}）示01行初{int(r * 100) + 1}号",
                          "result": (rng.choice(["upheld", "upheld", "corrected"]) if done else "pending"),
                          "concluded_on": concluded.isoformat() if done else None},
                )  # fmt: skip
                self.out.counts["remedies"] += 1
        return outcome

    # -- 6. public opinion ------------------------------------------------------------------------

    async def sentiment(self) -> None:
        rng = self.rng_for("sentiment")
        key = await self.gw.json(
            "POST", "api-keys", as_=self.gw.admin,
            json={"name": f"{CITY}舆情采集系统（演示）", "scopes": ["sentiment:write", "sentiment:read"]},
        )  # fmt: skip
        headers = {"X-API-Key": key["key"]}
        by_suffix = {o.name.removeprefix(CITY): o for o in self.out.orgs}
        now = dt.datetime.now(dt.UTC)
        posts = []
        n = self.scale.posts
        per_event = max(3, n // 6)
        serial = 0
        for dept, place, sentences in OPINION_EVENTS:
            start = now - dt.timedelta(days=rng.randrange(1, 9), hours=rng.randrange(0, 12))
            for k in range(per_event):
                serial += 1
                text = sentences[k % len(sentences)]
                if k >= len(sentences):
                    text = rng.choice(["转发：", "扩散！", "", "求关注："]) + text + rng.choice(["", "。", "！"])
                org = by_suffix.get(dept)
                posts.append({
                    "channel": CHANNELS[k % len(CHANNELS)],
                    "channel_post_id": f"demo-{self.seed}-{serial}",
                    "author": f"网友{rng.randrange(10000, 99999)}",
                    "text": text,
                    "posted_at": (start + dt.timedelta(minutes=17 * k)).isoformat(),
                    "likes": rng.randrange(0, 500), "shares": rng.randrange(0, 120), "comments": rng.randrange(0, 80),
                    "place": place,
                    "department_id": org.id if org and k % 3 == 1 else None,
                })  # fmt: skip
        while len(posts) < n:
            serial += 1
            posts.append({
                "channel": rng.choice(CHANNELS),
                "channel_post_id": f"demo-{self.seed}-{serial}",
                "author": f"网友{rng.randrange(10000, 99999)}",
                "text": rng.choice(SCATTERED_POSTS),
                "posted_at": (now - dt.timedelta(minutes=rng.randrange(0, 10 * 1440))).isoformat(),
                "likes": rng.randrange(0, 50),
                "place": rng.choice(DISTRICTS),
            })  # fmt: skip
        posts.sort(key=lambda p: p["posted_at"])
        stored = 0
        for i in range(0, len(posts), 200):
            out = await self.gw.json(
                "POST", "sentiment/posts/batch", headers=headers, json={"posts": posts[i : i + 200]}
            )
            stored += out["stored"]
        self.out.counts["posts"] = stored
        self.out.counts["api_keys"] = 1
        # 政务新媒体 accounts of the government and the first departments, with their last update.
        accounts = 0
        for org in self.out.orgs[: min(6, len(self.out.orgs))]:
            for platform in ("weibo", "wechat"):
                acc = await self.gw.json(
                    "POST", "sentiment/accounts", as_=self.gw.admin,
                    json={"organization_id": org.id, "platform": platform,
                          "handle": f"shifan_{org.code[-6:]}_{platform}",
                          "name": f"{org.name.removeprefix(CITY) or org.name}发布"},
                    ok=(200, 201),
                )  # fmt: skip
                days = rng.choice([0, 1, 3, 20])  # some go stale: 国办秘函〔2019〕19号 (2 weeks)
                await self.gw.call(
                    "PUT", f"sentiment/accounts/{acc['id']}/last-update", as_=self.gw.admin,
                    json={"at": (now - dt.timedelta(days=days)).isoformat()},
                )  # fmt: skip
                accounts += 1
        self.out.counts["accounts"] = accounts

    # -- 7. a consultation with comments ------------------------------------------------------------

    async def consultation(self) -> None:
        org = self.out.orgs[0]
        draft = await self.publish(
            org,
            {
                "organization_id": org.id,
                "kind": "other_document",
                "title": f"{CITY}停车设施建设管理办法（征求意见稿）",
                "body": self._policy_body(
                    self.rng_for("consultation"), ("停车设施建设管理", "停车", "城市管理"), org, self.today.year
                ),
                "summary": "公开征求社会公众意见的决策草案及其起草说明。",
            },
        )
        c = await self.gw.json(
            "POST", "catalog/consultations", as_=org.staff,
            json={"organization_id": org.id, "title": f"{CITY}停车设施建设管理办法", "draft_item_id": draft["id"],
                  "basis": "《重大行政决策程序暂行条例》第十四条、第十五条", "channels": "信函：示范市政务服务大道1号",
                  "period_days": 30},
        )  # fmt: skip
        await self.gw.call("POST", f"catalog/consultations/{c['id']}/open", as_=org.staff)
        comments = [
            ("第五条", "建议明确老旧小区增设停车位的资金来源，由政府和业主按比例分担。"),
            ("第四条", "建议夜间允许在部分道路临时停车，缓解居民停车难。"),
            (None, "希望充电桩与停车位同步规划建设，方便新能源汽车充电。"),
            ("第六条", "收费标准应当听证，并向社会公开定价依据。"),
            (None, "支持出台这个办法，学校和医院周边停车问题很突出。"),
        ]
        ids = []
        for clause, text in comments:
            out = await self.gw.json(
                "POST", f"catalog/consultations/{c['id']}/comments", json={"content": text, "clause": clause}
            )
            ids.append(out["id"])
        for cid in ids:
            await self.gw.call(
                "POST", f"catalog/consultations/{c['id']}/comments/{cid}/moderate", as_=org.staff,
                json={"decision": "accept"}, ok=(200, 201),
            )  # fmt: skip
        self.out.counts["consultations"] = 1
        self.out.counts["comments"] = len(ids)

    # -- all --------------------------------------------------------------------------------------

    async def _step(self, title: str, step: Callable[[], Awaitable[None]]) -> None:
        t0 = time.monotonic()
        self.log(f"- {title} …")
        await step()
        self.out.phases[title] = time.monotonic() - t0
        self.log(f"  {title}: done in {self.out.phases[title]:.1f} s")

    async def load(self) -> Loaded:
        """The organizations and their people first; then the parts that do not wait for each other at the same
        time, each service busy with its own: the catalog's documents (then the interpretations of their policies,
        the posts about them and the consultation), table 二 figures, and the applications."""
        await self.refuse_if_loaded()
        if self.on_phase is not None:
            self.on_phase("organizations, users")
        await self._step("organizations, users", self.organizations)

        async def documents_then_what_needs_them() -> None:
            await self._step("documents through review", self.documents)
            await gather_all([
                self._step("interpretations", self.interpretations),
                self._step("public opinion", self.sentiment),
                self._step("consultation", self.consultation),
            ])  # fmt: skip

        if self.on_phase is not None:
            self.on_phase("the rest, at the same time")
        t0 = time.monotonic()
        await gather_all([
            documents_then_what_needs_them(),
            self._step("table 二 figures", self.figures),
            self._step("applications", self.applications),
        ])  # fmt: skip
        self.out.phases["the rest, at the same time"] = time.monotonic() - t0
        if self.on_phase is not None:
            self.on_phase(None)
        self.out.timings = self.gw.timings
        return self.out


async def load_city(
    base_url: str,
    admin_username: str,
    admin_password: str,
    *,
    scale: str = "small",
    seed: int = 2026,
    log: Callable[[str], None] = print,
    concurrency: int = 6,
    on_phase: Callable[[str | None], None] | None = None,
) -> Loaded:
    """Load the demo city into the Gongkai behind ``base_url``; raise ``CityExists`` when it is there already.

    ``on_phase`` is called with each phase's title as it starts, and with None at the end (bench/demo.py)."""
    gw = Gateway(base_url, Account(admin_username, admin_password), concurrency=concurrency)
    try:
        return await CityLoader(gw, SCALES[scale], seed, log=log, on_phase=on_phase).load()
    finally:
        await gw.close()


def summary(out: Loaded, base_url: str, seconds: float) -> str:
    gw = base_url.rstrip("/")
    lines = [f"\nThe demo city {GOVERNMENT} is loaded ({seconds:.0f} s).", ""]
    for key in sorted(out.counts):
        lines.append(f"  {key:<28}{out.counts[key]:>7}")
    lines.append("  published documents by kind:")
    for kind, n in sorted(out.items_by_kind.items()):
        lines.append(f"    {kind:<26}{n:>7}")
    lines.append("  applications by outcome (表三 row):")
    for outcome, n in sorted(out.outcomes.items()):
        lines.append(f"    {outcome:<26}{n:>7}")
    org = out.orgs[1] if len(out.orgs) > 1 else out.orgs[0]
    year = china_today().year - 1
    lines += [
        "",
        "Where to look:",
        f"  API docs           {gw}/docs",
        f"  organizations      {gw}/api/v1/catalog/organizations/tree",
        f"  search             {gw}/api/v1/catalog/search?q=老旧小区",
        f"  {org.name} items  {gw}/api/v1/catalog/items?organization_id={org.id}",
        f"  table 二 ({year})    {gw}/api/v1/catalog/organizations/{org.id}/annual-report/{year}/table2",
        f"  tables 三/四 ({year}) {gw}/api/v1/requests/statistics/{org.id}/{year}   (signed in)",
        f"  interpretations    {gw}/api/v1/interpretation/figures   (signed in)",
        f"  opinion events     {gw}/api/v1/sentiment/events   (signed in)",
        f"Users: demo-staff-NNN / demo-review-NNN per organization, demo-office; password {USER_PASSWORD!r}.",
        "",
        f'The annual report of {org.name} for {year} (README: "A whole demo city in one command"):',
        f'  as demo-staff-001:  POST {gw}/api/v1/catalog/organizations/{org.id}/annual-reports  {{"year": {year}}}',
        f'                      PATCH …/annual-reports/{year}  {{"fees_collected": "{out.fees[(org.id, year)]}"}}'
        "  (the fees it collected)",
        f"                      GET …/annual-reports/{year}/html, …/docx;  POST …/annual-reports/{year}/submit",
        "  as demo-review-001: POST …/catalog/items/<its item_id>/approve  (保密审查, 初审, 复审, 终审); staff publish",
        f"  as demo-office:     GET {gw}/api/v1/catalog/assessment?period={year + 1}, …/assessment/chart.svg?period="
        f"{year + 1}  (this year: publication and interpretation happen today)",
    ]
    return "\n".join(lines)


def main(args: argparse.Namespace, data_dir: Path) -> int:
    password = args.admin_password
    if password is None:
        path = data_dir / "admin-password"
        if not path.exists():
            print(f"no admin password: pass --admin-password or start `./gongkai up` first ({path})")
            return 2
        password = path.read_text().strip()
    t0 = time.monotonic()
    try:
        out = asyncio.run(load_city(args.gateway, args.admin_username, password, scale=args.scale, seed=args.seed))
    except CityExists as exc:
        print(f"refused: {exc}")
        return 1
    except (DemoError, httpx.HTTPError) as exc:
        print(f"failed: {exc}\nIs `./gongkai up` running at {args.gateway}?")
        return 1
    print(summary(out, args.gateway, time.monotonic() - t0))
    return 0
