//! The one way a cost in dollars is written, in every view and export.

/// Dollars: two decimals from $1 up; below that four, so a small sum never reads as zero
/// ($0.0002, $0.0443) and a figure keeps its width as it grows (columns and headers do not
/// jump). A cost under a hundredth of a cent is `<$0.0001`; nothing, or a value that is not a
/// cost (negative, NaN), is `$0.00`.
pub fn usd(cost: f64) -> String {
    if !cost.is_finite() || cost <= 0.0 {
        return "$0.00".into();
    }
    // From 0.99995 up, four decimals would round to "1.0000".
    if cost >= 0.999_95 {
        return format!("${cost:.2}");
    }
    if cost < 0.000_05 {
        return "<$0.0001".into();
    }
    format!("${cost:.4}")
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
            (0.04, "$0.0400"),
            (0.5, "$0.5000"),
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
