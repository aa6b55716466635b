//! The cheap stand-in for a style model run, for frames the model has no time for: the last
//! stylized frame carried along the optical flow to this frame. It costs one flow (the model
//! run costs a model run plus two flows) and no model run, so a live stream keeps its frame rate
//! and the style stays on screen, following the motion, between the frames the model makes.

use gst_ai_kernels::{
    Frame, FrameMut, Rect, TensorSpec, copy_alpha, luma, mix, optical_flow, pack, scene_change, unpack, warp,
};

use super::{StyleParams, Stylizer, flow_params};
use crate::error::{Error, Result};

/// What a fallback frame shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// The previous stylized frame, warped along the flow to this one.
    Warped,
    /// The input as it came: no usable previous frame (the first, after a reset or a scene cut,
    /// or with temporal consistency off, which keeps no history).
    Input,
}

impl Stylizer {
    /// Writes a stand-in for the stylized `src` into `dst` (same size and format): the previous
    /// stylized frame warped along the flow, blended with the input by `p.strength` as
    /// [`process`](Self::process) does; or, with no usable history, the input. The warped frame
    /// becomes the history, so the next frame (made by the model or not) continues from it.
    pub fn fallback(&mut self, src: &Frame, dst: &mut FrameMut, p: &StyleParams) -> Result<Fallback> {
        let (w, h) = (src.width, src.height);
        if dst.width != w || dst.height != h || dst.format != src.format {
            return Err(Error::Unsupported(format!(
                "output frame {}x{} {:?} differs from the input {w}x{h} {:?}",
                dst.width, dst.height, dst.format, src.format
            )));
        }
        let n = w * h;
        self.input.resize(3 * n, 0.0);
        pack(src, Rect::new(0, 0, w, h), TensorSpec::CANONICAL, &mut self.input)?;
        self.luma.resize(n, 0.0);
        luma(&self.input, w, h, &mut self.luma)?;
        let hist = &mut self.history;
        let usable = p.temporal > 0.0
            && hist.valid
            && hist.w == w
            && hist.h == h
            && scene_change(&hist.luma, &self.luma, w, h)? <= p.scene_threshold;
        if !usable {
            hist.valid = false;
            unpack(&self.input, w, h, TensorSpec::CANONICAL, 0, 0, dst)?;
            if src.format.has_alpha() {
                copy_alpha(src, dst)?;
            }
            return Ok(Fallback::Input);
        }
        self.flow.resize(2 * n, 0.0);
        self.styled.resize(3 * n, 0.0);
        optical_flow(&self.luma, &hist.luma, w, h, &flow_params(w, h), &mut self.ws, &mut self.flow)?;
        warp(&hist.styled, 3, w, h, &self.flow, &mut self.styled)?;
        hist.luma.clone_from(&self.luma);
        hist.input.clone_from(&self.input);
        hist.styled.clone_from(&self.styled);
        if p.strength < 1.0 {
            mix(&self.input, &mut self.styled, p.strength)?;
        }
        unpack(&self.styled, w, h, TensorSpec::CANONICAL, 0, 0, dst)?;
        if src.format.has_alpha() {
            copy_alpha(src, dst)?;
        }
        Ok(Fallback::Warped)
    }
}
