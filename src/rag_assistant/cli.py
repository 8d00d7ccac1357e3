"""The `rag` command: a thin shell over RagService. Errors are one line and a non-zero exit;
`--json` gives scripts the same data the API returns."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .errors import RagError

if TYPE_CHECKING:
    from .retrieval.retriever import Mode as RetrievalMode

F = TypeVar("F", bound=Callable[..., Any])


def _settings(**overrides: Any):  # -> Settings, or one clear line naming the bad variables
    from pydantic import ValidationError

    from .config import load_settings

    try:
        return load_settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        raise click.ClickException(f"invalid configuration: {problems}") from None


def _service(ctx: click.Context):  # -> RagService, imported lazily for a fast `rag --help`
    if "service" not in ctx.obj:
        from .bootstrap import create_service
        from .observability import configure_logging

        settings = _settings()
        configure_logging("WARNING" if settings.log_level == "INFO" else settings.log_level,
                          json_lines=settings.in_lambda)
        ctx.obj["service"] = create_service(settings)
        ctx.call_on_close(ctx.obj["service"].close)
    return ctx.obj["service"]


def _friendly_errors(func: F) -> F:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except RagError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper  # type: ignore[return-value]


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="rag-assistant")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Answer questions about your documents (PDF, TXT, Markdown), with sources.

    The index lives in RAG_DATA_DIR (default ~/.local/share/rag-assistant).
    """
    ctx.ensure_object(dict)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the per-file results as JSON.")
@click.pass_context
@_friendly_errors
def ingest(ctx: click.Context, paths: tuple[Path, ...], as_json: bool) -> None:
    """Index files and folders (.pdf, .txt, .md). Unchanged files are skipped.

    Exits 1 if any file failed; the others are indexed all the same.
    """
    from .service import iter_supported_files

    missing = [p for p in paths if not p.exists()]
    files = list(iter_supported_files(p for p in paths if p.exists()))
    service = _service(ctx)
    results = []
    show_progress = not as_json and sys.stderr.isatty() and len(files) > 1
    with click.progressbar(
        files, label="Indexing", file=sys.stderr, show_pos=True, hidden=not show_progress,
        item_show_func=lambda p: p.name if p else "",
    ) as bar:
        for path in bar:
            results.append(service.ingest_path(path))

    records = [r.to_dict() for r in results] + [
        {"source": str(p), "file_name": p.name, "outcome": "failed", "document_id": None,
         "chunk_count": 0, "reason": "no such file or folder", "seconds": 0.0}
        for p in missing
    ]
    if as_json:
        _emit_json(records)
    else:
        for r in records:
            if r["outcome"] == "failed":
                click.echo(f"failed     {r['file_name']}: {r['reason']}")
            else:
                click.echo(
                    f"{r['outcome']:<10} {r['file_name']} ({r['chunk_count']} chunks, {r['seconds']:.1f}s)"
                )
        counts = {o: sum(1 for r in records if r["outcome"] == o) for o in ("indexed", "unchanged", "failed")}
        click.echo(
            f"{len(records)} file(s): {counts['indexed']} indexed, {counts['unchanged']} unchanged, "
            f"{counts['failed']} failed",
            err=True,
        )
    if not records:
        raise click.ClickException("no .pdf, .txt or .md files found")
    if any(r["outcome"] == "failed" for r in records):
        ctx.exit(1)


