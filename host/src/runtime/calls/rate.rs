//! The Voice API's rate limits, per Vonage application: 3 call creations and 15 other requests in
//! any second. A request over them is refused before it is sent (the API would answer 429).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Calls one application may create per second.
pub const CREATES_PER_SECOND: usize = 3;
/// Other requests one application may make per second.
pub const OTHERS_PER_SECOND: usize = 15;

const WINDOW: Duration = Duration::from_secs(1);

/// Which limit a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// `POST /v1/calls`.
    Create,
    /// Everything else.
    Other,
}

impl Class {
    fn cap(self) -> usize {
        match self {
            Class::Create => CREATES_PER_SECOND,
            Class::Other => OTHERS_PER_SECOND,
        }
    }
}

/// The requests of the last second, per tenant, application and class (a tenant naming another's
/// application in its `tenant.toml` cannot use up that tenant's rate).
#[derive(Debug, Default)]
pub struct Rates {
    sent: Mutex<HashMap<(String, String, Class), VecDeque<Instant>>>,
}

impl Rates {
    /// Counts one request of `class` for `tenant`'s `application` now, or says how long until one
    /// may go.
    pub fn admit(&self, tenant: &str, application: &str, class: Class) -> Result<(), Duration> {
        self.admit_at(tenant, application, class, Instant::now())
    }

    fn admit_at(&self, tenant: &str, application: &str, class: Class, now: Instant) -> Result<(), Duration> {
        let mut sent = self.sent.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if sent.len() > 4096 {
            sent.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < WINDOW));
        }
        let times = sent.entry((tenant.to_owned(), application.to_owned(), class)).or_default();
        while times.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
            times.pop_front();
        }
        if times.len() >= class.cap() {
            let oldest = times.front().copied().unwrap_or(now);
            return Err(WINDOW.saturating_sub(now.duration_since(oldest)));
        }
        times.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_creates_and_fifteen_others_a_second_per_application() {
        let rates = Rates::default();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(rates.admit_at("t", "app-1", Class::Create, t0).is_ok());
        }
        let wait = rates.admit_at("t", "app-1", Class::Create, t0 + Duration::from_millis(400)).expect_err("a fourth");
        assert_eq!(wait, Duration::from_millis(600));
        assert!(rates.admit_at("t", "app-2", Class::Create, t0).is_ok(), "another application has its own");
        assert!(rates.admit_at("u", "app-1", Class::Create, t0).is_ok(), "so has another tenant naming it");
        for _ in 0..15 {
            assert!(rates.admit_at("t", "app-1", Class::Other, t0).is_ok(), "creates do not use up the others");
        }
        assert!(rates.admit_at("t", "app-1", Class::Other, t0).is_err());
        assert!(rates.admit_at("t", "app-1", Class::Create, t0 + WINDOW).is_ok(), "a second later");
        assert!(rates.admit_at("t", "app-1", Class::Other, t0 + WINDOW).is_ok());
    }
}
