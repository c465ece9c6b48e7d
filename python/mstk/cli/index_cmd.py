"""``mstk index``: build a BM25 index directory from corpus JSONL."""

from __future__ import annotations

import click

FIDELITY = ("fidelity: BM25 variants reproduce bm25s 0.3.16 / rank-bm25 0.2.2 / Lucene (--lucene-norms); "
            "fusion, tree retrieval and defaults are mstk's")


@click.command("index", epilog=FIDELITY)
@click.argument("corpus", default="-", metavar="CORPUS")
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Index directory to write.")
@click.option("--kind", default="bm25", show_default=True,
              help="Retriever: bm25, dense, faiss-hnsw, usearch (the ann extra), or one a plugin registers.")
@click.option("-p", "--option", "plugin_options", multiple=True, metavar="NAME=VALUE",
              help="Option for a plugin retriever (repeatable).")
@click.option("--encoder", default="minilm-int8", show_default=True, help="dense: registered encoder for the texts.")
@click.option("--vector-field", default=None, help="dense: take vectors from this field instead of encoding.")
@click.option("--metric", type=click.Choice(["ip", "cos"]), default="ip", show_default=True, help="dense: similarity.")
@click.option("--dtype", type=click.Choice(["f32", "int8"]), default="f32", show_default=True,
              help="dense: stored vectors; int8 takes a quarter of the memory and scores approximately.")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True, help="dense: texts per encoder batch.")
@click.option("--force", is_flag=True, help="Replace an existing index directory.")
@click.option("--id-field", default="id", show_default=True)
@click.option("--text-field", default="contents", show_default=True,
              help="Text to index; records without it may give title + text (FlashRAG).")
@click.option("--store-contents", is_flag=True, help="Keep the texts in the index (for retrieve --with-contents).")
@click.option("--variant", type=click.Choice(["lucene", "okapi", "bm25l", "bm25+"]), default="lucene", show_default=True)
@click.option("--k1", type=float, default=None, help="Default 0.9 (lucene) or 1.5.")
@click.option("--b", type=float, default=None, help="Default 0.4 (lucene) or 0.75.")
@click.option("--delta", type=float, default=None, help="bm25l 0.5, bm25+ 1.0.")
@click.option("--epsilon", type=float, default=None, help="okapi's negative-idf floor factor (0.25).")
@click.option("--lucene-norms", is_flag=True, help="Lucene's one-byte document lengths and float arithmetic.")
@click.option("--tokenizer", type=click.Choice(["word", "whitespace", "lowercase", "char", "char-bigram", "jieba", "jieba-search"]),
              default="word", show_default=True,
              help="char / char-bigram: CJK characters (or overlapping pairs) as tokens; jieba / jieba-search: "
                   "Chinese words (jieba's cut / cut_for_search).")
