use std::time::{Duration, Instant};

use super::*;
use crate::agent::decode::decode_line;
use crate::agent::{Event, Line};

/// 2026-12-03 09:00 UTC.
const T0: i64 = 1_796_288_400;

fn event(line: &str) -> RateLimitEvent {
    match decode_line(line) {
        Line::Event(Event::RateLimit(r)) => r,
        other => panic!("not a rate limit event: {other:?}"),
    }
}

fn at(mono: Instant, wall: i64) -> Now {
    Now { wall, mono }
}

fn fold(lines: &[&str], now: Now) -> Limits {
    let mut l = Limits::default();
    for line in lines {
        l.apply(&event(line), now);
    }
    l
}

/// What the line says for these events, read at `T0`.
fn shown(lines: &[&str]) -> String {
    let now = at(Instant::now(), T0);
    line_text(&fold(lines, now).at(now), now)
}

// Real lines of both CLI versions (reset times moved to T0 + 1 h and T0 + 5 days).
const V197_ALLOWED: &str = r#"{"type":"rate_limit_event","rate_limit_info":{"status":"allowed","resetsAt":1796292000,"rateLimitType":"five_hour","isUsingOverage":false},"uuid":"a","session_id":"s"}"#;
const V197_WARNING: &str = r#"{"type":"rate_limit_event","rate_limit_info":{"status":"allowed_warning","resetsAt":1796292000,"rateLimitType":"five_hour","utilization":0.91,"isUsingOverage":false,"surpassedThreshold":0.9},"uuid":"a","session_id":"s"}"#;
const V197_REJECTED: &str = r#"{"type":"rate_limit_event","rate_limit_info":{"status":"rejected","resetsAt":1796292000,"rateLimitType":"five_hour","overageStatus":"rejected","overageDisabledReason":"org_level_disabled","isUsingOverage":false},"uuid":"a","session_id":"s"}"#;
const V197_NO_HEADERS: &str = r#"{"type":"rate_limit_event","rate_limit_info":{"status":"allowed","isUsingOverage":false},"uuid":"a","session_id":"s"}"#;
const V197_PLAIN_429: &str = r#"{"type":"rate_limit_event","rate_limit_info":{"status":"rejected","isUsingOverage":false},"uuid":"a","session_id":"s"}"#;
const V332_ALLOWED: &str = r#"{"type":"rate_limit_event","rate_limit_info":{"status":"allowed","resetsAt":1796292000,"rateLimitType":"five_hour","isUsingOverage":false,"unifiedWindows":{"five_hour":{"utilization":0.42,"resetsAt":1796292000,"status":"allowed"},"seven_day":{"utilization":0.3,"resetsAt":1796720400,"status":"allowed"}}},"uuid":"a","session_id":"s"}"#;
const V332_HIGH: &str = r#"{"type":"rate_limit_event","rate_limit_info":{"status":"allowed","resetsAt":1796292000,"rateLimitType":"five_hour","isUsingOverage":false,"unifiedWindows":{"five_hour":{"utilization":0.85,"resetsAt":1796292000},"seven_day":{"utilization":0.3,"resetsAt":1796720400}}},"uuid":"a","session_id":"s"}"#;
const V332_REJECTED: &str = r#"{"type":"rate_limit_event","rate_limit_info":{"status":"rejected","resetsAt":1796292000,"rateLimitType":"five_hour","isUsingOverage":false,"unifiedWindows":{"five_hour":{"utilization":1,"resetsAt":1796292000,"status":"rejected"},"seven_day":{"utilization":0.4,"resetsAt":1796720400}}},"uuid":"a","session_id":"s"}"#;
const V332_WEEKLY: &str = r#"{"type":"rate_limit_event","rate_limit_info":{"status":"rejected","resetsAt":1796720400,"rateLimitType":"seven_day","isUsingOverage":false},"uuid":"a","session_id":"s"}"#;
const ODD: &str = r#"{"type":"rate_limit_event","rate_limit_info":{"status":"weird","resetsAt":null,"rateLimitType":"five_hour","utilization":"much","unifiedWindows":{"five_hour":[1],"seven_day":{"utilization":-1,"resetsAt":"soon"}}}}"#;

#[test]
fn events_of_both_versions_fold_into_windows() {
    let cases: &[(&str, &[&str], &str)] = &[
        ("nothing reported", &[], ""),
        ("2.1.197 without headers: no window", &[V197_NO_HEADERS], ""),
        ("2.1.197 plain 429: no window named", &[V197_PLAIN_429], ""),
        ("2.1.197 allowed: status and reset alone", &[V197_ALLOWED], "5h ok ↺10:00"),
        ("2.1.197 warning carries the use", &[V197_WARNING], "5h 91% ↺10:00"),
        ("2.1.197 refusal", &[V197_REJECTED], "5h limit ↺10:00"),
        ("a refusal keeps the use read before", &[V197_WARNING, V197_REJECTED], "5h 91% ↺10:00"),
        ("2.1.332 both windows", &[V332_ALLOWED], "5h 42% ↺10:00 · 7d 30%"),
        ("2.1.332 near the limit", &[V332_HIGH], "5h 85% ↺10:00 · 7d 30%"),
        ("2.1.332 refusal", &[V332_REJECTED], "5h 100% ↺10:00 · 7d 40%"),
        (
            "a weekly refusal shows its day",
            &[V332_ALLOWED, V332_WEEKLY],
            "5h 42% ↺10:00 · 7d 30% ↺Tue 09:00",
        ),
        ("odd fields are unknown", &[ODD], "5h weird · 7d ?"),
        (
            "odd fields after good ones change nothing known",
            &[V332_ALLOWED, ODD],
            "5h 42% ↺10:00 · 7d 30%",
        ),
    ];
    for (name, lines, want) in cases {
        assert_eq!(shown(lines), *want, "{name}");
    }
}

