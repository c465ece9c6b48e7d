//! Re-ranking kernels: priced top-K selection, the online replay loop and the JSONL
//! request codec used by `mstk rerank`, and the estate division rules of BankFair Module 1.

pub mod allocation;
pub mod bankfair;
pub mod bankfair_plus;
pub mod fastpath;
pub mod normalize;
pub mod online;
pub mod ragged;
pub mod requests;
pub mod stream;
pub mod topk;

pub use normalize::{normalize_scores, Normalization};
pub use online::{run_online, BatchSpec, OnlineMethod, OnlineOutput, OnlineProblem};
pub use ragged::{Ragged, RaggedBuf};
pub use topk::{topk_priced, TopKScratch};