@click.option("--stopwords", default=None, help="en, none or FILE (one word per line); default en for word, none otherwise.")
@click.option("--stemmer", type=click.Choice(["english", "none"]), default=None, help="Default english for word.")
@click.option("--normalize", type=click.Choice(["none", "nfc", "nfkc"]), default="none", show_default=True)
@click.option("--on-error", type=click.Choice(["fail", "skip"]), default="fail", show_default=True)
@click.option("--errors", type=click.Path(dir_okay=False), default=None, help="With --on-error skip: the skipped-lines report.")
@click.option("--threads", type=click.IntRange(min=1), default=None)
@click.pass_obj
def index(pm, corpus, out_dir, kind, plugin_options, encoder, vector_field, metric, dtype, batch_size, force, id_field, text_field, store_contents,
          variant, k1, b, delta, epsilon, lucene_norms, tokenizer, stopwords, stemmer, normalize, on_error, errors,
          threads) -> None:
    """Index CORPUS (JSONL: id and contents, or id, title and text) for `mstk retrieve`."""
    from pathlib import Path

    from mstk import _core
    from mstk.io import ErrorPolicy, Stopwatch, emit_summary, iter_records, open_input
    from mstk.retrieval.bm25 import Bm25, IndexError_

    from mstk.plugins import retrievers

    registry = retrievers(pm)
    if kind not in registry:
        raise click.BadParameter(f"unknown retriever {kind!r} (installed: {', '.join(sorted(registry))})", param_hint="'--kind'")
    options = {}
    for pair in plugin_options:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"expected NAME=VALUE, got {pair!r}", param_hint="'-p'")
        options[name.strip()] = value
    if Path(out_dir).exists() and not force:
        raise click.UsageError(f"{out_dir} exists: use --force to replace it")
    watch = Stopwatch()
    stream, source = open_input(corpus)
    policy = ErrorPolicy(source=source, mode=on_error, errors_path=errors)
    ids: list[str] = []
    texts: list[str] = []
    vectors: list[list[float]] = []
    seen: set[str] = set()
    with stream:
        for batch in iter_records(stream, policy):
            for line, record in batch:
                doc_id = record.get(id_field)
                if isinstance(doc_id, int) and not isinstance(doc_id, bool):
                    doc_id = str(doc_id)
                if not isinstance(doc_id, str) or not doc_id:
                    policy.bad(line, f"field {id_field!r} missing or not a string")
                    continue
                if doc_id in seen:
                    policy.bad(line, f"duplicate id {doc_id!r}")
                    continue
                text = record.get(text_field)
                if text is None and text_field == "contents" and isinstance(record.get("text"), str):
                    title = record.get("title")
                    text = f"{title}\n{record['text']}" if isinstance(title, str) else record["text"]
                if vector_field is not None:
                    vector = record.get(vector_field)
                    if not isinstance(vector, list) or not vector or (vectors and len(vector) != len(vectors[0])):
                        policy.bad(line, f"field {vector_field!r} missing or not a vector of the common dimension")
                        continue
                    vectors.append(vector)
                    text = text if isinstance(text, str) else ""
                if not isinstance(text, str):
                    policy.bad(line, f"field {text_field!r} missing or not a string")
                    continue
                seen.add(doc_id)
                ids.append(doc_id)
                texts.append(text)
    policy.close()
    if kind not in ("bm25", "dense"):
        from mstk.retrieval.retrievers import build_with_plugin

        manifest = build_with_plugin(registry[kind], ids, texts, out_dir, force=force, threads=threads,
                                     store_contents=store_contents, options=options)
        emit_summary({"command": "index", "kind": kind, "out": out_dir, "n_docs": len(ids),
                      "skipped": len(policy.skipped), "seconds": watch.seconds})
        if policy.exit_code:
            raise click.exceptions.Exit(policy.exit_code)
        return
    if kind == "dense":
        _index_dense(ids, texts, vectors if vector_field else None, encoder, metric, dtype, batch_size, store_contents,
                     out_dir, force, threads, watch, policy)
        return
    stop_list = None
    if stopwords == "none":
        stop_list = []
    elif stopwords not in (None, "en"):
        try:
            stop_list = [w.strip() for w in Path(stopwords).read_text(encoding="utf-8").splitlines() if w.strip()]
        except OSError as exc:
            raise click.BadParameter(f"cannot read {stopwords!r}: {exc.strerror}", param_hint="'--stopwords'") from None
    elif stopwords == "en" and tokenizer != "word":
        stop_list = STOPWORDS_EN
    try:
        built = Bm25.build(texts, ids, tokenizer=tokenizer, stopwords=stop_list,
                           stemmer=None if stemmer is None else stemmer == "english", normalize=normalize,
                           variant=variant, k1=k1, b=b, delta=delta, epsilon=epsilon, lucene_norms=lucene_norms,
                           store_contents=store_contents, threads=threads)
        manifest = built.save(out_dir, force=force)
    except _core.ParameterError as exc:
        raise click.UsageError(str(exc)) from None
    except IndexError_ as exc:
        raise click.UsageError(str(exc)) from None
    emit_summary({"command": "index", "out": out_dir, "n_docs": manifest["n_docs"], "n_terms": manifest["n_terms"],
                  "nnz": manifest["nnz"], "avgdl": manifest["avgdl"], "params": manifest["params"],
                  "skipped": len(policy.skipped), "seconds": watch.seconds})
    if policy.exit_code:
        raise click.exceptions.Exit(policy.exit_code)


# Lucene's EnglishAnalyzer list (the Rust core's default for the word tokenizer).
STOPWORDS_EN = ("a an and are as at be but by for if in into is it no not of on or such that the their then "
                "there these they this to was will with").split()


def _index_dense(ids, texts, vectors, encoder_name, metric, dtype, batch_size, store_contents, out_dir, force, threads,
                 watch, policy) -> None:
    import numpy as np

    from mstk.io import emit_summary
    from mstk.plugins import encoders, get_plugin_manager
    from mstk.retrieval.dense import Dense

    fingerprint = None
    if vectors is None:
        registry = encoders(get_plugin_manager())
        if encoder_name not in registry:
            raise click.BadParameter(f"unknown encoder {encoder_name!r} (known: {', '.join(sorted(registry))})",
                                     param_hint="'--encoder'")
        enc = registry[encoder_name]()
        enc.load(threads)
        matrix = enc.encode(texts, kind="doc", batch_size=batch_size)
        fingerprint = enc.fingerprint()
    else:
        matrix = np.asarray(vectors, dtype=np.float32)
    built = Dense.build(matrix, ids, metric=metric, contents=texts if store_contents else None, encoder=fingerprint,
                        dtype=dtype)
    manifest = built.save(out_dir, force=force)
    emit_summary({"command": "index", "kind": "dense", "out": out_dir, "n_docs": manifest["n_docs"],
                  "dim": manifest["params"]["dim"], "encoder": encoder_name if fingerprint else None,
                  "skipped": len(policy.skipped), "seconds": watch.seconds})
    if policy.exit_code:
        raise click.exceptions.Exit(policy.exit_code)
