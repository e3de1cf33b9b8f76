"""The assistant: a question (and the earlier turns) in, a cited Answer out."""
from __future__ import annotations

import re
import time
from pathlib import Path

from assistant.answering import messages
from assistant.answering.composer import Draft, bigram_similarity, char_bigrams, measure_name, pick_sentences
from assistant.answering.followup import resolve
from assistant.answering.intent import HOSTILE, TARGET_CONTEXT, YES_NO, Intent, clean_question, detect, is_elliptical, to_simplified
from assistant.ingestion.departments import DepartmentRow, department_table
from assistant.models import Answer, Clause
from assistant.retrieval.hybrid import Hit, HybridSearcher
from assistant.retrieval.retriever import open_searcher
from assistant.settings import Settings, get_settings

MAX_QUESTION_CHARS = 2000
TARGET_DISCOUNT = 0.85
MONEY = re.compile(r"\d+(\.\d+)?\s*(万元|元|亿元|千元)|补贴标准|资助标准")
ASKS_MONEY = re.compile(r"多少钱|(学费|费用|收费|价格|工资|薪资|薪酬|年薪|月薪|租金|房租|奖金|押金|保证金)(是|为|要|大概|一般)?多少|多少(押金|保证金|学费|费用|租金|房租)|多少(补贴|奖励|资金|经费|资助)|补贴多少|奖励多少|资助多少|金额|几万(元|块)?(?![人套名家个项件平])|多少万(元|块)?(?![人套名家个项件平])|拿多少|给多少|补多少")
ASKS_TIME = re.compile(r"什么时候|何时|哪天|哪一天|截止|日期|哪一年|几月|几号|时间节点|开始报名|报名时间")
DATES = re.compile(r"\d{1,2}\s*月\s*\d{1,2}\s*日|\d{4}\s*年\s*\d{1,2}\s*月|\d{1,2}\s*月(底|初|份|中旬|上旬|下旬)|截止|截至|之前|以前|前完成|工作日|为止|顺延|延长|延期")
ASKS_CONTACT = re.compile(r"电话|热线|地址|网址|网站|邮箱|联系方式|怎么联系|联系人")
ASKS_PLACE = re.compile(r"在哪里|在哪儿|去哪里|到哪里|在哪(?!些|个|一)")
# where something is done: a place, a counter or an online channel
PLACE = re.compile(
    r"位于|坐落|地处|设在|设于|地址|[省市区县镇乡村][^，。；、\s]{0,10}(社区|街道|路|街|大道|巷|号|大厦|广场|园区|医院|学校|村)|社区|街道|"
    r"(销售|服务|代宰|购买|零售|采样|检测|接种|办理|受理)点|网点|门店|超市|农贸市场|菜市场|办事处|服务站|服务中心|政务中心|所在地|当地|户籍地|就近|属地|"
    r"平台|网上|线上|一网通办|通办|网办|掌上|端口|小程序|APP|App|app|公众号|官网|客户端|微信|支付宝|窗口|大厅|网站|网址|系统|热线|www\.|https?://"
)
CONTACT = re.compile(r"\d{3,4}-?\d{7,8}|1\d{10}|热线|电话|地址|网址|https?://|www\.|邮箱|@|路\d+号|大厦")
ASKS_SUBSIDY = re.compile(r"补贴|补助|津贴|资助|奖金|奖励资金")
SUBSIDY = re.compile(r"补贴|补助|津贴|资助|奖励|奖金|资金支持")
ASKS_CONDITIONS = re.compile(
    r"(什么|哪些|啥)(条件|资格|门槛)|需要满足|要满足|申请条件|准入|条件(是什么|是啥|有哪些|有什么)|(落户|申请|申报|入选|认定|享受)(的)?(条件|资格|门槛)"
)
CONDITIONS = re.compile(r"申请条件|基本条件|必备条件|必要条件|(下列|以下)条件|条件[:：]|(符合|满足|具备|具有).{0,12}(条件|要求|资格)|(条件|要求)如下|资格|门槛|须具备|应当具备|须满足")
ASKS_NAMES = re.compile(r"(入选|获奖|获批|认定|公示)名单|名单(有|是|包括)|哪些人(入选|获奖|获批)|谁(入选|获奖|获批)了")
NAMES = re.compile(r"名单")
ASKS_STANDARD = re.compile(r"标准(是什么|是啥|有哪些|是多少|怎么定|如何确定)|(什么|哪些|啥)标准")
STANDARD = re.compile(r"标准(为|是|如下|：|:)|(以下|下列)标准|按.{0,20}标准|\d.{0,8}标准|标准.{0,6}\d|" + CONDITIONS.pattern)
YEAR = re.compile(r"(20\d{2})\s*年")
# (a question asking for this kind of fact, what the evidence must then contain, the refusal if it does not), in order
KINDS_OF_FACT = (
    (ASKS_MONEY, MONEY, messages.NOT_IN_TEXT_MONEY),
    (ASKS_TIME, DATES, messages.NOT_IN_TEXT_TIME),
    (ASKS_CONTACT, CONTACT, messages.NOT_IN_TEXT_CONTACT),
    (ASKS_PLACE, PLACE, messages.NOT_IN_TEXT_CONTACT),
    (ASKS_SUBSIDY, SUBSIDY, messages.NOT_IN_TEXT_MONEY),
    (ASKS_CONDITIONS, CONDITIONS, messages.NOT_IN_TEXT_CONDITIONS),
    (ASKS_STANDARD, STANDARD, messages.NOT_IN_TEXT_CONDITIONS),
    (ASKS_NAMES, NAMES, messages.NOT_IN_TEXT_NAMES),
)


