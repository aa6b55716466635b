//! The cheap stand-in for a super-resolution model: the frame scaled by bicubic interpolation
//! (the kernels' resize), for frames the model has no time for (or whose output cannot be
//! used). Buffers are kept between frames.

use gst_ai_kernels::{Filter, Frame, FrameMut, Rect, TensorSpec, copy_alpha, pack, resize, unpack};

use crate::error::{Error, Result};

#[derive(Default)]
pub struct BicubicUpscaler {
    input: Vec<f32>,
    output: Vec<f32>,
}

impl BicubicUpscaler {
    /// Scales `src` into `dst` (same format, any size; alpha resized bilinearly).
    pub fn process(&mut self, src: &Frame, dst: &mut FrameMut) -> Result<()> {
        if dst.format != src.format {
            return Err(Error::Unsupported(format!(
                "output frame format {:?} is not the input's {:?}",
                dst.format, src.format
            )));
        }
        let (w, h, ow, oh) = (src.width, src.height, dst.width, dst.height);
        self.input.resize(3 * w * h, 0.0);
        pack(src, Rect::new(0, 0, w, h), TensorSpec::CANONICAL, &mut self.input)?;
        self.output.resize(3 * ow * oh, 0.0);
        resize(&self.input, 3, w, h, &mut self.output, ow, oh, Filter::Bicubic)?;
        unpack(&self.output, ow, oh, TensorSpec::CANONICAL, 0, 0, dst)?;
        if src.format.has_alpha() {
            copy_alpha(src, dst)?;
        }
        Ok(())
    }
}
