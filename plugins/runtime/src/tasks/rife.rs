//! RIFE frame-interpolation models (MODELS.md, interpolation): the three export layouts in use —
//! vs-mlrt "v1" (one 11-channel input: both frames, a t plane, the x/y sampling grid in -1..1 and
//! the planes 2/(W-1), 2/(H-1)), vs-mlrt "v2" (one 7-channel input: both frames and a t plane)
//! and Practical-RIFE style (img0, img1 and a timestep, scalar or plane) — told apart from the
//! graph. Frames are padded to the model's multiple (32 unless the manifest says otherwise) by
//! reflection and the output is cropped back. A manifest saying `"timestep": "midpoint"` marks a
//! model trained for the midpoint only (RIFE HDv3), which aiinterpolate bisects by default.

use half::f16;

use crate::backend::manifest::Timestep;
use crate::backend::model::{Cancel, ElemType, InputData, Model, ModelInput, TensorInfo};
use crate::error::{Error, Result};

const FAMILY: &str = "RIFE interpolation";

/// Which export layout a model uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RifeLayout {
    /// One input [1, 11, H, W]: img0, img1, t, grid x, grid y, 2/(W-1), 2/(H-1).
    V1Grid { input: String },
    /// One input [1, 7, H, W]: img0, img1, t.
    V2Planes { input: String },
    /// img0 and img1 [1, 3, H, W] and a timestep, a scalar-like tensor or a [1, 1, H, W] plane.
    TwoFrames { img0: String, img1: String, timestep: String, timestep_shape: Vec<i64> },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RifeContract {
    pub layout: RifeLayout,
    pub elem: ElemType,
    /// Width and height are padded up to a multiple of this.
    pub multiple: usize,
    /// Trained for the midpoint only (its manifest says `"timestep": "midpoint"`): t = 0.5 is
    /// what it was made for, other t an approximation.
    pub midpoint_only: bool,
}

fn err(model: &Model, what: impl Into<String>, expected: impl Into<String>, found: impl Into<String>) -> Error {
    Error::contract(&model.name, FAMILY, what, expected, found)
}

fn float_elem(model: &Model, t: &TensorInfo) -> Result<ElemType> {
    match t.elem {
        Some(e @ (ElemType::F32 | ElemType::F16)) => Ok(e),
        _ => Err(err(model, format!("input '{}' element type", t.name), "float32 or float16", t.elem_name.clone())),
    }
}

fn is_image(t: &TensorInfo) -> bool {
    t.shape.len() == 4 && (t.shape[1] == 3 || t.shape[1] < 0)
}

impl RifeContract {
    pub fn detect(model: &Model) -> Result<Self> {
        let Some(out) = model.outputs.first() else {
            return Err(err(model, "number of outputs", "1 (the interpolated frame)", "0"));
        };
        if out.shape.len() != 4 || (out.shape[1] >= 0 && out.shape[1] != 3) {
            return Err(err(model, format!("output '{}' shape", out.name), "[1, 3, H, W]", out.shape_string()));
        }
        let multiple = model.manifest.multiple.unwrap_or(32);
        let (layout, elem) = match model.inputs.as_slice() {
            [one] => {
                let elem = float_elem(model, one)?;
                let layout = match one.shape.get(1) {
                    Some(11) if one.shape.len() == 4 => RifeLayout::V1Grid { input: one.name.clone() },
                    Some(7) if one.shape.len() == 4 => RifeLayout::V2Planes { input: one.name.clone() },
                    _ => {
                        return Err(err(
                            model,
                            format!("input '{}' shape", one.name),
                            "[1, 11, H, W] (vs-mlrt v1) or [1, 7, H, W] (vs-mlrt v2)",
                            one.shape_string(),
                        ));
                    }
                };
                (layout, elem)
            }
            [_, _, _] => {
                let ins = &model.inputs;
                // By name first (img0/img1/timestep as exported by Practical-RIFE), else by shape:
                // the two 3-channel images in graph order, the remaining input is t.
                let named = |n: &str| ins.iter().position(|t| t.name.eq_ignore_ascii_case(n));
                let (a, b, t) = match (named("img0"), named("img1"), named("timestep")) {
                    (Some(a), Some(b), Some(t)) => (a, b, t),
                    _ => {
                        let images: Vec<usize> = (0..3).filter(|&i| is_image(&ins[i])).collect();
                        let others: Vec<usize> = (0..3).filter(|&i| !is_image(&ins[i])).collect();
                        match (images.as_slice(), others.as_slice()) {
                            ([a, b], [t]) => (*a, *b, *t),
                            _ => {
                                let shapes: Vec<String> =
                                    ins.iter().map(|t| format!("{} {}", t.name, t.shape_string())).collect();
                                return Err(err(
                                    model,
                                    "inputs",
                                    "img0 and img1 [1, 3, H, W] and a timestep",
                                    shapes.join(", "),
                                ));
                            }
                        }
                    }
                };
                let elem = float_elem(model, &ins[a])?;
                for i in [b, t] {
                    if float_elem(model, &ins[i])? != elem {
                        return Err(err(
                            model,
                            format!("input '{}' element type", ins[i].name),
                            format!("{elem:?} like '{}'", ins[a].name),
                            ins[i].elem_name.clone(),
                        ));
                    }
                }
                let layout = RifeLayout::TwoFrames {
                    img0: ins[a].name.clone(),
                    img1: ins[b].name.clone(),
                    timestep: ins[t].name.clone(),
                    timestep_shape: ins[t].shape.clone(),
                };
                (layout, elem)
            }
            other => {
                let names: Vec<&str> = other.iter().map(|t| t.name.as_str()).collect();
                return Err(err(
                    model,
                    "number of inputs",
                    "1 (vs-mlrt v1/v2) or 3 (img0, img1, timestep)",
                    format!("{} ({})", names.len(), names.join(", ")),
                ));
            }
        };
        let midpoint_only = model.manifest.timestep == Some(Timestep::Midpoint);
        Ok(Self { layout, elem, multiple, midpoint_only })
    }
}

