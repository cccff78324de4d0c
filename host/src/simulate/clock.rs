//! The call's clock: virtual by default (time jumps, so a two-minute call runs in milliseconds) or
//! paced against the wall clock with `--real-time`; and the ISO-8601 timestamps Vonage writes.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Seconds since the simulated call began, and the wall-clock instant it began at.
#[derive(Debug)]
pub struct Clock {
    now: f64,
    epoch_ms: i64,
    paced_from: Option<Instant>,
}

impl Clock {
    /// A clock at 0 s whose timestamps start at `start`; `real_time` paces it with the wall clock.
    pub fn new(start: SystemTime, real_time: bool) -> Self {
        let epoch_ms = start.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
        Clock { now: 0.0, epoch_ms, paced_from: real_time.then(Instant::now) }
    }

    /// Seconds since the call began.
    pub fn now(&self) -> f64 {
        self.now
    }

    /// Moves to `t` (never backwards); in real time, sleeps until the wall clock gets there.
    pub async fn advance_to(&mut self, t: f64) {
        if t <= self.now || !t.is_finite() {
            return;
        }
        self.now = t;
        if let Some(from) = self.paced_from {
            let target = from + Duration::from_secs_f64(t);
            tokio::time::sleep_until(tokio::time::Instant::from_std(target)).await;
        }
    }

    /// True when paced with the wall clock (`--real-time`).
    pub fn is_paced(&self) -> bool {
        self.paced_from.is_some()
    }

    /// As [`Clock::advance_to`], but in real time wakes early when `wake` is notified: then the
    /// clock stands at the wall clock's time and the result is false.
    pub async fn advance_or_wake(&mut self, t: f64, wake: &tokio::sync::Notify) -> bool {
        let Some(from) = self.paced_from.filter(|_| t > self.now && t.is_finite()) else {
            self.advance_to(t).await;
            return true;
        };
        let target = tokio::time::Instant::from_std(from + Duration::from_secs_f64(t));
        tokio::select! {
            () = tokio::time::sleep_until(target) => {
                self.now = t;
                true
            }
            () = wake.notified() => {
                self.now = from.elapsed().as_secs_f64().clamp(self.now, t);
                false
            }
        }
    }

    /// `2026-05-04T09:15:20.331Z` at call time `t`.
    pub fn iso(&self, t: f64) -> String {
        iso8601(self.epoch_ms + (t * 1000.0).round() as i64)
    }
}

/// Formats Unix milliseconds as ISO-8601 UTC with milliseconds.
pub fn iso8601(unix_ms: i64) -> String {
    let secs = unix_ms.div_euclid(1000);
    let ms = unix_ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_iso_utc_with_milliseconds() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_777_886_120_331), "2026-05-04T09:15:20.331Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[tokio::test]
    async fn virtual_time_jumps() {
        let mut clock = Clock::new(UNIX_EPOCH + Duration::from_secs(1_000), false);
        let started = Instant::now();
        clock.advance_to(3600.0).await;
        clock.advance_to(10.0).await;
        assert_eq!(clock.now(), 3600.0);
        assert_eq!(clock.iso(clock.now()), "1970-01-01T01:16:40.000Z");
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