#[test]
fn a_later_reset_starts_a_new_window() {
    let now = at(Instant::now(), T0);
    let next = V197_ALLOWED.replace("1796292000", "1796310000");
    let l = fold(&[V197_WARNING, &next], now);
    assert_eq!(line_text(&l.at(now), now), "5h ok ↺15:00");
}

#[test]
fn a_reset_in_the_past_is_unknown() {
    let mono = Instant::now();
    let past = V332_ALLOWED.replace("1796292000", "1796280000");
    let now = at(mono, T0);
    assert_eq!(line_text(&fold(&[&past], now).at(now), now), "5h ? · 7d 30%");
    // Read in time, then the hour passes.
    let l = fold(&[V332_HIGH], now);
    let later = at(mono + Duration::from_secs(3600), T0 + 3600);
    assert_eq!(line_text(&l.at(later), later), "5h ? · 7d 30%");
}

#[test]
fn a_reset_is_due_on_whichever_clock_says_sooner() {
    let mono = Instant::now();
    let l = fold(&[V332_HIGH], at(mono, T0));
    let five = |l: &Limits, now| l.at(now)[0].percent();
    // The wall clock set back an hour: 3600 s on the monotonic clock still reset the window.
    assert_eq!(five(&l, at(mono + Duration::from_secs(3599), T0 - 1)), Some(85));
    assert_eq!(five(&l, at(mono + Duration::from_secs(3600), T0)), None);
    // The wall clock set forward past the reset: reset now.
    assert_eq!(five(&l, at(mono + Duration::from_secs(1), T0 + 7200)), None);
    // The loop wakes at the first reset to come.
    assert_eq!(l.next_reset(at(mono, T0)), Some(mono + Duration::from_secs(3600)));
}

#[test]
fn levels_follow_use_and_status() {
    let w = |u: Option<f64>, s: Option<&str>| Window {
        utilization: u,
        status: s.map(String::from),
        ..Window::new("five_hour")
    };
    let cases = [
        (w(None, None), Level::Unknown),
        (w(None, Some("allowed")), Level::Fine),
        (w(Some(0.5), Some("allowed")), Level::Fine),
        (w(Some(0.7), None), Level::Near),
        (w(Some(0.91), Some("allowed")), Level::Warning),
        (w(Some(0.2), Some("allowed_warning")), Level::Warning),
        (w(Some(1.02), None), Level::Rejected),
        (w(Some(0.4), Some("rejected")), Level::Rejected),
    ];
    for (window, want) in cases {
        assert_eq!(window.level(), want, "{window:?}");
    }
}

#[test]
fn labels_and_reset_clocks() {
    let label = |n: &str| Window::new(n).label();
    assert_eq!(label("five_hour"), "5h");
    assert_eq!(label("seven_day_opus"), "7d opus");
    assert_eq!(label("seven_day_overage_included"), "7d overage included");
    assert_eq!(label("overage"), "overage");
    assert_eq!(reset_clock(T0 + 3600 + 33 * 60, T0), "10:33");
    // 2026-12-08 is a Tuesday.
    assert_eq!(reset_clock(T0 + 5 * 86_400, T0), "Tue 09:00");
}

#[test]
fn the_forecast_says_when_the_window_runs_out_at_this_pace() {
    let mono = Instant::now();
    let mut l = Limits::default();
    let reading = |u: f64| V332_HIGH.replace("0.85", &u.to_string());
    l.apply(&event(&reading(0.5)), at(mono, T0));
    // One reading: no pace yet.
    assert_eq!(l.at(at(mono, T0))[0].runs_out_at(), None);
    // 30% in 30 minutes: the last 20% go in 20 minutes, before the 10:00 reset.
    let later = at(mono + Duration::from_secs(1800), T0 + 1800);
    l.apply(&event(&reading(0.8)), later);
    assert_eq!(l.at(later)[0].runs_out_at(), Some(T0 + 3000));
    assert_eq!(line_text(&l.at(later), later), "5h 80% ↺10:00 (out ~09:50) · 7d 30%");
    // A slower pace lasts past the reset: no forecast.
    let mut slow = Limits::default();
    slow.apply(&event(&reading(0.5)), at(mono, T0));
    slow.apply(&event(&reading(0.55)), later);
    assert_eq!(slow.at(later)[0].runs_out_at(), None);
}
