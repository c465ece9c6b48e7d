"""QE-RAG (arXiv:2504.04062) for mstk: benchmark variants of QA files with query entry
errors. The injector itself is the host's (`mstk inject-errors`, `mstk.inject`)."""
