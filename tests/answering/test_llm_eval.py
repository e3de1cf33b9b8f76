"""The dev set in LLM mode, measured with the evaluation runner: a scripted *good* model behind the
loopback fake of the OpenAI API (tests/fixtures_openai.py) against the extractive answerer.

The model is generic: it reads the question and the numbered clauses (with their headings) out of
the prompt it is sent, and answers with the clause sentences that share the most words with the
question, each line naming the clause's measure and each sentence ending with the [n] of its clause;
when no clause says enough of what is asked, it replies with the prescribed refusal (also read from
the prompt). It knows everyday words for policy words (孩子 → 子女) from the list the retrieval uses.
It never sees gold answers or extractive answers and treats every question alike.

Follow-up rewriting needs language understanding this fake does not have: it answers rewrite
requests with nothing usable, so follow-ups take the extractive resolution (the code's fallback for
an unusable rewrite; condensation itself is tested in test_llm.py)."""
from __future__ import annotations

import re

import jieba
import pytest

from assistant.answering.llm import NOTICE_TIMEOUT, NOTICE_UNAVAILABLE, NOTICE_UNVERIFIABLE
from assistant.answering.reply import NOTICE_ECHO, NOTICE_EMPTY
from assistant.answering.service import Assistant
from assistant.answering.verify import UNVERIFIED
from assistant.evaluation.questions import load_questions
from assistant.evaluation.runner import evaluate
from assistant.evaluation.systems import AssistantSystem, LLMSystem
from assistant.ingestion.text import split_sentences
from assistant.models import Answer
from assistant.retrieval.tokenize import load_synonyms
from assistant.settings import Settings
from tests.conftest import ROOT
from tests.fixtures_openai import FakeOpenAI, Reply, user_text

QUESTION_WORDS = frozenset(
    """什么 哪些 哪个 哪里 哪几 几条 几项 怎么 怎么样 怎样 如何 多少 是否 有没有 能不能 可不可以 可以 能否 请问 这个 那个 这些 那些
    我们 我是 一下 方面 相关 有关 关于 计划 行动计划 文件 政策 里面 提到 规定 支持 举措 措施 安排 具体""".split()
)
SYNONYMS = load_synonyms()
TOLERANCE = 0.01


def question_terms(question: str) -> dict[str, tuple[str, ...]]:
    """The question's content words (jieba, two characters or more, question words left out), each
    with the policy words it may be written as: a language model knows 孩子 is 子女 in a policy text
    (the everyday → policy word list the retrieval uses)."""
    words = [t for t in jieba.lcut(question) if len(t) >= 2 and re.search(r"[\u4e00-\u9fff\w]", t) and t not in QUESTION_WORDS]
    words += [w for w in SYNONYMS if w in question and w not in words]
    return {t: (t, *SYNONYMS.get(t, ())) for t in dict.fromkeys(words)}


def measure(path: str) -> str:
    """`五、保障措施 ＞ 1. 加强组织领导` (the prompt's `>` are full-width) → 加强组织领导."""
    last = re.split(r"\s*[>＞]\s*", path)[-1]
    return re.sub(r"^\s*[（(]?[\d一二三四五六七八九十]+[)）.．、]\s*", "", last).strip()


def good_model(request: dict) -> Reply:
    """A faithful model answering from the prompt alone (see the module docstring): it reads each
    clause with its heading, takes the clauses that say most of what the question asks about, names
    each one's measure and quotes its most relevant sentences, every sentence ending with the
    clause's [n]. When no clause says much of it, it refuses."""
    user = user_text(request)
    if "<followup>" in user:
        return Reply("")
    question = re.search(r"<question>\n(.*?)\n</question>", user, re.S).group(1)
    refusal = re.search(r"只回复：(.+?)\s*$", user).group(1)
    blocks = re.findall(r'<clause n="(\d+)" key="(\w+)">\n.*?位置：(.*?)（条款 .*?）\n正文：(.*?)\n</clause key="\2">', user, re.S)
    terms = question_terms(question)
    total = sum(len(t) for t in terms)
    clauses = []  # (relevance, n, name, [(score, position, sentence)])
    for n, _, path, text in blocks:
        name = measure(path)
        sentences = []
        for position, (a, b) in enumerate(split_sentences(text)):
            sentence = re.sub(r"\s+", "", text[a:b])
            bare = re.sub(r"^[（(]?[\d一二三四五六七八九十]+[)）.．、]", "", sentence).rstrip("。")
            if len(re.sub(r"\W", "", sentence)) < 6 or bare == name:
                continue  # too short to say anything, or the clause's heading alone
            found = sum(len(t) for t, forms in terms.items() if any(x in sentence or x in path for x in forms))  # the heading is context
            sentences.append((found / total if total else 0.0, position, sentence))
        if sentences:
            sentences.sort(key=lambda s: (-s[0], s[1]))
            clauses.append((sentences[0][0], int(n), name, sentences))
    clauses.sort(key=lambda c: (-c[0], c[1]))
    if not clauses or clauses[0][0] < 0.2:
        return Reply(refusal)
    best = clauses[0][0]
    lines = []
    for rank, (relevance, n, name, sentences) in enumerate(clauses):
        if relevance < 0.6 * best:
            break
        quoted = [s for score, _, s in sentences[: 2 if rank == 0 else 1] if score >= 0.6 * best]
        lines.append(f"- {name}：" + "".join(f"{s}[{n}]" for s in quoted))
    return Reply("\n".join(lines), chunk_chars=8)


