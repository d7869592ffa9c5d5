//! How checks run inside one process: the staged worker threads on bounded
//! channels, the queue to the decode stage that serves accounts in turn,
//! the commit's ledger of who each account's documents name, the feed from
//! a shared work queue (worker processes on JetStream), and the
//! resource-limited child process PDFs are parsed in.

pub mod fair;
pub mod ledger;
pub mod queue;
pub mod sandbox;
pub mod workers;
