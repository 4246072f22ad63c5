//! Time for the simulation: paced delays (`AGENTMUX_SIM_SPEED`), jitter, timestamps.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Multiplies every simulated delay: 0 = none (tests), 1 = realistic, 2 = twice as slow.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pace {
    pub factor: f64,
    seed: u64,
}

impl Pace {
    pub fn new(factor: f64, seed: u64) -> Pace {
        let factor = if factor.is_finite() && factor >= 0.0 { factor } else { 1.0 };
        Pace { factor, seed: seed | 1 }
    }

    /// From `AGENTMUX_SIM_SPEED`; missing or unreadable means realistic (1).
    pub fn from_env(seed: u64) -> Pace {
        let factor = std::env::var("AGENTMUX_SIM_SPEED")
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .unwrap_or(1.0);
        Pace::new(factor, seed)
    }

    /// A pseudo-random number in `0..1` (xorshift: jitter only, nothing secret).
    pub fn unit(&mut self) -> f64 {
        let mut x = self.seed;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.seed = x;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A whole number in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + (self.unit() * (hi - lo + 1) as f64) as u64 % (hi - lo + 1)
    }

    /// Sleeps `lo..=hi` realistic milliseconds, scaled by the factor.
    pub fn wait(&mut self, lo: u64, hi: u64) {
        let ms = self.between(lo, hi);
        self.wait_ms(ms as f64);
    }

    pub fn wait_ms(&self, ms: f64) {
        let scaled = ms * self.factor;
        if scaled > 0.0 {
            std::thread::sleep(Duration::from_secs_f64(scaled / 1000.0));
        }
    }
}

/// A seed from a string (the session id) and the clock.
pub fn seed_from(s: &str) -> u64 {
    let nanos =
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos() as u64).unwrap_or(0);
    s.bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
        ^ nanos
}

/// `2026-11-21T08:53:17.526Z`, as the CLI writes `timestamp`.
pub fn now_rfc3339() -> String {
    rfc3339(UNIX_EPOCH + Duration::from_millis(now_ms()))
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_millis(1_795_251_197_526)),
            "2026-11-21T08:53:17.526Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_millis(951_782_400_005)),
            "2000-02-29T00:00:00.005Z"
        );
    }

    #[test]
    fn jitter_stays_in_range_and_zero_speed_never_sleeps() {
        let mut p = Pace::new(0.0, 42);
        for _ in 0..1000 {
            let v = p.between(3, 7);
            assert!((3..=7).contains(&v));
        }
        let start = std::time::Instant::now();
        p.wait(10_000, 20_000);
        // At speed 1 this would sleep 10 to 20 s; a loaded machine never makes nothing take 5 s.
        assert!(start.elapsed() < Duration::from_secs(5));
        assert_eq!(Pace::new(f64::NAN, 1).factor, 1.0);
    }
}
