//! Bounded memory: which entries to drop when the cache is over capacity.
//!
//! The policy is plain single-threaded code that a shard's writer calls
//! under its lock: [`policy::Policy`] decides, the cache owns the entries
//! and hands the policy one handle per entry. Readers never call in; a hit
//! only bumps the entry's 2-bit mark, which the policy reads when its clock
//! hands reach the entry ([`policy::Marks`]). The parts, each in its file:
//! - `policy`: adaptive W-TinyLFU over clock queues (the algorithm is
//!   described there);
//! - `list`: the node arena and its intrusive queues;
//! - `sketch`: the count-min frequency sketch behind admission;
//! - `ghost`: recent exits, whose hits steer the window's share.

mod ghost;
mod list;
pub(crate) mod policy;
mod sketch;
