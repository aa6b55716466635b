//! Diffusion schedulers, as diffusers defines them: the noise schedule read from a
//! `scheduler_config.json`, the inference timesteps for N steps (linspace, leading or trailing
//! spacing, `steps_offset`), and one denoising step of DDIM (with η) or Euler (discrete,
//! deterministic) for epsilon, v or sample prediction. The formulas are the ones in
//! shared/MODELS.md; the tests compare them with vectors recorded from diffusers itself.

use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Ddim,
    Euler,
}

impl Kind {
    /// The name a user gives it (the `scheduler` property's values).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Ddim => "ddim",
            Kind::Euler => "euler",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prediction {
    Epsilon,
    V,
    Sample,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spacing {
    Linspace,
    Leading,
    Trailing,
}

/// `scheduler_config.json`, with diffusers' defaults for what it leaves out.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub num_train_timesteps: usize,
    /// ᾱ_t for t in 0..num_train_timesteps, in f32 as diffusers keeps them.
    pub alphas_cumprod: Vec<f32>,
    pub prediction: Prediction,
    pub spacing: Spacing,
    pub steps_offset: usize,
    pub set_alpha_to_one: bool,
    /// DDIM clips x̂0 to ±this when `clip_sample` is set.
    pub clip_sample: Option<f32>,
}

fn unsupported(what: String) -> Error {
    Error::Unsupported(format!("scheduler_config.json: {what}"))
}

impl Config {
    pub fn parse(text: &str) -> Result<Self> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| unsupported(format!("not valid JSON ({e})")))?;
        let f = |k: &str, d: f64| v.get(k).and_then(|x| x.as_f64()).unwrap_or(d);
        let s = |k: &str, d: &'static str| v.get(k).and_then(|x| x.as_str()).unwrap_or(d).to_string();
        let b = |k: &str, d: bool| v.get(k).and_then(|x| x.as_bool()).unwrap_or(d);
        let n = f("num_train_timesteps", 1000.0) as usize;
        if n < 2 {
            return Err(unsupported(format!("num_train_timesteps {n} is too small")));
        }
        let (b0, b1) = (f("beta_start", 0.0001), f("beta_end", 0.02));
        let lin = |a: f64, z: f64| (0..n).map(move |i| a + (z - a) * i as f64 / (n - 1) as f64);
        let betas: Vec<f32> = match s("beta_schedule", "linear").as_str() {
            "linear" => lin(b0, b1).map(|x| x as f32).collect(),
            "scaled_linear" => lin(b0.sqrt(), b1.sqrt()).map(|x| (x as f32) * (x as f32)).collect(),
            "squaredcos_cap_v2" => {
                let abar = |t: f64| ((t + 0.008) / 1.008 * std::f64::consts::FRAC_PI_2).cos().powi(2);
                (0..n)
                    .map(|i| (1.0 - abar((i + 1) as f64 / n as f64) / abar(i as f64 / n as f64)).min(0.999) as f32)
                    .collect()
            }
            other => {
                return Err(unsupported(format!(
                    "beta_schedule '{other}' (known: linear, scaled_linear, squaredcos_cap_v2)"
                )));
            }
        };
        let mut alphas_cumprod = Vec::with_capacity(n);
        let mut acc = 1.0f32;
        for beta in betas {
            acc *= 1.0 - beta;
            alphas_cumprod.push(acc);
        }
        let prediction = match s("prediction_type", "epsilon").as_str() {
            "epsilon" => Prediction::Epsilon,
            "v_prediction" => Prediction::V,
            "sample" => Prediction::Sample,
            other => {
                return Err(unsupported(format!("prediction_type '{other}' (known: epsilon, v_prediction, sample)")));
            }
        };
        let spacing = match s("timestep_spacing", "leading").as_str() {
            "linspace" => Spacing::Linspace,
            "leading" => Spacing::Leading,
            "trailing" => Spacing::Trailing,
            other => {
                return Err(unsupported(format!("timestep_spacing '{other}' (known: linspace, leading, trailing)")));
            }
        };
        if b("thresholding", false) {
            return Err(unsupported("thresholding is not supported".into()));
        }
        if b("rescale_betas_zero_snr", false) {
            return Err(unsupported("rescale_betas_zero_snr is not supported".into()));
        }
        Ok(Self {
            num_train_timesteps: n,
            alphas_cumprod,
            prediction,
            spacing,
            steps_offset: f("steps_offset", 0.0) as usize,
            set_alpha_to_one: b("set_alpha_to_one", true),
            clip_sample: b("clip_sample", true).then(|| f("clip_sample_range", 1.0) as f32),
        })
    }
}

