//! Cron expressions (croner, UTC, seconds optional): read by the configuration to check
//! them and by the scheduler to run them.

use croner::Cron;
use croner::parser::{CronParser, Seconds};

/// An expression croner cannot read.
#[derive(Debug, thiserror::Error)]
#[error("{expression:?} is not a cron expression: {cause}")]
pub struct CronError {
    /// The expression, trimmed.
    pub expression: String,
    /// What croner said.
    pub cause: String,
}

/// The parsed expression, or `None` for an empty one (the schedule is off).
pub fn parse(expression: &str) -> Result<Option<Cron>, CronError> {
    let expression = expression.trim();
    if expression.is_empty() {
        return Ok(None);
    }
    CronParser::builder()
        .seconds(Seconds::Optional)
        .build()
        .parse(expression)
        .map(Some)
        .map_err(|e| CronError {
            expression: expression.to_owned(),
            cause: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_are_checked() {
        assert!(parse("").unwrap().is_none(), "empty turns it off");
        assert!(parse("*/5 * * * * *").unwrap().is_some(), "seconds allowed");
        let e = parse("every five minutes").unwrap_err();
        assert!(e.to_string().contains("not a cron expression"), "{e}");
        assert!(parse("61 * * * *").is_err());
    }
}