/// Runs a RIFE model on canonical frames (CHW RGB f32 0..1), keeping its buffers between calls.
pub struct Rife {
    contract: RifeContract,
    input: Vec<f32>,
    second: Vec<f32>,
    input16: Vec<f16>,
    second16: Vec<f16>,
    t_buf: Vec<f32>,
    t16: Vec<f16>,
}

fn round_up(v: usize, m: usize) -> usize {
    v.div_ceil(m) * m
}

/// Copies the w x h CHW image `src` into the top-left of a pw x ph CHW image `dst`, filling the
/// rest by reflection (mirror without repeating the edge).
fn pad_into(src: &[f32], channels: usize, w: usize, h: usize, pw: usize, ph: usize, dst: &mut [f32]) {
    let reflect = |i: usize, n: usize| -> usize {
        if n == 1 {
            return 0;
        }
        let period = 2 * (n - 1);
        let m = i % period;
        if m < n { m } else { period - m }
    };
    for c in 0..channels {
        for y in 0..ph {
            let sy = reflect(y, h);
            let srow = &src[(c * h + sy) * w..(c * h + sy + 1) * w];
            let drow = &mut dst[(c * ph + y) * pw..(c * ph + y + 1) * pw];
            drow[..w].copy_from_slice(srow);
            for (x, d) in drow.iter_mut().enumerate().skip(w) {
                *d = srow[reflect(x, w)];
            }
        }
    }
}

impl Rife {
    pub fn new(contract: RifeContract) -> Self {
        Self {
            contract,
            input: Vec::new(),
            second: Vec::new(),
            input16: Vec::new(),
            second16: Vec::new(),
            t_buf: Vec::new(),
            t16: Vec::new(),
        }
    }

    pub fn contract(&self) -> &RifeContract {
        &self.contract
    }

