//! The intake stages, one module per stage, in pipeline order.
//!
//! Each stage is a pure function of its input plus configuration: no queues,
//! no storage, no global state. A stage that rejects an upload returns a
//! [`Finding`](intake_models::Finding) built by [`messages::finding`].

pub mod messages;

pub mod account_status;
pub mod cross_document;
pub mod cross_match;
pub mod dates;
pub mod decode;
pub mod kinds;
pub mod limits;
pub mod locate;
pub mod mrz;
pub mod ocr;
pub mod pages;
pub mod pdf;
pub mod qr;
pub mod quality;
pub mod raster;
pub mod resolution;
pub mod sniff;
pub mod tax_ids;
pub mod timings;
pub mod transliteration;
pub mod validity;
pub mod verdict;
pub mod viz;