@cli.command()
@click.argument("question")
@click.option("--top-k", "-k", type=click.IntRange(1, 50), default=None, help="Sources to retrieve.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@_friendly_errors
def ask(ctx: click.Context, question: str, top_k: int | None, as_json: bool) -> None:
    """Answer QUESTION from the indexed documents, with numbered sources.

    With an LLM configured, the answer is printed as it is written."""
    from .models import AnswerReady, AnswerText

    question = _validated_question(question)
    service = _service(ctx)
    if as_json:
        _emit_json(service.ask(question, top_k).to_dict())
        return
    streaming = service.describe().streams_text
    answer = None
    for event in service.ask_stream(question, top_k):
        if isinstance(event, AnswerText) and streaming:
            click.echo(event.text, nl=False)
        elif isinstance(event, AnswerReady):
            answer = event.answer
    if answer is None:
        raise click.ClickException("no answer was produced")
    if streaming:
        click.echo()
        if answer.notice:  # the LLM failed: the extractive answer replaces what was streamed
            click.echo(f"\nNote: {answer.notice}", err=True)
            click.echo(textwrap.fill(answer.text, width=100))
    else:
        click.echo(textwrap.fill(answer.text, width=100) if answer.text else "")
    if answer.answered:
        click.echo("\nSources:")
        for citation in answer.citations:
            if citation.cited:
                _echo_hit(citation.number, citation.hit)


@cli.command()
@click.argument("query")
@click.option("--top-k", "-k", type=click.IntRange(1, 50), default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@_friendly_errors
def search(ctx: click.Context, query: str, top_k: int | None, as_json: bool) -> None:
    """Show the chunks that best match QUERY, without an answer."""
    hits = _service(ctx).search(_validated_question(query), top_k)
    if as_json:
        _emit_json([h.to_dict() for h in hits])
        return
    if not hits:
        click.echo("No documents are indexed yet: run `rag ingest PATH` first.")
    for n, hit in enumerate(hits, start=1):
        _echo_hit(n, hit)


@cli.command()
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--cursor", default=None, help="Continue from a previous page (--json shows it).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@_friendly_errors
def documents(ctx: click.Context, limit: int, cursor: str | None, as_json: bool) -> None:
    """List the indexed documents, newest first."""
    try:
        docs, next_cursor = _service(ctx).list_documents(limit, cursor)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--cursor") from None
    if as_json:
        _emit_json({"documents": [d.to_dict() for d in docs], "next_cursor": next_cursor})
        return
    if not docs:
        click.echo("No documents yet: run `rag ingest PATH`.")
    for d in docs:
        pages = f", {d.page_count} pages" if d.page_count else ""
        line = f"{d.document_id}  {d.status:<10} {d.chunk_count:>5} chunks{pages}  {d.file_name}"
        click.echo(line + (f"\n    error: {d.error}" if d.error else ""))
    if next_cursor:
        click.echo(f"(more: --cursor {next_cursor})", err=True)


@cli.command()
@click.argument("document_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@_friendly_errors
def delete(ctx: click.Context, document_id: str, as_json: bool) -> None:
    """Remove a document and its chunks from the index."""
    _service(ctx).delete_document(document_id)
    if as_json:
        _emit_json({"deleted": document_id})
    else:
        click.echo(f"deleted {document_id}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Loopback by default. Another address (0.0.0.0 to share) turns on the token for write routes.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--token", default=None, metavar="TOKEN",
              help="Token for write routes (default: RAG_API_TOKEN; made up and printed when listening beyond loopback).")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="Another host name to answer to (adds to RAG_ALLOWED_HOSTS); '*' turns the Host check off.")
def serve(host: str, port: int, token: str | None, allow_hosts: tuple[str, ...]) -> None:
    """Serve the API and the web page (http://127.0.0.1:8000)."""
    import uvicorn

    from .api.app import SERVER_LIMITS, create_local_app
    from .api.local_security import is_loopback
    from .observability import configure_logging

    overrides: dict[str, object] = {}
    if token:
        overrides["api_token"] = token
    settings = _settings(**overrides)
    if allow_hosts:
        names = ",".join([settings.allowed_hosts, *allow_hosts]).strip(",")
        settings = settings.model_copy(update={"allowed_hosts": names})
    configure_logging(settings.log_level, json_lines=settings.in_lambda)
    app, security, made_up = create_local_app(settings, host=host)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"Serving the assistant on http://{shown}:{port}  (API docs: /docs)", err=True)
    if made_up:
        # Printed, never logged: the console of whoever started the server is the one place it goes.
        click.echo(f"Write routes need this token (X-Api-Key header, or enter it in the page): {security.token}", err=True)
    elif security.token is None and settings.auth_scope == "none" and not is_loopback(host):
        click.echo("warning: RAG_AUTH_SCOPE=none: anyone who reaches this address can upload and delete documents",
                   err=True)
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower(), **SERVER_LIMITS)


@cli.command(name="export-model")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--fp32", is_flag=True, help="Keep full precision (90 MB) instead of int8 (23 MB).")
@_friendly_errors
def export_model(out_dir: Path, fp32: bool) -> None:
    """Write the embedding model, and the answerer's sentence reader in its `reader/` folder, as
    ready-to-run folders (for RAG_EMBEDDING_MODEL_DIR)."""
    from .answering.reader import NAME as READER
    from .answering.reader import export_reader
    from .embedding import minilm
    from .embedding.export import export_minilm

    try:
        exported = export_minilm(out_dir, quantize=not fp32)
        export_reader(out_dir / "reader", minilm.model_dir(), quantize=not fp32)
    except OSError as exc:
        raise click.ClickException(f"cannot write the model to {out_dir}: {exc.strerror or exc}") from None
    click.echo(f"{exported.name} and {READER} ({exported.quantization}) written to {out_dir}")


