//! Frame-rate conversion arithmetic, exact and drift-free: output frame k of a stream converted
//! from rate r1 to rate r2 sits at input position s_k = k·r1/r2 (in input frames), computed from
//! the integers k, r1 and r2 every time, never accumulated, so that hours of video end on the
//! same frame as they would in one step. Position s_k = i + t with 0 <= t < 1 means "between
//! input frames i and i+1, at time t"; t = 0 is input frame i itself.

/// A positive rational frame rate, num/den frames per second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub num: u64,
    pub den: u64,
}

impl Rate {
    pub fn new(num: u64, den: u64) -> Option<Self> {
        (num > 0 && den > 0).then_some(Self { num, den })
    }

    /// Start of frame k in nanoseconds from the stream's start: k·den/num seconds, floored.
    pub fn frame_start_ns(self, k: u64) -> u64 {
        ((k as u128 * self.den as u128 * 1_000_000_000u128) / self.num as u128) as u64
    }

    /// This rate times `factor`, exact when the factor has at most three decimals (2.5 times
    /// 24/1 is 60/1, not a float's neighbour of it), reduced; `None` when the result is not a
    /// positive rate whose terms fit a 32-bit signed integer (what caps can carry).
    pub fn times(self, factor: f64) -> Option<Self> {
        if !(factor > 0.0 && factor.is_finite()) {
            return None;
        }
        let milli = (factor * 1000.0).round() as u128;
        let (n, d) = (self.num as u128 * milli, self.den as u128 * 1000);
        let g = gcd(n, d);
        let (n, d) = (n / g, d / g);
        let fits = |v: u128| v > 0 && v <= i32::MAX as u128;
        (fits(n) && fits(d)).then_some(Self { num: n as u64, den: d as u64 })
    }
}

fn gcd(a: u128, b: u128) -> u128 {
    if b == 0 { a.max(1) } else { gcd(b, a % b) }
}

/// Where output frame k comes from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Source {
    /// The output frame's index since the last reset.
    pub k: u64,
    /// The earlier input frame.
    pub i: u64,
    /// Fraction of the way from input frame i to i+1, in [0, 1); 0 means input frame i itself.
    pub t: f64,
    /// Exactly on input frame i (t is 0 by integer arithmetic, not by rounding).
    pub exact: bool,
}

/// Maps output frames to input positions for a conversion `input` -> `output`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateConverter {
    pub input: Rate,
    pub output: Rate,
}

impl RateConverter {
    pub fn new(input: Rate, output: Rate) -> Self {
        Self { input, output }
    }

    /// s_k = k · (in.num · out.den) / (in.den · out.num), split into integer and fraction.
    pub fn source(&self, k: u64) -> Source {
        let num = k as u128 * self.input.num as u128 * self.output.den as u128;
        let den = self.input.den as u128 * self.output.num as u128;
        let i = (num / den) as u64;
        let rem = num % den;
        Source { k, i, t: rem as f64 / den as f64, exact: rem == 0 }
    }

    /// The first output frame whose position is at or after input frame `i`: the smallest k
    /// with s_k >= i, i.e. ceil(i · r2 / r1).
    pub fn first_output_at_or_after(&self, i: u64) -> u64 {
        let num = i as u128 * self.input.den as u128 * self.output.num as u128;
        let den = self.input.num as u128 * self.output.den as u128;
        num.div_ceil(den) as u64
    }

    /// The output frames to emit once input frame `j` has arrived (j >= 1): those between input
    /// frames j-1 (inclusive) and j (exclusive), which need frames j-1 and j.
    pub fn outputs_for_pair(&self, j: u64) -> std::ops::Range<u64> {
        debug_assert!(j >= 1);
        self.first_output_at_or_after(j - 1)..self.first_output_at_or_after(j)
    }