class Assistant:
    """Extractive question answering over one index. Configuration in __init__, questions in `run`."""

    def __init__(self, index_dir: Path | None = None, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self.index_dir = Path(index_dir or self.settings.index_dir)
        self._names: tuple[str, dict[str, str], dict[str, DepartmentRow]] | None = None
        self._doc_years: dict[tuple[str, str], set[str]] = {}
        self._corpus_text: tuple[str, str] | None = None  # (build, all its text) for place look-ups

    @property
    def searcher(self) -> HybridSearcher:
        return open_searcher(self.index_dir)

    # -- vocabulary -----------------------------------------------------------------------------
    def departments(self) -> tuple[dict[str, str], dict[str, DepartmentRow]]:
        """Every department name and short form → canonical name; canonical name → its measures."""
        searcher = self.searcher
        if self._names is None or self._names[0] != searcher.index.build.name:
            rows = {r.name: r for r in department_table(searcher.index.clauses)}
            registry = searcher.index.departments
            names: dict[str, str] = {}
            short: dict[str, set[str]] = {}
            for name, canonical in registry.canonical.items():
                names[name] = canonical
                for prefix in ("市委", "市"):
                    if name.startswith(prefix) and len(name) - len(prefix) >= 2 and not (prefix == "市" and name.startswith("市委")):
                        short.setdefault(name[len(prefix) :], set()).add(canonical)
            for s, owners in short.items():
                if len(owners) == 1 and s not in names:  # ambiguous short forms are left out
                    names[s] = next(iter(owners))
            self._names = (searcher.index.build.name, names, rows)
        return self._names[1], self._names[2]

    # -- entry point ----------------------------------------------------------------------------
    def run(self, question: str, history: list[str] | None = None) -> Answer:
        started = time.perf_counter()
        answer = self._answer(question if isinstance(question, str) else "", [h for h in (history or []) if isinstance(h, str)])
        answer.latency_ms = (time.perf_counter() - started) * 1000
        return answer

    def _answer(self, question: str, history: list[str]) -> Answer:
        raw = question
        if not raw.strip():
            return Answer(question=raw, answer=messages.EMPTY, refused=True, intent="empty")
        if len(raw) > MAX_QUESTION_CHARS:
            return Answer(question=raw[:200], answer=messages.TOO_LONG.format(limit=MAX_QUESTION_CHARS, got=len(raw)), refused=True, intent="too_long")
        if HOSTILE.search(raw):
            return Answer(question=raw, answer=messages.HOSTILE, refused=True, intent="hostile")
        cleaned = to_simplified(clean_question(raw))
        if not re.search(r"[\w\u3400-\u9fff]", cleaned):
            return Answer(question=raw, answer=messages.EMPTY, refused=True, intent="empty")
        names, _ = self.departments()
        past = [clean_question(h)[:MAX_QUESTION_CHARS] for h in history if h.strip()][-6:]
        segment = self.searcher.lexical.tokenizer.jieba.lcut
        parts = split_compound(cleaned, lambda q: detect(q, names, segment))
        if len(parts) > 1:
            return self._compound(raw, parts, past)
        intent, query = resolve(cleaned, past, lambda q: detect(q, names, segment))
        handler = {
            "hostile": self._hostile,
            "chitchat": self._chitchat,
            "lead": self._units,
            "coop": self._units,
            "units": self._units,
            "reverse_lead": self._reverse,
            "reverse_coop": self._reverse,
            "reverse_any": self._reverse,
            "joint_lead": self._joint_lead,
            "target": self._target,
            "metadata": self._metadata,
        }.get(intent.kind, self._general)
        place = self._unknown_place(query) if intent.kind not in ("hostile", "chitchat") else None
        if place:
            answer = self._refuse(raw, messages.NOT_IN_TEXT_PLACE.format(place=place), self.searcher.search(query, k=3), intent.kind)
        else:
            answer = handler(raw, intent, query)
        if answer.intent in ("lead", "coop", "units", "target", "metadata", "general") and len(answer.citations) < self.settings.top_k:
            self._add_related(answer, query)
        answer.intent = answer.intent if answer.intent != "general" else intent.kind
        answer.resolved_question = query
        if self.searcher.dense_error:
            answer.notice = (answer.notice + " " if answer.notice else "") + messages.DENSE_DOWN
        return answer

    def _compound(self, question: str, parts: list[str], past: list[str]) -> Answer:
        """Each part answered on its own (with the parts before it as earlier turns), then joined:
        the clauses the parts' answers cite come first, renumbered, the related ones after them."""
        index = self.searcher.index
        draft = self._draft()
        answers = [self._answer(part, past + parts[:i]) for i, part in enumerate(parts)]
        numbers: list[dict[int, int]] = [{} for _ in answers]
        for used in (True, False):
            for sub, mapping in zip(answers, numbers):
                for c in sub.citations:
                    clause = index.clause(c.doc, c.clause_id)
                    if clause is None or (f"[{c.n}]" in sub.answer) != used or (not used and len(draft.citations) >= self.settings.top_k):
                        continue
                    mapping[c.n] = draft.cite(clause, c.score)
                    kept = draft.citations[mapping[c.n] - 1].quotes
                    kept.extend(q for q in c.quotes if q not in kept)
        for part, sub, mapping in zip(parts, answers, numbers):
            text = re.sub(r"\[(\d+)\]", lambda m, mapping=mapping: f"[{mapping.get(int(m.group(1)), m.group(1))}]", sub.answer)
            draft.lines.append(f"问：{part}\n{text}")
        return Answer(
            question=question, answer="\n\n".join(draft.lines), refused=all(a.refused for a in answers), citations=draft.citations,
            intent="+".join(a.intent for a in answers), resolved_question=" ".join(a.resolved_question or p for p, a in zip(parts, answers)),
            notice=" ".join(dict.fromkeys(a.notice for a in answers if a.notice)),  # 向量检索不可用 said once, not lost
        )

    def _add_related(self, answer: Answer, query: str) -> None:
        """Fill the citations up to top_k with the next best clauses, shown as related (相关条款)."""
        draft = self._draft()
        draft.citations = answer.citations
        for hit in self._ranked(query):
            if len(draft.citations) >= self.settings.top_k:
                break
            draft.cite(hit.clause, hit.score)

    def _draft(self) -> Draft:
        return Draft(doc_titles={d: m.title for d, m in self.searcher.index.docs.items()})

    def _refuse(self, question: str, message: str, hits: list[Hit], intent: str) -> Answer:
        """A plain 'the documents don't say', with the closest clauses as 相关条款."""
        draft = self._draft()
        for hit in hits[: self.settings.top_k]:
            draft.cite(hit.clause, hit.score)
        related = "；".join(f"[{c.n}] {c.title.split(' > ')[-1]}" for c in draft.citations[:3])
        text = message + (f"\n相关条款：{related}" if related else "")
        return Answer(question=question, answer=text, refused=True, citations=draft.citations, intent=intent)

    # -- handlers -------------------------------------------------------------------------------
    def _hostile(self, question: str, intent: Intent, query: str) -> Answer:
        return Answer(question=question, answer=messages.HOSTILE, refused=True, intent="hostile")

    def _chitchat(self, question: str, intent: Intent, query: str) -> Answer:
        return Answer(question=question, answer=messages.CHITCHAT, refused=True, intent="chitchat")

    def _units(self, question: str, intent: Intent, query: str) -> Answer:
        """Who leads / co-operates on a measure: the measure found by retrieval among clauses that
        name their units, the units read from the parsed clause."""
        searcher = self.searcher
        has_units = lambda c: bool(c.lead_units or c.coop_units)
        hits = searcher.search(query, k=3, keep=has_units, keep_name="has_units")
        if not hits:
            return self._general(question, intent.model_copy(update={"kind": "general"}), query)
        overall = searcher.search(query, k=1)
        top = hits[0]
        if overall and not has_units(overall[0].clause) and overall[0].clause.kind not in ("heading", "metadata") and overall[0].score > 1.5 * top.score:
            # the question is about something that is not a measure with units (领导小组的组长由谁担任)
            return self._general(question, intent.model_copy(update={"kind": "general"}), query)
        clause = top.clause
        draft = self._draft()
        n = draft.cite(clause, top.score, quote=_responsibility_text(clause))
        name = measure_name(clause)
        lead, coop = "、".join(clause.lead_units) or "未写明", "、".join(clause.coop_units) or "未写明"
        draft.lines.append(f"相关举措：{_measure_line(clause, clause.clause_id)}")
        if intent.kind == "lead":
            draft.lines.insert(0, f"“{name}”（{clause.clause_id}）的牵头单位是：{lead}[{n}]。")
            if clause.coop_units:
                draft.lines.append(f"配合单位：{coop}[{n}]。")
        elif intent.kind == "coop":
            draft.lines.insert(0, f"“{name}”（{clause.clause_id}）的配合单位是：{coop}[{n}]。")
            draft.lines.append(f"牵头单位：{lead}[{n}]。")
        else:
            draft.lines.insert(0, f"“{name}”（{clause.clause_id}）的牵头单位是：{lead}；配合单位是：{coop}[{n}]。")
        if intent.department and intent.kind != "lead":
            units = clause.lead_units + clause.coop_units
            names, _ = self.departments()
            mentioned = intent.department in {names.get(u, u) for u in units}
            role = "牵头" if intent.department in {names.get(u, u) for u in clause.lead_units} else "配合"
            if YES_NO.search(question):  # 卫健委参与了…吗: the yes or no first
                # no marker: the lines below quote the units from the clause they cite
                draft.lines.insert(0, f"是，{intent.department}是这项举措的{role}单位。" if mentioned else f"否，{intent.department}不是这项举措的牵头或配合单位。")
            else:
                draft.lines.append(f"其中{'有' if mentioned else '没有'}{intent.department}" + (f"（{role}）[{n}]。" if mentioned else "。"))
        return Answer(question=question, answer=draft.text(), citations=draft.citations, intent=intent.kind)

    def _reverse(self, question: str, intent: Intent, query: str) -> Answer:
        """What a department leads / co-operates on: complete, from the department table."""
        names, rows = self.departments()
        row = rows.get(intent.department or "")
        if row is None:
            hits = self.searcher.search(query, k=3)
            return self._refuse(question, messages.NO_DEPARTMENT.format(name=intent.department or "该部门"), hits, intent.kind)
        index = self.searcher.index
        draft = self._draft()
        others = [rows[c] for c in dict.fromkeys(names[n] for n in names if n in question) if c in rows and c != row.name]
        if others and re.search(r"一起|共同|联合|同时|都|均", question):
            role = "配合" if intent.kind == "reverse_coop" else "牵头"
            pick = (lambda r: r.cooperates) if role == "配合" else (lambda r: r.leads)
            shared = [ref for ref in pick(row) if all(ref in pick(o) for o in others)]
            who = "、".join([row.name] + [o.name for o in others])
            draft.lines.append(f"{who}共同{role}的举措共{len(shared)}项：" if shared else f"没有{who}共同{role}的举措。")
            for ref in shared:
                clause = index.clause(ref.doc, ref.clause_id)
                draft.lines.append(f"- {_measure_line(clause, ref.clause_id)}[{draft.cite(clause, 1.0, quote=_responsibility_text(clause))}]")
            return Answer(question=question, answer=draft.text(), citations=draft.citations, intent=intent.kind)
        parts = []
        if intent.kind in ("reverse_lead", "reverse_any"):
            parts.append(("牵头", row.leads))
        if intent.kind in ("reverse_coop", "reverse_any"):
            parts.append(("配合", row.cooperates))
        if intent.kind == "reverse_lead" and not row.leads:
            parts.append(("配合", row.cooperates))
        if intent.kind == "reverse_coop" and not row.cooperates:
            parts.append(("牵头", row.leads))
        for role, refs in parts:
            if not refs:
                draft.lines.append(f"{row.name}没有作为{role}单位的举措。")
                continue
            draft.lines.append(f"{row.name}作为{role}单位的举措共{len(refs)}项：")
            for ref in refs:
                clause = index.clause(ref.doc, ref.clause_id)
                n = draft.cite(clause, 1.0, quote=_responsibility_text(clause))
                draft.lines.append(f"- {_measure_line(clause, ref.clause_id)}[{n}]")
        if row.aliases:
            draft.lines.append(f"（文件中也写作：{'、'.join(row.aliases)}）")
        return Answer(question=question, answer=draft.text(), citations=draft.citations, intent=intent.kind)

    def _joint_lead(self, question: str, intent: Intent, query: str) -> Answer:
        """The measures led by two or more units, complete, from the parsed responsibilities."""
        names, _ = self.departments()
        draft = self._draft()
        joint = [
            c for c in self.searcher.index.clauses
            if c.window == 0 and len(dict.fromkeys(names.get(u, u) for u in c.lead_units)) >= 2
        ]
        if not joint:
            draft.lines.append("已收录的政策文件中没有由两个或以上单位共同牵头的举措。")
            return Answer(question=question, answer=draft.text(), intent=intent.kind)
        draft.lines.append(f"由两个或以上单位共同牵头的举措共{len(joint)}项：")
        for clause in joint:
            n = draft.cite(clause, 1.0, quote=_responsibility_text(clause))
            draft.lines.append(f"- {measure_name(clause)}（{clause.clause_id}）：{'、'.join(clause.lead_units)}[{n}]")
        return Answer(question=question, answer=draft.text(), citations=draft.citations, intent=intent.kind)

    def _target(self, question: str, intent: Intent, query: str) -> Answer:
        """A target number from the indicator table; falls back to retrieval when none matches."""
        index = self.searcher.index
        topic = intent.topic or query
        if ASKS_MONEY.search(question):
            return self._general(question, intent, query)
        chosen = match_indicators(topic.replace(" ", ""), index.indicators, self.searcher.lexical.tokenizer.synonyms, question)
        explicit = re.search(r"多少|几|比重|占比|比例|百分", question)
        if not chosen or not explicit and len(chosen) > 1:
            # 国家级创新平台有什么目标？ names no number: the target clause itself answers
            return self._general(question, intent, query)
        best = 1.0
        asked_years = set(YEAR.findall(question))
        draft = self._draft()
        for ind in chosen:
            clause = index.clause(ind.doc, ind.clause_id)
            section = index.clause(ind.doc, clause.clause_id.split(".")[0])
            doc_text = index.docs[ind.doc].title + clause.text + (section.text if section else "")
            if asked_years - set(YEAR.findall(doc_text)) or re.search(r"实际|完成了|已经完成|进度如何|目前.{0,4}(多少|几)", question):
                return self._refuse(question, messages.NOT_IN_TEXT_NUMBER, [Hit(clause=clause, score=best)], intent.kind)
            n = draft.cite(clause, best, quote=ind.sentence)
            group = ind.group.lstrip("—")
            draft.lines.append(f"{ind.indicator}：{ind.value}{' ' if ind.unit != '%' else ''}{ind.unit}（{group}）。原文：“{ind.sentence}”[{n}]")
        if len(chosen) == 1:
            draft.lines.insert(0, "到2025年的目标：" if "2025" in index.docs[chosen[0].doc].title + "2025" else "目标：")
        else:
            draft.lines.insert(0, "相关目标如下：")
        return Answer(question=question, answer=draft.text(), citations=draft.citations, intent="target")

    def _metadata(self, question: str, intent: Intent, query: str) -> Answer:
        index = self.searcher.index
        hits = self.searcher.search(query, k=3, keep=lambda c: c.kind == "metadata", keep_name="metadata")
        if not hits:
            return self._general(question, intent.model_copy(update={"kind": "general"}), query)
        clause = hits[0].clause
        meta = index.docs[clause.doc]
        wanted = [k for k, pattern in messages.META_FIELDS if re.search(pattern, question)]
        draft = self._draft()
        n = draft.cite(clause, hits[0].score)
        if "附件" in wanted and re.search(r"未收录|未公开|未随", meta.fields.get("附件", "")):
            draft.citations[-1].quotes.append(f"附件：{meta.fields['附件']}")
            return Answer(
                question=question, answer=f"{messages.NOT_IN_TEXT}附件说明：{meta.fields['附件']}[{n}]", refused=True, citations=draft.citations, intent="metadata"
            )
        lines = []
        for key in wanted or ["title", "文号", "发文单位", "状态"]:
            value = meta.title if key == "title" else meta.fields.get(key)
            if value:
                label = "文件名称" if key == "title" else key
                lines.append(f"{label}：{value}")
                draft.citations[-1].quotes.append(f"{key}：{value}" if key != "title" else f"《{value}》")
        if not lines:
            return self._refuse(question, messages.NOT_IN_TEXT, hits, "metadata")
        draft.lines.append(f"《{meta.title}》" + "；".join(lines) + f"[{n}]。")
        return Answer(question=question, answer=draft.text(), citations=draft.citations, intent="metadata")

    def _ranked(self, query: str, wants_target: bool = True) -> list[Hit]:
        """The top clauses to cite: the best by rank, the last slot kept for the best clause of a
        document not yet cited (measured on ncp-policy-qa: +1 point document hit@5, span recall kept).
        A question that asks for no number or goal ranks target lines lower: 博士后工作站有什么支持
        is answered by the measure, not by 新增博士后工作站 20 个."""
        k = self.settings.top_k
        hits = self.searcher.search(query, k=k * 3)
        if not wants_target:
            hits.sort(key=lambda h: -h.score * (TARGET_DISCOUNT if h.clause.kind == "target" else 1.0))
        top = hits[: max(1, k - 1)]
        seen = {h.clause.doc for h in top}
        extra = next((h for h in hits[len(top) :] if h.clause.doc not in seen), None)
        rest = [extra] if extra is not None else hits[len(top) : len(top) + 1]
        return top + rest

    def _general(self, question: str, intent: Intent, query: str) -> Answer:
        searcher = self.searcher
        hits = self._ranked(query, wants_target=intent.asks_number or bool(TARGET_CONTEXT.search(question)))
        if not hits:
            return self._refuse(question, messages.NOT_IN_TEXT, [], "general")
        tokens = searcher.lexical.tokenizer.tokens(intent.topic or query) or searcher.lexical.tokenizer.tokens(query)
        weights = self._weights(tokens)
        # the documents' titles count: they often carry the place and subject the clause leaves implicit
        evidence = " ".join(h.clause.text + " " + h.clause.title for h in hits[:3]) + " " + " ".join(
            dict.fromkeys(searcher.index.docs[h.clause.doc].title for h in hits[:3])
        )
        listing = self._section_listing(intent, hits, weights)
        if listing is not None:
            return listing.model_copy(update={"question": question})
        reason = self._out_of_scope(question, weights, evidence, hits)
        if reason:
            return self._refuse(question, reason, hits, "general")
        limit = 5 if intent.asks_list else 3
        chosen = pick_sentences([(h.clause, h.score) for h in hits], weights, limit=limit)
        top = hits[0].clause
        if chosen and len(top.text) <= 220 and top.kind in ("clause", "target", "preamble", "paragraph"):
            # a short best clause is quoted whole: it is the answer, and its context matters
            chosen = [(top, hits[0].score, top.text, 1.0)] + [c for c in chosen if c[0] is not top][:1]
        draft = self._draft()
        for hit in hits:  # numbered in rank order, so [1] is always the best clause
            draft.cite(hit.clause, hit.score)
        for clause, score, sentence, _ in chosen:
            n = draft.cite(clause, score, quote=sentence)
            draft.lines.append(("- " if intent.asks_list and len(chosen) > 1 else "") + f"{sentence}[{n}]")
        return Answer(question=question, answer=draft.text(), citations=draft.citations, intent="general")

    def _weights(self, tokens: list[str]) -> dict[str, float]:
        """IDF weights of the question's words. A word the corpus never uses is discounted: it is as
        often a paraphrase (孩子 for 子女) as a sign the question is out of scope."""
        lexical = self.searcher.lexical
        return {t: lexical.idf(t) * (1.0 if lexical.known(t) else 0.6) for t in dict.fromkeys(tokens)}

    def _section_listing(self, intent: Intent, hits: list[Hit], weights: dict[str, float]) -> Answer | None:
        """For 有哪些/哪几条 questions about a section (基本原则, 保障措施): its items, each cited;
        for 第三条讲什么 after such a question: that item."""
        if not intent.asks_list and not intent.ordinal:
            return None
        index = self.searcher.index
        for hit in hits[:3]:
            clause = hit.clause
            children = index.children(clause)
            label = clause.heading_path[-1] if clause.heading_path else ""
            if intent.ordinal and len(children) >= intent.ordinal:
                child = children[intent.ordinal - 1]
                draft = self._draft()
                n = draft.cite(child, hit.score, quote=child.text)
                draft.lines.append(f"{label}的第{intent.ordinal}项：{child.text}[{n}]")
                return Answer(question="", answer=draft.text(), citations=draft.citations, intent="general")
            if intent.asks_list and len(children) >= 2 and weights and sum(w for t, w in weights.items() if t in label) >= 0.4 * sum(weights.values()):
                draft = self._draft()
                grouped = [index.children(child) for child in children]
                if all(grouped):  # 主要举措: six groups of 22 measures, counted and listed by group
                    draft.lines.append(f"{label}分{len(children)}个部分，共{sum(map(len, grouped))}项：")
                    for child, items in zip(children, grouped):
                        n = draft.cite(child, hit.score, quote=child.text)
                        names = "、".join(measure_name(i) for i in items)
                        draft.lines.append(f"- {measure_name(child)}[{n}]：{len(items)}项（{names}）")
                    return Answer(question="", answer=draft.text(), citations=draft.citations, intent="general")
                draft.lines.append(f"{label}共{len(children)}项：")
                for child in children:
                    first = child.text.split("。")[0]
                    n = draft.cite(child, hit.score, quote=first + "。" if len(first) < len(child.text) else first)
                    draft.lines.append(f"- {first}[{n}]")
                return Answer(question="", answer=draft.text(), citations=draft.citations, intent="general")
        return None

    def _unknown_place(self, query: str) -> str | None:
        """An area the question names that no document mentions (苏州工业园区, 广州 in a Kunshan plan):
        its rules are not in the knowledge base, however well the rest of the question matches."""
        searcher = self.searcher
        places = searcher.lexical.tokenizer.places(query)
        if not places:
            return None
        index = searcher.index
        if self._corpus_text is None or self._corpus_text[0] != index.build.name:
            text = " ".join([m.title for m in index.docs.values()] + [c.text for c in index.clauses])
            self._corpus_text = (index.build.name, text)
        text = self._corpus_text[1]
        bare = lambda p: re.sub(r"(省|市|县|区|自治区)$", "", p) if len(p) > 2 else p  # 北京市 is written 北京 too
        unknown = [p for p in places if p not in text and bare(p) not in text]
        # a known area named too (北京的专家来昆山…) makes the unknown one where people come from
        return unknown[0] if unknown and len(unknown) == len(places) else None

    def _years_of(self, doc: str) -> set[str]:
        """Every year a document mentions (a question about 2030 is not answered by a 2025 plan)."""
        index = self.searcher.index
        key = (index.build.name, doc)  # a new build (an upload) may change the document
        if key not in self._doc_years:
            text = " ".join(c.text for c in index.by_doc.get(doc, []))
            self._doc_years[key] = set(YEAR.findall(text + index.docs[doc].title))
        return self._doc_years[key]

    def _out_of_scope(self, question: str, weights: dict[str, float], evidence: str, hits: list[Hit]) -> str | None:
        """Why the retrieved clauses do not answer the question, or None when they may."""
        for asks, answered_by, reason in KINDS_OF_FACT:
            # where and how much must be said of the subject itself (a 平台 or 亿元 elsewhere in the
            # clauses answers nothing); dates and contacts sit apart from it too often to ask that
            where = _about_subject(evidence, weights) if asks in (ASKS_PLACE, ASKS_MONEY) else evidence
            if asks.search(question) and not answered_by.search(where):
                return reason
        if "附件" in question:
            notes = [self.searcher.index.docs[h.clause.doc].get("附件") for h in hits[:3]]
            if any(re.search(r"未收录|未公开|未随", n or "") for n in notes):
                return messages.NOT_IN_TEXT + next(f"附件说明：{n}" for n in notes if n and re.search(r"未收录|未公开|未随", n))
        asked_years = set(YEAR.findall(question))
        if asked_years and not asked_years & set(YEAR.findall(evidence)) and not any(
            asked_years & self._years_of(h.clause.doc) for h in hits[:3]
        ):
            return messages.NOT_IN_TEXT
        if coverage(weights, evidence, self.searcher.lexical.tokenizer.synonyms) < self.settings.min_coverage:
            return messages.NOT_IN_TEXT
        return None


def _about_subject(evidence: str, weights: dict[str, float]) -> str:
    """The evidence sentences naming one of the question's rarest words: where 技师学院 is, is said
    (or not) where 技师学院 is mentioned, not by a 平台 elsewhere in the clause."""
    top = max((w for t, w in weights.items() if len(t) >= 2), default=0.0)
    subjects = [t for t, w in weights.items() if len(t) >= 2 and w >= 0.8 * top]
    sentences = [x for x in re.split(r"(?<=[。；！？!?;])", evidence) if any(t in x for t in subjects)]
    return " ".join(sentences) or evidence


def split_compound(question: str, detect) -> list[str]:
    """Two or three questions in one message that ask different kinds of things (依据什么会议精神？
    发文单位是谁？) as separate questions; one question in several parts (有什么行动？谁牵头？) stays
    whole: a later part that leans on the earlier one, or the same kind twice, is not split off."""
    parts = [p.strip() for p in re.split(r"(?<=[？?])", question) if re.search(r"[\w\u3400-\u9fff]", p)]
    if not 2 <= len(parts) <= 3:
        return [question]
    intents = [detect(p) for p in parts]
    if any(is_elliptical(p, i) for p, i in zip(parts, intents)) or len({i.kind for i in intents}) < len(intents):
        return [question]
    return parts


def coverage(weights: dict[str, float], evidence: str, synonyms: dict[str, list[str]]) -> float:
    """IDF-weighted share of the question's content words (or their policy synonyms) found in the
    evidence. Single characters carry too little meaning to count."""
    content = {t: w for t, w in weights.items() if len(t) >= 2}
    total = sum(content.values())
    if total <= 0:
        return 0.0
    found = sum(w for t, w in content.items() if t in evidence or any(x in evidence for x in synonyms.get(t, ())))
    return found / total


def match_indicators(topic: str, indicators: list, synonyms: dict[str, list[str]] | None = None, question: str = "") -> list:
    """Indicators named by the topic. A topic listing several (有效高企、瞪羚企业、上市企业) gets
    each part that names one indicator completely."""
    from assistant.retrieval.tokenize import expand_query

    clean = lambda text: re.sub(r"[“”\"()（）\s]", "", text)

    def score(text: str, name: str) -> float:
        core = clean(re.sub(r"^(新增|净增|全市|其中)", "", name))
        contained = len(char_bigrams(core) & char_bigrams(clean(text))) / max(1, len(char_bigrams(core)))
        return 0.5 * bigram_similarity(text, name) + 0.5 * contained

    synonyms = synonyms or {}
    whole = expand_query(topic, synonyms)
    ranked = sorted(((score(whole, i.indicator), n) for n, i in enumerate(indicators)), key=lambda x: -x[0])
    chosen: list = []
    if ranked and ranked[0][0] >= 0.5:
        chosen = [indicators[n] for s, n in ranked if s >= ranked[0][0] - 0.08]
    parts = [p for p in re.split(r"[、，,和及与跟；;（）()\s]|以及|还有", question or topic) if len(clean(p)) >= 3]
    if len(parts) > 1:
        for part in parts:
            part = re.sub(r"(的)?(目标|指标)?(分别|是|要|达到|多少|有多少|计划|新增)*[？?]?$", "", part)
            part_grams = char_bigrams(clean(expand_query(part, synonyms)))
            own = char_bigrams(clean(part))
            fits = [i for i in indicators if own and len(own & char_bigrams(clean(i.indicator))) == len(own)]
            if not fits:
                fits = [i for i in indicators if part_grams and len(part_grams & char_bigrams(clean(i.indicator))) >= 0.8 * len(char_bigrams(clean(i.indicator)))]
            if len(fits) == 1 and fits[0] not in chosen:
                chosen.append(fits[0])
    return chosen[:6]


def _measure_line(clause: Clause, clause_id: str) -> str:
    """`关键技术“突破”行动（四.(四).16）：大力实施祖冲之自主可控产业技术攻关计划…` with the
    programme names the measure puts in quotes."""
    from assistant.retrieval.tokenize import quoted_terms

    body = re.sub(r"^[^。]{0,40}。", "", clause.text, count=1)
    body = re.sub(r"[〔(（][^〔〕()（）]*(牵头单位|责任单位)[\s\S]*$", "", body).strip()
    snippet = body[:46].rstrip("，,、；;") + ("…" if len(body) > 46 else "")
    names = [t for t in quoted_terms([body]) if t not in snippet][:4]
    extra = f"（涉及：{'、'.join(names)}）" if names else ""
    return f"{measure_name(clause)}（{clause_id}）：{snippet}{extra}"


def _responsibility_text(clause: Clause) -> str:
    from assistant.ingestion.departments import find_responsibility

    _, _, span = find_responsibility(clause.text)
    return clause.text[span[0] : span[1]] if span else ""
