//! `TileMerger` on a `Device` (tile.cu): the same checks and feather weights as the CPU merger
//! (its own `place`), the canvas kept in device buffers, each tile accumulated by
//! `tile_accumulate` and the image normalised by `tile_normalise`, with the CPU's sums in the
//! CPU's order, so the merged image equals the CPU's bit for bit.

use super::device::{Call, Device, download, grid1, grid2, upload, zeros};
use super::ops::{int, tensor_arg};
use crate::KernelError;
use crate::tensor::TensorSpec;
use crate::tile::{Placement, Tile, TileMerger};

/// A `TileMerger` whose canvas lives on device `d`.
pub struct DeviceTileMerger<'d, D: Device> {
    d: &'d D,
    merger: TileMerger,
    /// 3 planes of weighted sums, and the summed weights, allocated by the first `add`.
    canvas: Option<(D::Buffer, D::Buffer)>,
    pixels: usize,
    /// The normalised image is in the canvas: `add` is refused, `finish` downloads it again.
    finished: bool,
}

impl<'d, D: Device> DeviceTileMerger<'d, D> {
    /// As `TileMerger::new`.
    pub fn new(d: &'d D, out_w: usize, out_h: usize, scale: usize, overlap: usize) -> Self {
        Self { d, merger: TileMerger::new(out_w, out_h, scale, overlap), canvas: None, pixels: 0, finished: false }
    }

    fn canvas(&mut self) -> Result<&(D::Buffer, D::Buffer), KernelError> {
        if self.canvas.is_none() {
            self.pixels = self.merger.check_size()?;
            self.canvas = Some((zeros::<D, f32>(self.d, 3 * self.pixels)?, zeros::<D, f32>(self.d, self.pixels)?));
        }
        Ok(self.canvas.as_ref().expect("allocated above"))
    }

    /// As `TileMerger::add`, on the device.
    pub fn add(
        &mut self,
        tile: Tile,
        tensor: &[f32],
        tensor_w: usize,
        tensor_h: usize,
        spec: TensorSpec,
    ) -> Result<(), KernelError> {
        if self.finished {
            return Err(KernelError::InvalidArgument("DeviceTileMerger::add after finish".into()));
        }
        self.merger.check_size()?;
        let Placement { x, y, wx, wy } = self.merger.place(tile, tensor.len(), tensor_w, tensor_h)?;
        let width = self.merger.out_width();
        let d = self.d;
        let (src, wx_d, wy_d) = (upload(d, tensor)?, upload(d, &wx)?, upload(d, &wy)?);
        let plane = self.merger.check_size()? as i64;
        let (sum, weight) = self.canvas()?;
        let (scale, offset) = spec.range.range_to_unit();
        let mut call = Call::new("tile_accumulate", grid2(wx.len(), wy.len()));
        call.buffer(sum).buffer(weight).value(int(width, "output width")?).value(plane);
        call.value(int(x, "tile x")?).value(int(y, "tile y")?).buffer(&wx_d).buffer(&wy_d);
        call.value(int(wx.len(), "tile width")?).value(int(wy.len(), "tile height")?);
        call.buffer(&src).value(tensor_arg(tensor_w, tensor_h, spec)?).value(scale).value(offset);
        // SAFETY: (1) the arguments match `tile_accumulate` in tile.cu in number, order and type;
        // (2) it writes the canvas (sum, weight) and reads the tensor and weights; (3) threads
        // outside the wx.len() x wy.len() region return; `place` checked that the region fits
        // the output at (x, y) (so every canvas index is below `plane`, the sum buffer holds 3
        // planes) and that the tensor holds 3 x tensor_w x tensor_h values with the region
        // inside it; wx and wy have the region's width and height.
        unsafe { d.launch(&call) }
    }

    /// As `TileMerger::finish`: fails naming the first output pixel no tile covered; otherwise
    /// normalises on the device and downloads the 3 x out_h x out_w image into `out`.
    pub fn finish(&mut self, out: &mut Vec<f32>) -> Result<(), KernelError> {
        let d = self.d;
        let width = self.merger.out_width();
        let pixels = self.merger.check_size()?;
        if self.finished {
            out.resize(3 * pixels, 0.0);
            return download(d, &self.canvas()?.0, out);
        }
        let (sum, weight) = self.canvas()?;
        let mut w = vec![0.0f32; pixels];
        download(d, weight, &mut w)?;
        if let Some(i) = w.iter().position(|&w| w <= 0.0) {
            return Err(KernelError::Uncovered { x: i % width, y: i / width });
        }
        let mut call = Call::new("tile_normalise", grid1(pixels));
        call.buffer(sum).buffer(weight).value(pixels as i64);
        // SAFETY: (1) the arguments match `tile_normalise`; (2) it writes the sums and reads the
        // weights; (3) threads at or past `pixels` return, the sum buffer holds 3 planes of
        // `pixels` values and the weights one.
        unsafe { d.launch(&call) }?;
        out.resize(3 * pixels, 0.0);
        download(d, sum, out)?;
        self.finished = true;
        Ok(())
    }
}
