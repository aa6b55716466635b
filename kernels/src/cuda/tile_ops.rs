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
        self.check_open()?;
        self.merger.check_size()?;
        self.merger.place(tile, tensor.len(), tensor_w, tensor_h)?;
        let src = upload(self.d, tensor)?;
        self.add_on(tile, &src, tensor.len(), (tensor_w, tensor_h), spec, (0, 0))
    }

    /// `add` of a tensor of `len` values already on the device (3 x `size` in `spec`), of which
    /// the tile's pixels are the window at `origin` (the context margin a model was given
    /// around the tile is skipped, as the CPU crops it): equal to the CPU merger's `add` of the
    /// cropped tensor, bit for bit.
    pub fn add_on(
        &mut self,
        tile: Tile,
        src: &D::Buffer,
        len: usize,
        (tensor_w, tensor_h): (usize, usize),
        spec: TensorSpec,
        (sx, sy): (usize, usize),
    ) -> Result<(), KernelError> {
        self.check_open()?;
        let d = self.d;
        if len != tensor_w.saturating_mul(tensor_h).saturating_mul(3) || d.len(src) < len.saturating_mul(4) {
            return Err(KernelError::BufferLength {
                what: format!("tile tensor {tensor_w}x{tensor_h} on the device"),
                len: d.len(src) / 4,
                need: 3 * tensor_w * tensor_h,
            });
        }
        let (win_w, win_h) = (tensor_w.saturating_sub(sx), tensor_h.saturating_sub(sy));
        // The window as the tensor `place` checks: the scaled tile must fit inside it.
        let Placement { x, y, wx, wy } = self.merger.place(tile, 3 * win_w * win_h, win_w, win_h)?;
        let width = self.merger.out_width();
        let (wx_d, wy_d) = (upload(d, &wx)?, upload(d, &wy)?);
        let plane = self.merger.check_size()? as i64;
        let (sum, weight) = self.canvas()?;
        let (scale, offset) = spec.range.range_to_unit();
        let mut call = Call::new("tile_accumulate", grid2(wx.len(), wy.len()));
        call.buffer(sum).buffer(weight).value(int(width, "output width")?).value(plane);
        call.value(int(x, "tile x")?).value(int(y, "tile y")?).buffer(&wx_d).buffer(&wy_d);
        call.value(int(wx.len(), "tile width")?).value(int(wy.len(), "tile height")?);
        call.buffer(src).value(int(sx, "tile window x")?).value(int(sy, "tile window y")?);
        call.value(tensor_arg(tensor_w, tensor_h, spec)?).value(scale).value(offset);
        // SAFETY: (1) the arguments match `tile_accumulate` in tile.cu in number, order and type;
        // (2) it writes the canvas (sum, weight) and reads the tensor and weights; (3) threads
        // outside the wx.len() x wy.len() region return; `place` checked that the region fits
        // the output at (x, y) (so every canvas index is below `plane`, the sum buffer holds 3
        // planes) and that the region fits the window of win_w x win_h at (sx, sy), which lies
        // inside the tensor of 3 x tensor_w x tensor_h values (`len`, checked against the
        // buffer above); wx and wy have the region's width and height.
        unsafe { d.launch(&call) }
    }

    fn check_open(&self) -> Result<(), KernelError> {
        if self.finished {
            return Err(KernelError::InvalidArgument("DeviceTileMerger::add after finish".into()));
        }
        Ok(())
    }

    /// As `TileMerger::finish`: fails naming the first output pixel no tile covered; otherwise
    /// normalises on the device and downloads the 3 x out_h x out_w image into `out`.
    pub fn finish(&mut self, out: &mut Vec<f32>) -> Result<(), KernelError> {
        let pixels = self.merger.check_size()?;
        let d = self.d;
        let image = self.finish_on()?;
        out.resize(3 * pixels, 0.0);
        download(d, image, out)
    }

    /// `finish` leaving the normalised image (3 planes of out_w x out_h, canonical) on the
    /// device: the buffer returned, valid until the merger is dropped.
    pub fn finish_on(&mut self) -> Result<&D::Buffer, KernelError> {
        let d = self.d;
        let width = self.merger.out_width();
        let pixels = self.merger.check_size()?;
        if self.finished {
            return Ok(&self.canvas()?.0);
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
        self.finished = true;
        Ok(&self.canvas()?.0)
    }

    /// The normalised image (`finish_on`), taken out of the merger.
    pub fn into_image(mut self) -> Result<D::Buffer, KernelError> {
        self.finish_on()?;
        Ok(self.canvas.take().expect("finish_on allocated the canvas").0)
    }
}
