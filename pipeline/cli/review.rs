//! The review queue of flagged documents: `review list` (from the store or
//! the running service), `claim`, `release` and `resolve`.

use super::common::{open_intake, Reader};
use super::{output, ReviewCommand};
use anyhow::Result;
use intake::service::review::Resolution;
use intake_models::{Decision, JobId};

pub fn run(command: ReviewCommand) -> Result<()> {
    match command {
        ReviewCommand::List { json, service } => {
            let reader = Reader::open(&service)?;
            let now = reader.now_ms();
            let mut out = std::io::stdout().lock();
            for item in reader.review_queue()? {
                output::review_item(&mut out, &item, now, json)?;
            }
        }
        ReviewCommand::Claim {
            job,
            reviewer,
            service,
        } => {
            let intake = open_intake(&service)?;
            let item = intake.claim(&JobId(job), &reviewer)?;
            output::claimed(&item, &reviewer);
        }
        ReviewCommand::Release {
            job,
            reviewer,
            service,
        } => {
            open_intake(&service)?.release(&JobId(job.clone()), &reviewer)?;
            output::released(&job, &reviewer);
        }
        ReviewCommand::Resolve {
            job,
            reviewer,
            decision,
            items,
            comment,
            service,
        } => {
            let intake = open_intake(&service)?;
            let resolution = Resolution {
                decision: decision.parse::<Decision>().map_err(anyhow::Error::msg)?,
                items: intake::service::review::parse_items(&items)?,
                comment,
            };
            let job = JobId(job);
            let seq = intake.resolve(&job, &reviewer, &resolution)?;
            let job = intake.job(&job)?;
            let account = match &job {
                Some(job) => intake.status(&job.account)?,
                None => None,
            };
            output::resolved(seq, account.as_ref());
        }
    }
    Ok(())
}