/// A scheduler set up for one run of `steps` steps.
#[derive(Clone, Debug)]
pub struct Scheduler {
    pub kind: Kind,
    config: Config,
    timesteps: Vec<f64>,
    /// Euler: σ at each timestep, then 0.
    sigmas: Vec<f64>,
}

impl Scheduler {
    pub fn new(kind: Kind, config: &Config, steps: usize) -> Result<Self> {
        let t = config.num_train_timesteps;
        if steps == 0 || steps > t {
            return Err(Error::Unsupported(format!("{steps} steps: a model trained on {t} timesteps takes 1..={t}")));
        }
        let ratio = (t / steps) as f64;
        // Leading spacing puts the noisiest step at (steps - 1) * ratio + steps_offset, which is
        // past the last trained timestep when steps_offset > 0 and steps is near t (1000 steps
        // on 1000 timesteps with offset 1 gives timestep 1000, where diffusers fails too). The
        // grid is then shifted down as far as needed, so every count up to t works; below that,
        // nothing changes.
        let offset = match config.spacing {
            Spacing::Leading => (config.steps_offset as f64).min((t - 1) as f64 - (steps - 1) as f64 * ratio),
            _ => config.steps_offset as f64,
        };
        let mut timesteps: Vec<f64> = match config.spacing {
            Spacing::Linspace => (0..steps)
                .rev()
                .map(|i| if steps == 1 { 0.0 } else { (t - 1) as f64 * i as f64 / (steps - 1) as f64 })
                .collect(),
            Spacing::Leading => (0..steps).rev().map(|i| (i as f64 * ratio).round_ties_even() + offset).collect(),
            Spacing::Trailing => {
                let step = t as f64 / steps as f64;
                (0..steps).map(|i| (t as f64 - i as f64 * step).round_ties_even() - 1.0).collect()
            }
        };
        // DDIM works on integer timesteps throughout; Euler keeps linspace's fractions.
        if kind == Kind::Ddim || config.spacing != Spacing::Linspace {
            for x in &mut timesteps {
                *x = x.round_ties_even(); // numpy rounds halves to even
            }
        }
        if let Some(&bad) = timesteps.iter().find(|&&x| x < 0.0 || x > (t - 1) as f64) {
            return Err(Error::Unsupported(format!(
                "timestep {bad} is outside 0..{t} (steps_offset {} with {steps} steps)",
                config.steps_offset
            )));
        }
        let mut sigmas = Vec::new();
        if kind == Kind::Euler {
            let table: Vec<f64> = config.alphas_cumprod.iter().map(|&a| ((1.0 - a as f64) / a as f64).sqrt()).collect();
            sigmas = timesteps
                .iter()
                .map(|&x| {
                    let lo = x.floor() as usize;
                    let hi = (lo + 1).min(t - 1);
                    let w = x - lo as f64;
                    table[lo] * (1.0 - w) + table[hi] * w
                })
                .collect();
            sigmas.push(0.0);
        }
        Ok(Self { kind, config: config.clone(), timesteps, sigmas })
    }

    /// The timesteps of the run, first (noisiest) first.
    pub fn timesteps(&self) -> &[f64] {
        &self.timesteps
    }

    /// Euler's σ per step, then 0 (empty for DDIM).
    pub fn sigmas(&self) -> &[f64] {
        &self.sigmas
    }

