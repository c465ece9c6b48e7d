//! Retrieval (spec retrieval): tokenizers, BM25 indexes (Lucene, Okapi, BM25L, BM25+) and
//! their on-disk format.
//!
//! Layout: `tokenize` (Python-exact tokenizers), `bm25` (variants, weights, Lucene norms),
//! `index` (build, search, top-k), `format` (the checksummed index file), `fusion` (RRF and
//! linear fusion of several runs).

pub mod bm25;
pub mod dense;
pub mod format;
pub mod fusion;
pub mod index;
pub mod store;
pub mod tokenize;
#[rustfmt::skip]
mod unicode_tables;

pub use bm25::{Bm25Params, Variant};
pub use dense::{DenseIndex, Metric, Storage};
pub use fusion::{fuse, Fused, Fusion, Norm};
pub use index::{bm25_score_groups, Bm25Index, TopK};
pub use tokenize::{Normalize, Tokenizer, TokenizerConfig, TokenizerKind};
