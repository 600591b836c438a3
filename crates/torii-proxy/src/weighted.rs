//! Weighted random choice, shared by HTTP rules and TCP/TLS routes.

/// Picks an index with probability proportional to its weight; `None` when there are no
/// items or every weight is 0 (weight 0 never receives traffic).
pub fn pick<T>(items: &[T], weight: impl Fn(&T) -> u32) -> Option<usize> {
    match items {
        [] => None,
        [only] => (weight(only) > 0).then_some(0),
        _ => {
            let total: u64 = items.iter().map(|i| u64::from(weight(i))).sum();
            if total == 0 {
                return None;
            }
            let mut roll = fastrand::u64(0..total);
            for (index, item) in items.iter().enumerate() {
                let w = u64::from(weight(item));
                if roll < w {
                    return Some(index);
                }
                roll -= w;
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::pick;

    #[test]
    fn zero_weights_never_win() {
        assert_eq!(pick::<u32>(&[], |w| *w), None);
        assert_eq!(pick(&[0u32], |w| *w), None);
        assert_eq!(pick(&[0u32, 0], |w| *w), None);
        for _ in 0..1000 {
            assert_eq!(pick(&[0u32, 5, 0], |w| *w), Some(1));
        }
    }

    #[test]
    fn shares_follow_weights() {
        let mut counts = [0u32; 2];
        for _ in 0..20_000 {
            counts[pick(&[1u32, 3], |w| *w).unwrap()] += 1;
        }
        let share = f64::from(counts[1]) / 20_000.0;
        assert!(
            (0.72..0.78).contains(&share),
            "share of weight 3 of 4: {share}"
        );
    }
}
