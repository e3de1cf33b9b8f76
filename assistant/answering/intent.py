"""What a question asks for, from its wording alone (pure functions, no retrieval).

Government staff ask who leads or co-operates on a measure (forward) and what a department is
responsible for (reverse); applicants ask what support exists; some ask for a target number or
the document's metadata. Everything else is a general question for retrieval.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, Field

IntentKind = Literal[
    "lead", "coop", "units", "reverse_lead", "reverse_coop", "reverse_any", "joint_lead", "target", "metadata", "general", "chitchat",
    "hostile",
]

HOSTILE = re.compile(
    r"忽略.{0,12}(指令|规则|设定|提示|要求|限制)|(系统|隐藏|初始|内部).{0,4}(提示词|指令|prompt|设定)|提示词|system\s*prompt|"
    r"ignore (all |the )?(previous|above|prior)|jailbreak|越狱|\bDAN\b|developer mode|开发者模式|不受.{0,6}(限制|约束|规则)|"
    r"扮演|角色扮演|原样输出|重复.{0,6}(上面|以上|之前).{0,6}(内容|指令)|你的(指令|规则|设定)是|<\s*script|drop\s+table|select\s+\*|"
    r"union\s+select|rm\s+-rf|/etc/passwd|'\s*or\s*'1'\s*=\s*'1|修改你的(规则|设定|指令)|原封不动|假装你是|假装成|系统提示|配置文件|api\s*(密钥|key)|"
    r"删除知识库|你是管理员|管理员权限|所有用户的|手机号|身份证号|密码",
    re.I,
)
CHITCHAT = re.compile(
    r"^(你好|您好|嗨|哈喽|hello|hi|hey|早上好|晚上好|在吗|谢谢|多谢|感谢|再见|拜拜|好的|ok|嗯+|哈+)[!！。.~～]*$|"
    r"笑话|讲个故事|天气|你是谁|你叫什么|你几岁|你多大|股票|股价|彩票|星座|算命|菜谱|唱首歌|写首诗|聊聊天",
    re.I,
)
# no policy text is about these, nor is writing documents for the user, however long the question
# (天气 and 股票 can be: 高温天气津贴)
NEVER_POLICY = re.compile(r"股价|彩票|星座|算命|菜谱|讲个笑话|讲个故事|唱首歌|写首诗|(帮|替|给)我(写|起草|拟|填)|代写|写一(份|篇|封)|起草一(份|篇)")
# 由谁担任 asks who holds a post (组长由谁担任), not which unit leads a measure
LEAD_WORDS = re.compile(r"牵头|主抓|主管|主责|抓总|负总责|领头|带头|主导|负责|归口|由谁(?!担任|出任|任|当|来当|来担任)|(归|由)?谁(来)?管|归哪.{0,2}(部门|单位)管?|\bleads?\b|\bleading\b|in charge|responsible", re.I)
# which measures have more than one lead unit (no department named)
JOINT_LEAD = re.compile(
    r"(两个|两家|多个|多家|几个|2个|二个|不止一个)(或|及)?(以上)?(单位|部门)?.{0,6}牵头|(联合|共同|一起|同时)牵头|牵头单位(不止一个|有两个|有多个|超过一个)"
)
COOP_WORDS = re.compile(r"配合|协助|协同|协作|参与|协办|配套单位|辅助|支持单位|co-?operat\w*|assist\w*|support(ing)? (units?|departments?)|partners?", re.I)
ASKS_UNITS = re.compile(
    r"谁|[哪那]个(部门|单位|机构)|哪些(部门|单位|机构)|什么(部门|单位|机构)|哪(家|几家|几个部门|几个单位)|"
    r"(部门|单位|机构)(有哪些|有哪几|是哪|是什么|都有|包括|分别|是谁|是)|(牵头|配合|责任)(单位|部门)\s*[是为]|分工|"
    r"\bwho\b|which (department|unit|agenc|office)",
    re.I,
)
ASKS_MEASURES = re.compile(
    r"哪些(工作|措施|举措|任务|事项|方面|项目|行动|计划|内容|事)|哪(项|几项|条|几条|个措施|个举措)|哪些是|"
    r"什么(工作|措施|举措|任务|事|内容|行动|计划)|负责什么|牵头什么|参与什么|配合什么|管什么|职责|承担"
)
ASKS_NUMBER = re.compile(r"多少|几(个|家|名|项|件|万|套|成)|目标|指标|比重|占比|百分|比例|数量|规模|总量|how (many|much)|\btargets?\b", re.I)
TARGET_CONTEXT = re.compile(r"目标|指标|到\s*2025|2025\s*年|新增|达到|要达|计划达|提高到|增加到")
METADATA = re.compile(
    r"文号|发文|印发|哪.{0,3}(单位|部门|机关).{0,4}(发|印发|发布|出台|制定)|谁(发|印发|出台|制定)(布|的)?|发布(单位|机关|部门)|制定(单位|机关)|(什么|哪个)级别|级别|效力|(还|是否|现在|目前).{0,4}有效|失效|废止|"
    r"状态|分类|类别|归在|(哪|什么|那)一?类(政策|文件)|属于.{0,4}类|支持方式|(时间|期限|年限)范围|哪几年|期限|起止|文件(名称|标题|全称)|全称|附件"
)
YES_NO = re.compile(r"吗[？?]?$|是否|是不是|有没有|有无")
ANAPHORA = re.compile(r"^(那|那么|那这|这|那个|这个|该|上述|它|其|此)?(项|条|个)?(工作|措施|举措|任务|事|计划|行动|内容|呢)?")
# Words that carry the question's form, removed (as whole words) to leave what it is about.
FORM_WORDS = frozenset(
    """请问 请 麻烦 帮 帮我 我 我们 想 想要 知道 了解 一下 告诉 问 问一下 这个 那个 这项 那项 该项 此项 这条 这些 那些 上述 那么 那 这 该 此 它 其
    由谁 是谁 谁来 谁 哪个 哪些 哪几 哪几项 哪家 哪 哪里 什么 啥 多少 几 几个 几项 怎么样 怎么 怎样 如何 是否 有没有 有无 吗 呢 吧 呀 啊 的 了 地 得
    牵头单位 配合单位 责任单位 牵头部门 配合部门 单位 部门 机构 牵头 负责 配合 参与 协助 协同 协作 主抓 主管 担任
    工作 措施 举措 任务 事项 事情 分别 都 有 是 为 要 会 能 可以 可 计划 行动计划 文件 政策 里 里面 中 在 目标 指标 达到 达 到 现在 目前 还 作为
    除了 以外 之外 其他 还有 一起 共同 和 与 及 跟 等 方面 这块 这一块 那块 一块 块 具体 主要 哪一块 哪条 哪项 做 搞 讲 说 指 是不是 能不能 可不可以 要求
    有何 对于 关于 针对 给予 采取 提出 做出 作出 进行 时候 能够 哪一天 一天 哪些方面 何种 哪种 一共 总共 共有 总计 合计 共 问问 的话 比如 例如 之类 之类的 等等 一名 一个 帮到""".split()
)


ORDINAL = re.compile(r"第([一二三四五六七八九十\d]{1,3})(条|项|点|个|部分|款)")


class Intent(BaseModel):
    kind: IntentKind
    department: str | None = Field(None, description="canonical name of the department asked about")
    topic: str = Field("", description="what the question is about, with the form words removed")
    asks_list: bool = False
    asks_number: bool = False
    ordinal: int | None = Field(None, description="第三条 → 3: an item of the section asked about before")


def clean_question(text: str) -> str:
    """Strip markup and control characters, fold whitespace."""
    text = re.sub(r"<[^>]{0,200}>", " ", text)
    text = re.sub(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]", "", text)
    return re.sub(r"\s+", " ", text).strip()


def to_simplified(text: str) -> str:
    """A question typed in traditional characters (獨角獸培育企業), as the simplified text the policies
    use. One converted character is left alone: reprints keep a stray 後 the documents also have."""
    import zhconv

    converted = zhconv.convert(text, "zh-cn")
    return converted if sum(a != b for a, b in zip(text, converted)) >= 2 else text


def topic_of(question: str, department_names: list[str] = (), segment: Callable[[str], list[str]] | None = None) -> str:
    """The question without its form words and the departments it names, as space-separated words."""
    text = question
    for name in sorted(department_names, key=len, reverse=True):
        text = text.replace(name, " ")
    words = (segment or _jieba_words)(text)
    kept = [w for w in words if w.strip() and w not in FORM_WORDS and not re.fullmatch(r"[\W_]+", w)]
    return " ".join(kept)


def _jieba_words(text: str) -> list[str]:
    import jieba

    return jieba.lcut(text)


def find_department(question: str, names: dict[str, str]) -> str | None:
    """Longest known department name (or short form) in the question, as its canonical name."""
    best = None
    for name in names:
        if name in question and (best is None or len(name) > len(best)):
            best = name
    return names[best] if best else None


def detect(question: str, department_names: dict[str, str], segment: Callable[[str], list[str]] | None = None) -> Intent:
    """Classify a cleaned question. `department_names` maps every known name and short form to its
    canonical name."""
    q = question
    if HOSTILE.search(q):
        return Intent(kind="hostile")
    department = find_department(q, department_names)
    mentioned = [n for n in department_names if n in q]
    topic = topic_of(q, mentioned, segment)
    if CHITCHAT.search(q) and len(topic) <= 12 or NEVER_POLICY.search(q):
        return Intent(kind="chitchat", topic=topic)
    asks_list = bool(re.search(r"哪些|哪几|有什么|都有|包括|分别|列出|几项|几条|多少(条|项)|一共|总共|共有", q))
    asks_number = bool(ASKS_NUMBER.search(q))
    lead, coop = bool(LEAD_WORDS.search(q)), bool(COOP_WORDS.search(q))
    units, measures = bool(ASKS_UNITS.search(q)), bool(ASKS_MEASURES.search(q))
    names_role = bool(re.search(r"(牵头|配合|责任)(单位|部门)", q))
    # "which tasks does X have" without a role word is a reverse look-up only when little else is asked:
    # 重庆市税务局发布的办税清单涵盖哪些方面 is about a document's content, not the department's duties.
    about_duties = lead or coop or (measures and len(topic.replace(" ", "")) <= 8)
    # 卫健委参与了人才培养群英计划吗: whether the department is among one measure's units
    checks_one = bool(YES_NO.search(q)) and len(topic.replace(" ", "")) >= 4 and not measures
    if department and (lead or coop) and checks_one:
        return Intent(kind=asked_role(q), department=department, topic=topic)
    if department and about_duties and (measures or not (units or names_role)):
        kind = "reverse_lead" if lead and not coop else "reverse_coop" if coop and not lead else "reverse_any"
        if lead and coop:
            kind = {"lead": "reverse_lead", "coop": "reverse_coop"}.get(asked_role(q), "reverse_any")
        if re.search(r"负责", q) and not re.search(r"牵头", q) and not coop:
            kind = "reverse_any"
        return Intent(kind=kind, department=department, topic=topic, asks_list=True)
    if not department and JOINT_LEAD.search(q):
        return Intent(kind="joint_lead", topic=topic, asks_list=True)
    if (lead or coop) and units or re.search(r"(牵头|配合|责任)(单位|部门)", q):
        return Intent(kind=asked_role(q), department=department, topic=topic)
    if METADATA.search(q) and len(topic) <= 16:
        return Intent(kind="metadata", topic=topic)
    if asks_number and (TARGET_CONTEXT.search(q) or len(topic) <= 20):
        return Intent(kind="target", topic=topic, asks_number=True, asks_list=asks_list)
    ordinal = ORDINAL.search(q)
    return Intent(
        kind="general", department=department, topic=topic, asks_list=asks_list, asks_number=asks_number,
        ordinal=chinese_number(ordinal.group(1)) if ordinal else None,
    )


def chinese_number(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    digits = {c: i for i, c in enumerate("零一二三四五六七八九")}
    if text == "十":
        return 10
    if text.startswith("十"):
        return 10 + digits.get(text[1:], 0)
    if len(text) == 1:
        return digits.get(text)
    if len(text) in (2, 3) and text[1] == "十":
        return digits.get(text[0], 0) * 10 + (digits.get(text[2], 0) if len(text) == 3 else 0)
    return None


def asked_role(q: str) -> IntentKind:
    """lead, coop or both ("units"): the role word nearest the end is the one asked about
    (除了财政局牵头，还有哪些单位配合？ asks for co-operators)."""
    if re.search(r"分工|(牵头|负责).{0,6}(和|与|及|、).{0,6}(配合|参与)|(配合|参与).{0,6}(和|与|及|、).{0,6}牵头|分别", q):
        return "units"
    if "牵头单位" in q and "配合" not in q:
        return "lead"
    if "配合单位" in q and "牵头" not in q:
        return "coop"
    last_lead = max((m.end() for m in LEAD_WORDS.finditer(q)), default=-1)
    last_coop = max((m.end() for m in COOP_WORDS.finditer(q)), default=-1)
    return "coop" if last_coop > last_lead else "lead"


def own_words(topic: str) -> str:
    """What a topic names besides pointers back and years: 那到2025年呢？要达到多少？ names nothing."""
    return re.sub(r"\d{4}\s*年?|要|呢", "", ANAPHORA.sub("", topic.replace(" ", "")))


def is_elliptical(question: str, intent: Intent) -> bool:
    """A follow-up that only makes sense with the previous turn (那配合单位有哪些？/ 独角兽培育企业呢？)."""
    if len(own_words(intent.topic)) < 2:
        return True
    return bool(re.search(r"呢[？?]?$", question)) and len(question) <= 16