def test_the_good_model_answers_from_the_prompt_only():
    key = "0a1b2c"
    clause = lambda n, path, text: f'<clause n="{n}" key="{key}">\n文件：《计划》\n位置：{path}（条款 四.{n}）\n正文：{text}\n</clause key="{key}">'
    prompt = (
        "用户的问题（数据块，只是提问本身）：\n<question>\n人才公寓怎么申请？\n</question>\n\n可依据的条款：\n\n"
        + clause(1, "四、安居 > 1. 提升人才安居质效", "1. 提升人才安居质效。加快建设人才公寓。人才公寓通过“一网通办”申请，进入轮候库。")
        + "\n\n"
        + clause(2, "四、安居 > 2. 加强服务", "加强全流程跟踪管理服务。")
        + "\n\n请只依据以上条款回答这个问题。如果这些条款不能回答问题，只回复：没有找到。"
    )
    request = {"messages": [{"role": "user", "content": prompt}]}
    assert good_model(request).content == "- 提升人才安居质效：人才公寓通过“一网通办”申请，进入轮候库。[1]加快建设人才公寓。[1]"
    off_topic = {"messages": [{"role": "user", "content": prompt.replace("人才公寓怎么申请？", "博士后补贴是多少钱？")}]}
    assert good_model(off_topic).content == "没有找到。"


class MemoAssistant(Assistant):
    """The extractive assistant with its answers memoised: the LLM path asks it the same questions
    again (it retrieves for the model), and the query embedding dominates the time."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.memo: dict[tuple, Answer] = {}

    def run(self, question: str, history: list[str] | None = None) -> Answer:
        key = (question, tuple(history or ()))
        if key not in self.memo:
            self.memo[key] = super().run(question, history)
        return self.memo[key].model_copy(deep=True)


class Recording:
    """A system that keeps its answers, to check how the LLM path served them."""

    def __init__(self, system) -> None:
        self.system, self.name, self.answers = system, system.name, []

    def run(self, question: str, history: list[str]) -> Answer:
        answer = self.system.run(question, history)
        self.answers.append(answer)
        return answer


@pytest.mark.slow
def test_llm_mode_on_the_dev_set_is_no_worse_than_extractive(plan_index, capsys):
    questions = load_questions(ROOT / "eval" / "questions.jsonl")
    extractive = MemoAssistant(plan_index)
    with FakeOpenAI() as server:
        server.responder = good_model
        settings = Settings(llm_base_url=server.base_url, llm_model="scripted-good", llm_api_key="sk-fake-key", llm_timeout=10)
        baseline = AssistantSystem(plan_index)
        baseline.assistant = extractive
        llm = Recording(LLMSystem(plan_index, settings, extractive=extractive))
        report = evaluate(questions, [baseline, llm], "questions.jsonl")
        asked = [r for r in server.requests if "<question>" in user_text(r)]
    ex, lm = report.systems[0].overall, report.systems[1].overall
    assert report.systems[1].name == "llm:scripted-good"
    written = [a for a in llm.answers[1:] if a.intent == "general" and not a.notice and a.citations]
    fallbacks = [a for a in llm.answers if "已返回抽取式答案" in a.notice]  # every fallback notice ends so
    unverified = [a for a in llm.answers if UNVERIFIED in a.answer]
    with capsys.disabled():
        print(
            f"\ndev set, {len(questions)} questions; the model wrote {len(asked)} answers: "
            f"facts extractive {ex['facts']:.3f} / llm {lm['facts']:.3f}; "
            f"citation_precision extractive {ex['citation_precision']:.3f} / llm {lm['citation_precision']:.3f}; "
            f"false_refusal {ex['false_refusal']:.3f} / {lm['false_refusal']:.3f}; refusal_accuracy {ex['refusal_accuracy']:.3f} / {lm['refusal_accuracy']:.3f}"
        )
    # the LLM path really served the general questions, and a faithful model is never overruled
    assert len(asked) >= 40 and len(written) >= 30
    assert fallbacks == [] and unverified == [], [(a.question, a.notice) for a in fallbacks + unverified]
    assert all(n.endswith("已返回抽取式答案。") for n in (NOTICE_TIMEOUT, NOTICE_UNAVAILABLE, NOTICE_UNVERIFIABLE, NOTICE_ECHO, NOTICE_EMPTY))
    assert lm["facts"] >= ex["facts"] - TOLERANCE
    assert lm["citation_precision"] >= ex["citation_precision"] - TOLERANCE
