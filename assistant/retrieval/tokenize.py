"""Chinese tokenisation for the lexical index: jieba search mode with the knowledge base's own terms."""
from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from pathlib import Path

TERMS_FILE = Path(__file__).with_name("terms.txt")
SYNONYMS_FILE = Path(__file__).with_name("synonyms.txt")
# Function words and question words: they say how a question is asked, not what it is about.
STOPWORDS = frozenset(
    """的 了 和 与 及 或 等 在 是 对 为 把 被 让 向 从 以 于 其 之 也 都 就 还 又 并 而 且 则 但 即 各 该 本 此 这 那 哪 些 个 项 条 种 位
    什么 哪些 哪个 哪家 哪几 几项 几个 多少 如何 怎么 怎样 怎么样 是否 有没有 有无 吗 呢 吧 啊 呀 么 嘛 请问 请 问 你 您 我 我们 你们 他们 它 他 她
    这个 那个 这项 那项 这些 那些 这里 那里 里面 其中 以及 还有 有 没有 要 会 能 可以 可 能否 需要 应该 怎么办 一下 告诉 知道 想 想要 看看 有关 相关 关于
    具体 主要 一些 多 少 大 小 好 到 给 由 被 将 已 已经 目前 现在 所 得 地 着 过 一 二 上 下 中 内 外 后 前
    能不能 可不可以 会不会 是不是 有没有 拿到 提到 提及 讲 说 讲的是 说的是 多久 一次 多长时间 方面 这块 那块 一块 情况 问题 规定 要求 计划里 里 搞
    呢 么 什么样 怎么回事 为什么 哪儿 哪里 安排 打算 回来 拿来 怎么安排 干什么 干嘛 一共 总共 共有 总计 合计 问问 的话 比如 例如 之类 等等 一名""".split()
)
_TOKEN_OK = re.compile(r"[\w\u3400-\u9fff]")
_RUNS = re.compile(r"[\u3400-\u9fff]{2,}")
_ADMIN_AREA = re.compile(r"(省|市|县|区|州|盟|旗)$")
TAGGED_KEPT = 4096
CONTENT_TAGS = frozenset("nvjlx")  # jieba's noun, verb, abbreviation, idiom and (for domain words, untagged) x tags
_QUOTED = re.compile(r"[“\"「『‘]([^”\"」』’]{2,12})[”\"」』’]")


def quoted_terms(texts: Iterable[str]) -> list[str]:
    """Programme names a policy puts in quotes (“昆聚英才”, “揭榜挂帅”) are words of their own; in order
    of first appearance (a set's order changes from one process to the next, and answers list them)."""
    found = (m.group(1).strip() for t in texts for m in _QUOTED.finditer(t) if not re.search(r"[，。,；;、\s]", m.group(1)))
    return list(dict.fromkeys(found))


def load_synonyms() -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for line in SYNONYMS_FILE.read_text(encoding="utf-8").splitlines():
        words = line.split()
        if len(words) >= 2 and not line.startswith("#"):
            groups.setdefault(words[0], []).extend(words[1:])
    return groups


def expand_query(text: str, synonyms: dict[str, list[str]]) -> str:
    """The query plus the policy words for the everyday words in it (孩子上学 → … 子女 入学)."""
    extra = [w for key, words in synonyms.items() if key in text for w in words if w not in text]
    return f"{text} {' '.join(dict.fromkeys(extra))}" if extra else text


def shipped_terms() -> list[str]:
    return [line.strip() for line in TERMS_FILE.read_text(encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")]


class Tokenizer:
    """A private jieba instance (the global one stays untouched) with extra domain words."""

    def __init__(self, user_words: Iterable[str] = ()) -> None:
        self.synonyms = load_synonyms()
        self._words = sorted({w for w in [*shipped_terms(), *user_words, *self.synonyms, *(x for v in self.synonyms.values() for x in v)] if 2 <= len(w) <= 20})
        self._jieba = None
        self._pos = None
        self._tagged: dict[str, tuple[tuple[str, str], ...]] = {}
        self._lock = threading.Lock()

    @property
    def jieba(self):
        with self._lock:
            if self._jieba is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                tok = jieba.Tokenizer()
                tok.initialize()
                for word in self._words:
                    tok.add_word(word, freq=20000)
                self._jieba = tok
            return self._jieba

    def tokens(self, text: str) -> list[str]:
        """Content words in search mode (a long word also yields its parts), lower-cased, without
        stopwords. For weighing a question's words and matching them in sentences."""
        out = []
        for tok in self.jieba.lcut_for_search(text.lower()):
            tok = tok.strip()
            if tok and tok not in STOPWORDS and _TOKEN_OK.search(tok):
                out.append(tok)
        return out

    def places(self, text: str) -> list[str]:
        """Names of administrative areas in the text (苏州工业园区, 铁岭市, 广州): jieba's place words
        that end like one or are a city or province without its 市/省. jieba also tags common words
        as places (新建, 安家, 上市), hence the test."""
        known = self.jieba.FREQ
        return [
            w for w, flag in self.tagged(text)
            if flag == "ns" and (len(w) >= 3 and _ADMIN_AREA.search(w) or any(known.get(w + s) for s in ("市", "省", "自治区")))
        ]

    def content_words(self, text: str) -> list[str]:
        """Nouns, verbs and names of at least two characters (买车, 专科生, 落户): the words of a text
        that can be what it is about, whatever the knowledge base's own vocabulary."""
        return [w for w, flag in self.tagged(text) if len(w) >= 2 and flag[:1] in CONTENT_TAGS and _TOKEN_OK.search(w)]

    def tagged(self, text: str) -> tuple[tuple[str, str], ...]:
        """(word, part of speech) with the domain words; a question's texts are tagged several times
        (its topic, its own words, its places), so recent ones are kept."""
        cached = self._tagged.get(text)
        if cached is not None:
            return cached
        import jieba.posseg

        segmenter = self.jieba  # outside the lock: it takes the lock itself
        with self._lock:
            if self._pos is None:
                self._pos = jieba.posseg.POSTokenizer(segmenter)
        result = tuple((w, flag) for w, flag in self._pos.cut(text))
        with self._lock:
            if len(self._tagged) >= TAGGED_KEPT:
                self._tagged.clear()
            self._tagged[text] = result
        return result

    def index_tokens(self, text: str) -> list[str]:
        """What the BM25 index sees: jieba's words plus the character bigrams of each run of text.
        Bigrams catch what segmentation misses (平凉市 vs 平凉, 高企 vs 高新技术企业 partly), and
        measured on the ncp-policy-qa benchmark they lift document hit@1 by about 4 points."""
        text = text.lower()
        words = [w for w in self.jieba.lcut(text) if w.strip() and w not in STOPWORDS and _TOKEN_OK.search(w)]
        grams = [run[i : i + 2] for run in _RUNS.findall(text) for i in range(len(run) - 1)]
        return words + grams