@cli.command(name="eval")
@click.option("--corpus", "corpus_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="BEIR corpus.jsonl[.gz] (_id, title, text)")
@click.option("--queries", "queries_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="BEIR queries.jsonl[.gz] (_id, text)")
@click.option("--qrels", "qrels_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="qrels TSV with a header (query-id, corpus-id, score)")
@click.option("--squad", "squad_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="a SQuAD-format file (v1.1, v2.0, KorQuAD) instead: paragraphs are the corpus")
@click.option("--answers", "score_answers_too", is_flag=True,
              help="also ask every question and score the answers against the gold ones (needs --squad)")
@click.option("--hold-out", type=click.IntRange(2), default=None, metavar="K",
              help="with --squad: leave every K-th article out of the index; its questions must be declined")
@click.option("--top-k", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option("--run-out", type=click.Path(dir_okay=False, path_type=Path), help="write a TREC run file")
@click.option("--retrieval", type=click.Choice(["hybrid", "dense", "keyword", "rrf"]), default=None,
              help="override RAG_RETRIEVAL for this run (to compare rankings)")
@click.option("--sample", type=click.IntRange(1), default=None, help="evaluate a fixed random sample of N queries")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@_friendly_errors
def evaluate(ctx: click.Context, corpus_path: Path | None, queries_path: Path | None, qrels_path: Path | None,
             squad_path: Path | None, score_answers_too: bool, hold_out: int | None, top_k: int,
             run_out: Path | None, retrieval: RetrievalMode | None, sample: int | None, as_json: bool) -> None:
    """Measure retrieval on a golden set: nDCG@10, Recall@100, MRR@10, latency; with
    --answers, the answers too: how often they contain a gold answer, how often questions the
    documents cannot answer are declined, and how long the answers are.

    The golden set is BEIR files (--corpus, --queries, --qrels) or one SQuAD-format file
    (--squad). The corpus is indexed into the store of RAG_DATA_DIR (each document keeps its
    id; unchanged ones are skipped on later runs), then every query runs through the same
    retrieval as `rag search` (and, with --answers, the same answers as `rag ask`); the report
    says which ranking served each query.
    """
    import random
    import statistics

    from .evaluation.beir import read_corpus, read_qrels, read_queries
    from .evaluation.runner import EvalReport, index_corpus, run_queries, score_run, write_trec_run

    answers: dict[str, list[str]] = {}
    qrels: dict[str, dict[str, int]] | None
    try:
        if squad_path:
            if corpus_path or queries_path or qrels_path:
                raise click.UsageError("give either --squad or BEIR files (--corpus, --queries, --qrels), not both")
            from .evaluation.squad import article_of, read_squad

            corpus, queries, qrels, answers = read_squad(squad_path)
            if hold_out:
                # Questions about articles the index never saw: the answerer must decline them.
                held = {d.doc_id for d in corpus if article_of(d.doc_id) % hold_out == hold_out - 1}
                corpus = [d for d in corpus if d.doc_id not in held]
                for query_id, relevant in list(qrels.items()):
                    if set(relevant) <= held:
                        del qrels[query_id]
                        answers[query_id] = []
        else:
            if not corpus_path or not queries_path:
                raise click.UsageError("--corpus and --queries are required (or give a SQuAD-format file with --squad)")
            if score_answers_too or hold_out:
                raise click.UsageError("--answers and --hold-out need gold answers: give a SQuAD-format file with --squad")
            corpus = read_corpus(corpus_path)
            queries = read_queries(queries_path)
            qrels = read_qrels(qrels_path) if qrels_path else None
    except (ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    if qrels is not None and not squad_path:
        queries = {q: t for q, t in queries.items() if q in qrels}
    if sample and sample < len(queries):
        chosen = sorted(random.Random(0).sample(sorted(queries), sample))
        queries = {q: queries[q] for q in chosen}
    judged_queries = {q: t for q, t in queries.items() if qrels is None or q in qrels}
    service = _service(ctx)
    quiet = as_json or not sys.stderr.isatty()
    with click.progressbar(length=len(corpus), label="Indexing", file=sys.stderr, hidden=quiet) as bar:
        indexed, unchanged, failed = index_corpus(service, corpus, bar.update)
    with click.progressbar(length=len(judged_queries), label="Querying", file=sys.stderr, hidden=quiet) as bar:
        measured = run_queries(service, corpus, judged_queries, top_k, retrieval, bar.update)
    run, latencies = measured.ranked, measured.latencies
    ndcg, recall, mrr, judged = score_run(run, qrels)
    mode = retrieval or service.describe().retrieval_mode
    if run_out:
        write_trec_run(run_out, run, f"rag-{mode}")
    cuts = statistics.quantiles(latencies, n=20) if len(latencies) >= 2 else latencies * 19
    report = EvalReport(judged, ndcg, recall, mrr, statistics.median(latencies) if latencies else 0.0,
                        cuts[18] if cuts else 0.0, indexed, unchanged, failed, mode, measured.used_counts(),
                        {q: used for q, used in measured.used.items() if used != mode})
    answer_report = None
    if score_answers_too:
        from .evaluation.answers import score_answers

        with click.progressbar(length=len(queries), label="Answering", file=sys.stderr, hidden=quiet) as bar:
            answer_report = score_answers(service, queries, answers, bar.update)
    if as_json:
        body = report.to_dict()
        if answer_report is not None:
            body["answers"] = answer_report.to_dict()
        _emit_json(body)
        return
    served = ", ".join(f"{name} {count}" for name, count in report.retrieval_used.items())
    click.echo(f"{len(corpus)} documents ({indexed} indexed, {unchanged} unchanged, {len(failed)} failed), "
               f"{report.queries} queries, retrieval: {mode} (queries served by {served})")
    if report.rerouted:
        click.echo(f"{len(report.rerouted)} queries were not ranked by {mode}: the embedding model cannot "
                   f"read them (e.g. {next(iter(report.rerouted))})")
    if ndcg is not None:
        click.echo(f"nDCG@10 {ndcg:.4f}   Recall@100 {recall:.4f}   MRR@10 {mrr:.4f}")
    click.echo(f"query latency p50 {report.latency_ms_p50:.1f} ms, p95 {report.latency_ms_p95:.1f} ms")
    if answer_report is not None:
        _echo_answer_report(answer_report)
    for line in failed[:10]:
        click.echo(f"failed: {line}", err=True)


def _echo_answer_report(report) -> None:  # report: evaluation.answers.AnswerReport
    click.echo(f"answers ({report.generator}):")
    if report.answerable:
        click.echo(f"  {report.answerable} answerable: contains a gold answer {report.contains_gold:.1%}, "
                   f"answered {report.answered:.1%}, gold in the sources {report.gold_in_sources:.1%}")
    if report.answer_chars_p50 is not None:
        click.echo(f"  answer length: median {report.answer_chars_p50:.0f} characters, "
                   f"p90 {report.answer_chars_p90:.0f}, max {report.answer_chars_max}")
    if report.unanswerable:
        click.echo(f"  {report.unanswerable} unanswerable: declined {report.declined:.1%}")
    click.echo(f"  question to answer p50 {report.latency_ms_p50:.1f} ms")


def _validated_question(text: str) -> str:
    from .api.schemas import MAX_QUESTION_CHARS

    text = text.strip()
    if not text:
        raise click.BadParameter("must not be empty", param_hint="QUESTION")
    if len(text) > MAX_QUESTION_CHARS:
        raise click.BadParameter(
            f"is {len(text)} characters; the limit is {MAX_QUESTION_CHARS}", param_hint="QUESTION"
        )
    return text


def _echo_hit(number: int, hit) -> None:  # hit: SearchHit
    chunk = hit.chunk
    where = ""
    if chunk.page is not None:
        where = f", page {chunk.page}" + (f"-{chunk.page_end}" if chunk.page_end and chunk.page_end != chunk.page else "")
    if chunk.heading:
        where += f", § {chunk.heading}"
    click.echo(f" [{number}] {hit.file_name}{where}  (score {hit.score:.3f}, {chunk.chunk_id})")
    snippet = " ".join(chunk.text.split())
    click.echo(textwrap.indent(textwrap.fill(snippet[:300] + ("…" if len(snippet) > 300 else ""), 96), "     "))


def main() -> None:
    cli(prog_name="rag")
