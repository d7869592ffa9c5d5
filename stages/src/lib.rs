//! The intake stages, one module per stage, in pipeline order.
//!
//! Each stage is a pure function of its input plus configuration: no queues,
//! no storage, no global state. A stage that rejects an upload returns a
//! [`Finding`](intake_models::Finding) built by [`messages::finding`].

pub mod messages;

pub mod sniff;
pub mod limits;
pub mod decode;
pub mod resolution;
pub mod quality;
pub mod locate;
pub mod ocr;
pub mod mrz;
pub mod qr;
pub mod viz;
pub mod dates;
pub mod transliteration;
pub mod cross_match;
pub mod validity;
pub mod verdict;