    /// What pure noise is multiplied by before the first step.
    pub fn init_noise_sigma(&self) -> f64 {
        match self.kind {
            Kind::Ddim => 1.0,
            Kind::Euler => {
                let max = self.sigmas.iter().copied().fold(0.0, f64::max);
                match self.config.spacing {
                    Spacing::Linspace | Spacing::Trailing => max,
                    Spacing::Leading => (max * max + 1.0).sqrt(),
                }
            }
        }
    }

    /// The factor the model's input is scaled by at step `i` (`scale_model_input`).
    pub fn input_scale(&self, i: usize) -> f64 {
        match self.kind {
            Kind::Ddim => 1.0,
            Kind::Euler => 1.0 / (self.sigmas[i] * self.sigmas[i] + 1.0).sqrt(),
        }
    }

    fn alpha(&self, t: f64) -> f64 {
        self.config.alphas_cumprod[t as usize] as f64
    }

    /// Noises clean latents `x0` to the level of step `i` (image-to-video's start): DDIM
    /// √ᾱ·x0 + √(1−ᾱ)·n, Euler x0 + σ·n.
    pub fn add_noise(&self, i: usize, x0: &[f32], noise: &[f32]) -> Vec<f32> {
        let (a, b) = match self.kind {
            Kind::Ddim => {
                let al = self.alpha(self.timesteps[i]);
                (al.sqrt(), (1.0 - al).sqrt())
            }
            Kind::Euler => (1.0, self.sigmas[i]),
        };
        x0.iter().zip(noise).map(|(&x, &n)| (a * x as f64 + b * n as f64) as f32).collect()
    }

    /// One step: `sample` (the latents at step `i`) becomes the latents at step `i + 1`, from the
    /// model's output. DDIM with `eta > 0` needs `noise` (standard normal, one per latent).
    pub fn step(&self, i: usize, model_output: &[f32], sample: &mut [f32], eta: f64, noise: Option<&[f32]>) {
        match self.kind {
            Kind::Ddim => self.ddim_step(i, model_output, sample, eta, noise),
            Kind::Euler => self.euler_step(i, model_output, sample),
        }
    }

    fn ddim_step(&self, i: usize, out: &[f32], x: &mut [f32], eta: f64, noise: Option<&[f32]>) {
        let c = &self.config;
        let t = self.timesteps[i];
        let prev = t as i64 - (c.num_train_timesteps / self.timesteps.len()) as i64;
        let a_t = self.alpha(t);
        let a_prev = if prev >= 0 {
            c.alphas_cumprod[prev as usize] as f64
        } else if c.set_alpha_to_one {
            1.0
        } else {
            c.alphas_cumprod[0] as f64
        };
        let (sa, sb) = (a_t.sqrt(), (1.0 - a_t).sqrt());
        let variance = (1.0 - a_prev) / (1.0 - a_t) * (1.0 - a_t / a_prev);
        let std = eta * variance.max(0.0).sqrt();
        let dir = (1.0 - a_prev - std * std).max(0.0).sqrt();
        let noise = noise.filter(|_| std > 0.0);
        for (k, (xv, &m)) in x.iter_mut().zip(out).enumerate() {
            let (xs, m) = (*xv as f64, m as f64);
            let (mut x0, eps) = match c.prediction {
                Prediction::Epsilon => ((xs - sb * m) / sa, m),
                Prediction::V => (sa * xs - sb * m, sa * m + sb * xs),
                Prediction::Sample => (m, (xs - sa * m) / sb),
            };
            if let Some(r) = c.clip_sample {
                x0 = x0.clamp(-(r as f64), r as f64);
            }
            let mut next = a_prev.sqrt() * x0 + dir * eps;
            if let Some(n) = noise {
                next += std * n[k] as f64;
            }
            *xv = next as f32;
        }
    }

