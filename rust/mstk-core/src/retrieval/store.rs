//! Saving and opening a BM25 index (`index.mstk`, see `format`). The `meta` section holds
//! the parameters and tokenizer as JSON, so an index file is self-describing.

use serde_json::{json, Value};

use super::bm25::{Bm25Params, Variant};
use super::format::{self, Section};
use super::index::Bm25Index;
use super::tokenize::{Normalize, TokenizerConfig, TokenizerKind};
use crate::error::{CoreError, CoreResult};

pub const KIND_BM25: u16 = 1;

fn corrupt(section: &str, message: impl Into<String>) -> CoreError {
    CoreError::IndexCorrupt {
        section: section.into(),
        message: message.into(),
    }
}

pub fn tokenizer_json(t: &TokenizerConfig) -> Value {
    json!({
        "kind": match t.kind {
            TokenizerKind::Word => "word",
            TokenizerKind::Whitespace => "whitespace",
            TokenizerKind::Lowercase => "lowercase",
            TokenizerKind::Char => "char",
            TokenizerKind::CharBigram => "char-bigram",
            TokenizerKind::Jieba => "jieba",
            TokenizerKind::JiebaSearch => "jieba-search",
        },
        "stopwords": t.stopwords,
        "stemmer": if t.stem { "english" } else { "none" },
        "normalize": match t.normalize { Normalize::None => "none", Normalize::Nfc => "nfc", Normalize::Nfkc => "nfkc" },
    })
}

pub fn params_json(p: &Bm25Params) -> Value {
    let mut v =
        json!({"variant": p.variant.name(), "k1": p.k1, "b": p.b, "lucene_norms": p.lucene_norms});
    if p.variant.has_nonocc() {
        v["delta"] = json!(p.delta);
    }
    if p.variant == Variant::Okapi {
        v["epsilon"] = json!(p.epsilon);
    }
    v
}

/// The index's description (also the `meta` section): params, tokenizer and counts.
pub fn meta_json(index: &Bm25Index) -> Value {
    json!({
        "retriever": "bm25",
        "params": params_json(&index.params),
        "tokenizer": tokenizer_json(&index.tokenizer),
        "n_docs": index.n_docs(),
        "n_terms": index.vocab.len(),
        "nnz": index.nnz(),
        "avgdl": index.avgdl,
        "store_contents": index.contents.is_some(),
    })
}

fn tokenizer_from(v: &Value) -> CoreResult<TokenizerConfig> {
    let bad = || corrupt("meta", "tokenizer description is invalid");
    let mut t = TokenizerConfig::new(v["kind"].as_str().ok_or_else(bad)?)?;
    t.stopwords = v["stopwords"]
        .as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|s| s.as_str().map(String::from).ok_or_else(bad))
        .collect::<CoreResult<_>>()?;
    t.stem = v["stemmer"].as_str() == Some("english");
    t.normalize = TokenizerConfig::parse_normalize(v["normalize"].as_str().ok_or_else(bad)?)?;
    Ok(t)
}

fn params_from(v: &Value) -> CoreResult<Bm25Params> {
    let bad = || corrupt("meta", "BM25 parameters are invalid");
    let variant = Variant::parse(v["variant"].as_str().ok_or_else(bad)?)?;
    let f = |key: &str| v.get(key).and_then(Value::as_f64);
    Bm25Params::new(
        variant,
        f("k1"),
        f("b"),
        f("delta"),
        f("epsilon"),
        v["lucene_norms"].as_bool().unwrap_or(false),
    )
}

impl Bm25Index {
    /// The bytes of `index.mstk`.
    pub fn to_bytes(&self) -> CoreResult<Vec<u8>> {
        let mut sections = vec![
            Section::u64s("indptr", &self.indptr),
            Section::u32s("postings", &self.postings),
            Section::f32s("weights", &self.weights),
            Section::f32s("idf", &self.idf),
        ];
        if !self.nonocc.is_empty() {
            sections.push(Section::f32s("nonocc", &self.nonocc));
        }
        sections.push(Section::u32s("doclen", &self.doclen));
        sections.extend(Section::strings("vocab", &self.vocab));
        sections.extend(Section::strings("docid", &self.doc_ids));
        if let Some(contents) = &self.contents {
            sections.extend(Section::strings("contents", contents));
        }
        let meta = serde_json::to_vec(&meta_json(self))
            .map_err(|e| CoreError::parameter(e.to_string()))?;
        sections.push(Section::utf8("meta", &meta));
        format::encode(KIND_BM25, &sections)
    }

