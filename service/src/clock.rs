//! The service's notion of "today" (UTC), injectable for tests.
//!
//! Production uses the system clock. Tests fix the date by setting the
//! environment variable [`FAKE_TODAY_ENV`] (`SERVICE_FAKE_TODAY=YYYY-MM-DD`)
//! when starting the `api` binary; this is meant for tests only.

use chrono::{NaiveDate, Utc};

/// Environment variable that pins "today" (UTC) to a fixed date. Test-only.
pub const FAKE_TODAY_ENV: &str = "SERVICE_FAKE_TODAY";

/// Source of today's date.
#[derive(Clone, Copy, Debug, Default)]
pub struct Clock {
    fixed: Option<NaiveDate>,
}

impl Clock {
    /// The real UTC clock.
    pub fn system() -> Self {
        Self { fixed: None }
    }

    /// A clock stuck on `date`.
    pub fn fixed(date: NaiveDate) -> Self {
        Self { fixed: Some(date) }
    }

    /// Reads [`FAKE_TODAY_ENV`]; falls back to the system clock when unset.
    pub fn from_env() -> Result<Self, String> {
        match std::env::var(FAKE_TODAY_ENV) {
            Ok(v) if !v.is_empty() => NaiveDate::parse_from_str(&v, "%Y-%m-%d")
                .map(Self::fixed)
                .map_err(|e| format!("{FAKE_TODAY_ENV}={v:?} is not a YYYY-MM-DD date: {e}")),
            _ => Ok(Self::system()),
        }
    }

    /// Today's date in UTC (or the pinned date).
    pub fn today(&self) -> NaiveDate {
        self.fixed.unwrap_or_else(|| Utc::now().date_naive())
    }

    /// Whether the date is pinned.
    pub fn is_fixed(&self) -> bool {
        self.fixed.is_some()
    }
}
