//! Smoothing a followed face's box over frames: the one-euro filter [`track`](super) uses, and
//! the plain mean it replaced (kept to measure against).

use gst_ai_kernels::FaceBox;

/// A one-euro filter (Casiez, Roussel and Vogel, CHI 2012) on a box's centre and size, in frame
/// steps: an exponential smoothing whose cut-off rises with the speed, so a still head's box
/// stays still and a moving one's follows without the lag of a plain mean. The speed is taken
/// in box sizes per frame, so the filter behaves alike on faces of any size.
pub struct BoxFilter {
    /// The cut-off at rest, in cycles per frame (0: no smoothing).
    min_cutoff: f32,
    beta: f32,
    speed_cutoff: f32,
    state: Option<([f32; 4], [f32; 4])>,
}

impl BoxFilter {
    /// How much the cut-off rises with the speed (per box size per frame).
    pub const BETA: f32 = 4.0;
    /// The cut-off of the speed estimate, in cycles per frame.
    pub const SPEED_CUTOFF: f32 = 0.05;

    /// A filter whose time constant at rest is `frames` − 1 frames (twice a mean of `frames`'
    /// lag, for about its stillness: measured in the tests); 1: the boxes as they come.
    pub fn new(frames: u32) -> Self {
        Self::tuned(frames, Self::BETA, Self::SPEED_CUTOFF)
    }

    /// [`new`](Self::new) with another `beta` and `speed_cutoff` (to measure them).
    pub fn tuned(frames: u32, beta: f32, speed_cutoff: f32) -> Self {
        let n = frames.max(1) as f32;
        let min_cutoff = if n > 1.0 { 1.0 / (2.0 * std::f32::consts::PI * (n - 1.0)) } else { 0.0 };
        Self { min_cutoff, beta, speed_cutoff, state: None }
    }

    fn alpha(cutoff: f32) -> f32 {
        let tau = 1.0 / (2.0 * std::f32::consts::PI * cutoff);
        1.0 / (1.0 + tau)
    }

    pub fn reset(&mut self) {
        self.state = None;
    }

    pub fn push(&mut self, b: FaceBox) -> FaceBox {
        let v = [b.x + 0.5 * b.w, b.y + 0.5 * b.h, b.w, b.h];
        let next = match (self.state, self.min_cutoff > 0.0) {
            (Some((x, dx)), true) => {
                let size = 0.5 * (x[2] + x[3]).max(1.0);
                let a_d = Self::alpha(self.speed_cutoff);
                let dx: [f32; 4] = std::array::from_fn(|i| a_d * (v[i] - x[i]) + (1.0 - a_d) * dx[i]);
                let x = std::array::from_fn(|i| {
                    let a = Self::alpha(self.min_cutoff + self.beta * dx[i].abs() / size);
                    a * v[i] + (1.0 - a) * x[i]
                });
                (x, dx)
            }
            _ => (v, [0.0; 4]),
        };
        self.state = Some(next);
        self.last().unwrap_or(b)
    }

    /// The filtered box of the frames so far (none before the first).
    pub fn last(&self) -> Option<FaceBox> {
        self.state.map(|(x, _)| FaceBox { x: x[0] - 0.5 * x[2], y: x[1] - 0.5 * x[3], w: x[2], h: x[3] })
    }
}

/// The mean of the last `n` boxes (Wav2Lip smooths over 5): what [`BoxFilter`] replaced, kept to
/// measure it against.
pub struct BoxSmoother {
    n: usize,
    boxes: std::collections::VecDeque<FaceBox>,
}

impl BoxSmoother {
    pub fn new(n: usize) -> Self {
        Self { n: n.max(1), boxes: Default::default() }
    }

    pub fn push(&mut self, b: FaceBox) -> FaceBox {
        if self.boxes.len() == self.n {
            self.boxes.pop_front();
        }
        self.boxes.push_back(b);
        let k = self.boxes.len() as f32;
        let sum = self.boxes.iter().fold([0f32; 4], |s, b| [s[0] + b.x, s[1] + b.y, s[2] + b.w, s[3] + b.h]);
        FaceBox { x: sum[0] / k, y: sum[1] / k, w: sum[2] / k, h: sum[3] / k }
    }
}