    /// An index from the bytes of `index.mstk`; `verify` checks every section's checksum.
    pub fn from_bytes(bytes: &[u8], verify: bool) -> CoreResult<Self> {
        let (kind, sections) = format::decode(bytes, verify)?;
        if kind != KIND_BM25 {
            return Err(corrupt(
                "header",
                format!("index kind {kind} is not a BM25 index"),
            ));
        }
        let meta: Value = serde_json::from_slice(&format::find(&sections, "meta")?.bytes)
            .map_err(|_| corrupt("meta", "not JSON"))?;
        let params = params_from(&meta["params"])?;
        let tokenizer = tokenizer_from(&meta["tokenizer"])?;
        let indptr = format::read_u64s(format::find(&sections, "indptr")?)?;
        let postings = format::read_u32s(format::find(&sections, "postings")?)?;
        let weights = format::read_f32s(format::find(&sections, "weights")?)?;
        let idf = format::read_f32s(format::find(&sections, "idf")?)?;
        let nonocc = match format::find(&sections, "nonocc") {
            Ok(s) => format::read_f32s(s)?,
            Err(_) => Vec::new(),
        };
        let doclen = format::read_u32s(format::find(&sections, "doclen")?)?;
        let vocab = format::read_strings(&sections, "vocab")?;
        let doc_ids = format::read_strings(&sections, "docid")?;
        let contents = if meta["store_contents"].as_bool() == Some(true) {
            Some(format::read_strings(&sections, "contents")?)
        } else {
            None
        };
        // Structural checks, so a consistent-looking but wrong file cannot index out of bounds.
        let n_docs = doclen.len();
        let ok = indptr.len() == vocab.len() + 1
            && indptr.first() == Some(&0)
            && indptr.windows(2).all(|w| w[0] <= w[1])
            && indptr.last().copied() == Some(postings.len() as u64)
            && weights.len() == postings.len()
            && idf.len() == vocab.len()
            && (nonocc.is_empty() || nonocc.len() == vocab.len())
            && params.variant.has_nonocc() == !nonocc.is_empty()
            && doc_ids.len() == n_docs
            && contents.as_ref().is_none_or(|c| c.len() == n_docs)
            && postings.iter().all(|&d| (d as usize) < n_docs)
            && vocab.windows(2).all(|w| w[0].as_bytes() < w[1].as_bytes());
        if !ok {
            return Err(corrupt("postings", "sections disagree with each other"));
        }
        let avgdl = meta["avgdl"]
            .as_f64()
            .ok_or_else(|| corrupt("meta", "avgdl missing"))?;
        Ok(Bm25Index {
            params,
            tokenizer,
            vocab,
            indptr,
            postings,
            weights,
            idf,
            nonocc,
            doclen,
            avgdl,
            doc_ids,
            contents,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_open_round_trip() {
        let cfg = TokenizerConfig::new("word").unwrap();
        let params = Bm25Params::new(Variant::Bm25L, None, None, None, None, false).unwrap();
        let texts = ["The quick brown fox", "lazy dogs sleep", ""];
        let mut index = Bm25Index::build(&cfg, params, &texts).unwrap();
        index.doc_ids = vec!["a".into(), "b".into(), "c".into()];
        index.contents = Some(texts.iter().map(|t| t.to_string()).collect());
        let bytes = index.to_bytes().unwrap();
        let back = Bm25Index::from_bytes(&bytes, true).unwrap();
        assert_eq!(back.to_bytes().unwrap(), bytes);
        assert_eq!(back.vocab, index.vocab);
        assert_eq!(back.contents, index.contents);
        let q = back.term_ids(&["fox".to_string(), "dog".to_string()]);
        assert_eq!(back.scores_all(&q), index.scores_all(&q));
    }
}