    /// The frame at time `t` between `f0` and `f1` (both CHW RGB w x h, 0..1) into `out`;
    /// `cancel` can stop it while the model runs ([`Error::Cancelled`]).
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &mut self,
        model: &Model,
        f0: &[f32],
        f1: &[f32],
        w: usize,
        h: usize,
        t: f32,
        out: &mut [f32],
        cancel: Option<&Cancel>,
    ) -> Result<()> {
        let m = self.contract.multiple.max(1);
        let (pw, ph) = (round_up(w, m), round_up(h, m));
        let plane = pw * ph;
        let f16_model = self.contract.elem == ElemType::F16;
        let layout = self.contract.layout.clone();
        let shape3 = [1usize, 3, ph, pw];
        match &layout {
            RifeLayout::V1Grid { .. } | RifeLayout::V2Planes { .. } => {
                let channels = if matches!(layout, RifeLayout::V1Grid { .. }) { 11 } else { 7 };
                self.input.resize(channels * plane, 0.0);
                pad_into(f0, 3, w, h, pw, ph, &mut self.input[..3 * plane]);
                pad_into(f1, 3, w, h, pw, ph, &mut self.input[3 * plane..6 * plane]);
                self.input[6 * plane..7 * plane].fill(t);
                if channels == 11 {
                    // The base sampling grid of grid_sample with align_corners=True, and the
                    // factors that turn pixel flow into grid units.
                    let (gx, rest) = self.input[7 * plane..].split_at_mut(plane);
                    let (gy, rest) = rest.split_at_mut(plane);
                    let (sx, sy) = rest.split_at_mut(plane);
                    let norm = |i: usize, n: usize| if n > 1 { -1.0 + 2.0 * i as f32 / (n - 1) as f32 } else { 0.0 };
                    for y in 0..ph {
                        for x in 0..pw {
                            gx[y * pw + x] = norm(x, pw);
                            gy[y * pw + x] = norm(y, ph);
                        }
                    }
                    sx.fill(if pw > 1 { 2.0 / (pw - 1) as f32 } else { 0.0 });
                    sy.fill(if ph > 1 { 2.0 / (ph - 1) as f32 } else { 0.0 });
                }
                let shape = [1usize, channels, ph, pw];
                let name = match &layout {
                    RifeLayout::V1Grid { input } | RifeLayout::V2Planes { input } => input.as_str(),
                    RifeLayout::TwoFrames { .. } => unreachable!("matched above"),
                };
                let data = if f16_model {
                    self.input16.clear();
                    self.input16.extend(self.input.iter().map(|&v| f16::from_f32(v)));
                    InputData::F16(&self.input16)
                } else {
                    InputData::F32(&self.input)
                };
                model.run_with(&[ModelInput { name, shape: &shape, data }], cancel, |dims, o| {
                    crop_out(model, dims, o, w, h, pw, ph, out)
                })
            }
            RifeLayout::TwoFrames { img0, img1, timestep, timestep_shape } => {
                self.input.resize(3 * plane, 0.0);
                self.second.resize(3 * plane, 0.0);
                pad_into(f0, 3, w, h, pw, ph, &mut self.input);
                pad_into(f1, 3, w, h, pw, ph, &mut self.second);
                // A plane if the graph says [1, 1, H, W], else a tensor of the graph's (static)
                // shape filled with t, scalar-like shapes being [] or [1] or [1, 1, 1, 1].
                let t_shape: Vec<usize> =
                    if timestep_shape.len() == 4 && (timestep_shape[2] != 1 || timestep_shape[3] != 1) {
                        vec![1, 1, ph, pw]
                    } else {
                        timestep_shape.iter().map(|&d| if d < 0 { 1 } else { d as usize }).collect()
                    };
                let n: usize = t_shape.iter().product();
                self.t_buf.clear();
                self.t_buf.resize(n.max(1), t);
                let (d0, d1, dt) = if f16_model {
                    self.input16.clear();
                    self.input16.extend(self.input.iter().map(|&v| f16::from_f32(v)));
                    self.second16.clear();
                    self.second16.extend(self.second.iter().map(|&v| f16::from_f32(v)));
                    self.t16.clear();
                    self.t16.extend(self.t_buf.iter().map(|&v| f16::from_f32(v)));
                    (InputData::F16(&self.input16), InputData::F16(&self.second16), InputData::F16(&self.t16))
                } else {
                    (InputData::F32(&self.input), InputData::F32(&self.second), InputData::F32(&self.t_buf))
                };
                let inputs = [
                    ModelInput { name: img0, shape: &shape3, data: d0 },
                    ModelInput { name: img1, shape: &shape3, data: d1 },
                    ModelInput { name: timestep, shape: &t_shape, data: dt },
                ];
                model.run_with(&inputs, cancel, |dims, o| crop_out(model, dims, o, w, h, pw, ph, out))
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn crop_out(
    model: &Model,
    dims: &[usize],
    o: &[f32],
    w: usize,
    h: usize,
    pw: usize,
    ph: usize,
    out: &mut [f32],
) -> Result<()> {
    if dims != [1, 3, ph, pw] || o.len() != 3 * pw * ph {
        return Err(Error::Inference {
            model: model.name.clone(),
            why: format!("for a {pw}x{ph} input the output has shape {dims:?}, expected [1, 3, {ph}, {pw}]"),
        });
    }
    if out.len() != 3 * w * h {
        return Err(Error::Unsupported(format!("output buffer holds {} values, need {}", out.len(), 3 * w * h)));
    }
    Error::check_finite(&model.name, o)?;
    for c in 0..3 {
        for y in 0..h {
            let s = (c * ph + y) * pw;
            out[(c * h + y) * w..(c * h + y + 1) * w].copy_from_slice(&o[s..s + w]);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::pad_into;

    #[test]
    fn pads_by_reflection() {
        // One channel, 3x2 -> 5x4.
        let src = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let mut dst = vec![0.0; 20];
        pad_into(&src, 1, 3, 2, 5, 4, &mut dst);
        assert_eq!(&dst[0..5], &[1.0, 2.0, 3.0, 2.0, 1.0]);
        assert_eq!(&dst[5..10], &[4.0, 5.0, 6.0, 5.0, 4.0]);
        assert_eq!(&dst[10..15], &[1.0, 2.0, 3.0, 2.0, 1.0]);
        assert_eq!(&dst[15..20], &[4.0, 5.0, 6.0, 5.0, 4.0]);
    }
}
