//! The one way a cost in dollars is written, in every view and export.

/// Dollars: two decimals from $1 up; below that up to four, trailing zeros trimmed to two, so
/// a small sum never reads as zero ($0.0002, $0.0443, $0.50). A cost under a hundredth of a
/// cent is `<$0.0001`; nothing, or a value that is not a cost (negative, NaN), is `$0.00`.
pub fn usd(cost: f64) -> String {
    if !cost.is_finite() || cost <= 0.0 {
        return "$0.00".into();
    }
    if cost >= 1.0 {
        return format!("${cost:.2}");
    }
    if cost < 0.000_05 {
        return "<$0.0001".into();
    }
    let mut s = format!("{cost:.4}");
    while s.ends_with('0') && s.len() > "0.00".len() {
        s.pop();
    }
    format!("${s}")
}

#[cfg(test)]
mod tests {
    use super::usd;

    #[test]
    fn small_sums_keep_their_digits_and_large_ones_two() {
        let cases = [
            (0.0, "$0.00"),
            (-0.0, "$0.00"),
            (f64::NAN, "$0.00"),
            (-1.0, "$0.00"),
            (0.000_01, "<$0.0001"),
            (0.0002, "$0.0002"),
            (0.0443, "$0.0443"),
            (0.04, "$0.04"),
            (0.5, "$0.50"),
            (0.123_456, "$0.1235"),
            (0.999_99, "$1.00"),
            (1.0, "$1.00"),
            (12.345, "$12.35"),
            (1234.5, "$1234.50"),
        ];
        for (cost, want) in cases {
            assert_eq!(usd(cost), want, "{cost}");
        }
    }
}