    fn euler_step(&self, i: usize, out: &[f32], x: &mut [f32]) {
        let (s, s_next) = (self.sigmas[i], self.sigmas[i + 1]);
        for (xv, &m) in x.iter_mut().zip(out) {
            let (xs, m) = (*xv as f64, m as f64);
            let x0 = match self.config.prediction {
                Prediction::Epsilon => xs - s * m,
                Prediction::V => m * (-s / (s * s + 1.0).sqrt()) + xs / (s * s + 1.0),
                Prediction::Sample => m,
            };
            let d = (xs - x0) / s;
            *xv = (xs + d * (s_next - s)) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> Config {
        Config::parse(&format!(
            r#"{{"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012 {extra}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn spacings_match_the_formulas() {
        let leading = Scheduler::new(Kind::Ddim, &config(r#", "steps_offset": 1"#), 10).unwrap();
        assert_eq!(leading.timesteps(), [901.0, 801.0, 701.0, 601.0, 501.0, 401.0, 301.0, 201.0, 101.0, 1.0]);
        let trailing = Scheduler::new(Kind::Ddim, &config(r#", "timestep_spacing": "trailing""#), 4).unwrap();
        assert_eq!(trailing.timesteps(), [999.0, 749.0, 499.0, 249.0]);
        let lin = Scheduler::new(Kind::Euler, &config(r#", "timestep_spacing": "linspace""#), 4).unwrap();
        assert_eq!(lin.timesteps(), [999.0, 666.0, 333.0, 0.0]);
        assert_eq!(lin.sigmas().len(), 5);
        assert_eq!(lin.sigmas()[4], 0.0);
    }

    #[test]
    fn every_step_count_up_to_the_trained_timesteps_works() {
        // The built-in's scheduler: leading spacing, steps_offset 1, 1000 timesteps.
        let c = config(r#", "steps_offset": 1"#);
        for steps in [1, 2, 999, 1000] {
            let s = Scheduler::new(Kind::Ddim, &c, steps).unwrap_or_else(|e| panic!("{steps} steps: {e}"));
            let ts = s.timesteps();
            assert_eq!(ts.len(), steps);
            assert!(ts.iter().all(|&x| (0.0..=999.0).contains(&x)), "{steps} steps: {ts:?}");
            assert!(ts.windows(2).all(|w| w[0] > w[1]), "{steps} steps: not strictly decreasing");
        }
        assert_eq!(Scheduler::new(Kind::Ddim, &c, 1000).unwrap().timesteps()[0], 999.0);
        assert!(Scheduler::new(Kind::Ddim, &c, 1001).is_err());
    }

    #[test]
    fn bad_configs_are_named() {
        let e = Config::parse(r#"{"beta_schedule": "sigmoid"}"#).unwrap_err().to_string();
        assert!(e.contains("beta_schedule 'sigmoid'"), "{e}");
        let e = Config::parse(r#"{"prediction_type": "flow"}"#).unwrap_err().to_string();
        assert!(e.contains("prediction_type 'flow'"), "{e}");
        assert!(Scheduler::new(Kind::Ddim, &config(""), 0).is_err());
    }

    #[test]
    fn ddim_with_a_perfect_model_recovers_the_clean_sample() {
        // With eps the true noise, x̂0 is exact at every step and DDIM (eta 0) walks the noised
        // sample back to x0 (the last step uses ᾱ_prev = 1).
        let c = config(r#", "set_alpha_to_one": true, "clip_sample": false"#);
        let s = Scheduler::new(Kind::Ddim, &c, 20).unwrap();
        let x0 = [0.3f32, -0.7, 0.9];
        let n = [1.2f32, -0.4, 0.1];
        let mut x = s.add_noise(0, &x0, &n);
        for i in 0..20 {
            let t = s.timesteps()[i];
            let a = c.alphas_cumprod[t as usize] as f64;
            let eps: Vec<f32> = x
                .iter()
                .zip(&x0)
                .map(|(&xt, &c0)| ((xt as f64 - a.sqrt() * c0 as f64) / (1.0 - a).sqrt()) as f32)
                .collect();
            s.step(i, &eps, &mut x, 0.0, None);
        }
        for (a, b) in x.iter().zip(&x0) {
            assert!((a - b).abs() < 1e-4, "{x:?} vs {x0:?}");
        }
    }
}
