//! Axis scales: a top value and ticks at round steps (1, 2, 2.5 or 5 × 10ⁿ), every tick labelled.

/// A value axis from 0 to `top`, with its ticks (0 and `top` among them).
#[derive(Debug, Clone, PartialEq)]
pub struct Scale {
    /// The axis' end: the largest tick.
    pub top: f64,
    /// The ticks, from 0 up.
    pub ticks: Vec<f64>,
}

impl Scale {
    /// An axis that holds `max` with about `count` steps; `whole` keeps steps whole numbers
    /// (counts).
    pub fn new(max: f64, count: usize, whole: bool) -> Scale {
        let max = if max.is_finite() && max > 0.0 {
            max
        } else {
            1.0
        };
        let raw = max / count.max(1) as f64;
        let power = 10f64.powf(raw.log10().floor());
        let mut step = [1.0, 2.0, 2.5, 5.0, 10.0]
            .iter()
            .map(|m| m * power)
            .find(|s| *s >= raw * 0.999)
            .unwrap_or(10.0 * power);
        if whole {
            step = step.max(1.0).round();
        }
        let steps = (max / step - 1e-9).ceil().max(1.0) as usize;
        let ticks = (0..=steps).map(|i| i as f64 * step).collect::<Vec<_>>();
        Scale {
            top: steps as f64 * step,
            ticks,
        }
    }

    /// Where `value` lies between 0 (the axis' start) and 1 (its top).
    pub fn share(&self, value: f64) -> f64 {
        (value / self.top).clamp(0.0, 1.0)
    }
}

/// A number as an axis or value label: whole numbers bare, others with one decimal.
pub fn number(value: f64) -> String {
    if (value - value.round()).abs() < 1e-9 {
        format!("{value:.0}")
    } else if value.abs() < 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_the_top_one_holds_the_largest_value() {
        assert_eq!(Scale::new(9.0, 4, true).ticks, vec![0.0, 3.0, 6.0, 9.0]);
        assert_eq!(
            Scale::new(37.0, 4, false).ticks,
            vec![0.0, 10.0, 20.0, 30.0, 40.0]
        );
        let s = Scale::new(0.3, 4, false);
        assert!(s.top >= 0.3 && s.ticks.len() <= 5, "{s:?}");
        assert_eq!(Scale::new(2.0, 4, true).ticks, vec![0.0, 1.0, 2.0]);
        // No data: one step, so the axis still reads 0 to 1.
        assert_eq!(Scale::new(0.0, 4, true).ticks, vec![0.0, 1.0]);
        for max in [0.7, 1.0, 4.2, 13.0, 99.0, 100.0, 1234.5, 86_000.0] {
            let s = Scale::new(max, 4, false);
            assert!(s.top >= max, "{max}: {s:?}");
            assert!(s.top < max * 2.6, "{max}: {s:?}");
            assert_eq!(*s.ticks.last().unwrap(), s.top);
        }
    }

    #[test]
    fn labels_drop_needless_decimals() {
        assert_eq!(number(4.0), "4");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(12.4), "12");
    }
}