    /// The output frames that need no later input once the stream ends after `n` input
    /// frames: those from the last input frame to the end of its duration.
    pub fn outputs_for_tail(&self, n: u64) -> std::ops::Range<u64> {
        if n == 0 {
            return 0..0;
        }
        self.first_output_at_or_after(n - 1)..self.first_output_at_or_after(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(a: u64, b: u64) -> RateConverter {
        RateConverter::new(Rate::new(a, 1).unwrap(), Rate::new(b, 1).unwrap())
    }

    /// All outputs for n input frames, in order, as produced by pairs then the tail.
    fn all(c: &RateConverter, n: u64) -> Vec<Source> {
        let mut out = Vec::new();
        for j in 1..n {
            out.extend(c.outputs_for_pair(j).map(|k| c.source(k)));
        }
        out.extend(c.outputs_for_tail(n).map(|k| c.source(k)));
        out
    }

    #[test]
    fn counts_for_common_conversions() {
        // n input frames cover n/r1 seconds; the output covers the same span: ceil(n·r2/r1).
        for (a, b, n, want) in [
            (24, 60, 24, 60),
            (30, 60, 30, 60),
            (25, 50, 25, 50),
            (60, 30, 60, 30),
            (30, 25, 30, 25),
            (25, 30, 25, 30),
            (24, 60, 7, 18),
        ] {
            let c = conv(a, b);
            let v = all(&c, n);
            assert_eq!(v.len() as u64, want, "{a}->{b} over {n} frames");
            // Contiguous k, non-decreasing positions, every position inside the input span.
            for (idx, s) in v.iter().enumerate() {
                assert_eq!(s.k, idx as u64);
                assert!(s.i < n && s.t >= 0.0 && s.t < 1.0);
            }
        }
    }

    #[test]
    fn positions_are_exact() {
        let c = conv(24, 60);
        // 24 -> 60: 2.5 output frames per input frame; s_k = 0.4 k.
        let s: Vec<(u64, f64)> = (0..6).map(|k| (c.source(k).i, c.source(k).t)).collect();
        let want = [(0, 0.0), (0, 0.4), (0, 0.8), (1, 0.2), (1, 0.6), (2, 0.0)];
        for (got, want) in s.iter().zip(want) {
            assert_eq!(got.0, want.0);
            assert!((got.1 - want.1).abs() < 1e-12, "{got:?} vs {want:?}");
        }
        assert!(c.source(5).exact && !c.source(4).exact);
        // 60 -> 30 only ever picks input frames, every other one.
        let c = conv(60, 30);
        for k in 0..100 {
            let s = c.source(k);
            assert!(s.exact && s.i == 2 * k);
        }
        // 30 -> 25: s_k = 1.2 k.
        let c = conv(30, 25);
        assert_eq!((c.source(5).i, c.source(5).exact), (6, true));
        assert!((c.source(1).t - 0.2).abs() < 1e-12);
    }

    #[test]
    fn rate_times_factor_is_exact_and_reduced() {
        let r24 = Rate::new(24, 1).unwrap();
        assert_eq!(r24.times(2.5), Rate::new(60, 1));
        assert_eq!(Rate::new(30000, 1001).unwrap().times(2.0), Rate::new(60000, 1001));
        assert_eq!(r24.times(1.001), Rate::new(3003, 125));
        assert_eq!(r24.times(0.0), None);
        assert_eq!(r24.times(0.0001), None, "rounds to 0");
        assert_eq!(Rate::new(i32::MAX as u64, 1).unwrap().times(2.0), None, "does not fit caps");
    }

    #[test]
    fn no_drift_over_hours() {
        // NTSC 30000/1001 -> 60/1 over ten hours: the k-th timestamp is computed, not summed.
        let c = RateConverter::new(Rate::new(30000, 1001).unwrap(), Rate::new(60, 1).unwrap());
        let k = 60 * 3600 * 10;
        assert_eq!(c.output.frame_start_ns(k), 36_000_000_000_000);
        let s = c.source(k);
        // 10 h of 29.97 fps input is 1_078_921.07... frames.
        assert_eq!(s.i, 1_078_921);
        assert!((s.t - (0.0789210789210789)).abs() < 1e-9, "{s:?}");
    }
}
