//! An image model over one frame: split into tiles (or not), pack each tile into the model's
//! tensor, run the model, merge the tiles with feathered weights, unpack into the output frame.
//! Buffers are kept between frames; nothing here knows about GStreamer.

use std::sync::Arc;

use gst_ai_kernels::{
    Frame, FrameMut, Layout, Rect, TensorSpec, Tile, TileMerger, copy_alpha, pack, plan_tiles, unpack,
};
use half::f16;

use crate::backend::model::{InputData, Model, ModelInput};
use crate::error::{Error, Result};
use crate::image::contract::ImageContract;

pub mod device;

/// Tiling parameters, read from the element's properties for every frame (they may change live).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TileParams {
    /// Tile edge in input pixels; 0 = the whole frame in one run.
    pub size: usize,
    /// Overlap between neighbouring tiles in input pixels.
    pub overlap: usize,
}

/// An input given to every run beside the image (a style model's style vector), as float32.
#[derive(Clone, Debug, PartialEq)]
pub struct SideInput {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl SideInput {
    pub fn as_model_input(&self) -> ModelInput<'_> {
        ModelInput { name: &self.name, shape: &self.shape, data: InputData::F32(&self.data) }
    }
}

/// How many times its input and output tensors a model's run takes in memory, its own
/// intermediate tensors included: the built-in x2 model peaked at 11.0 GB on a whole 7680x4320
/// frame (issue 17), whose f32 input and output tensors are 2.0 GB, so about 5.5; 5 is the
/// round figure the memory budget is planned with. A wider model takes more than planned.
const MODEL_WORK_FACTOR: usize = 5;

/// The smallest tile edge a memory budget plans (below it, the context around a tile costs more
/// than the tile's own pixels).
const MIN_BUDGET_TILE: usize = 64;

pub struct TiledRunner {
    model: Arc<Model>,
    contract: ImageContract,
    /// Inputs given to every run beside the image.
    side: Vec<SideInput>,
    input: Vec<f32>,
    input16: Vec<f16>,
    /// A tile's output without its context margin.
    cropped: Vec<f32>,
    /// Kept between frames of the same size: (output width, height, scale, overlap) and the merger.
    merger: Option<((usize, usize, usize, usize), TileMerger)>,
    /// Bytes one model run may take when `TileParams::size` is 0 (0 = no limit).
    budget: usize,
    /// How many tiles the last frame was cut into.
    last_tiles: usize,
}

impl TiledRunner {
    pub fn new(model: Arc<Model>, contract: ImageContract) -> Self {
        Self {
            model,
            contract,
            side: Vec::new(),
            input: Vec::new(),
            input16: Vec::new(),
            cropped: Vec::new(),
            merger: None,
            budget: 0,
            last_tiles: 0,
        }
    }

    /// Bytes a model run may take when the tile size is 0 (automatic): a frame whose estimated
    /// run ([`run_bytes`](Self::run_bytes)) fits runs whole, a larger one is cut into tiles that
    /// fit. 0 = no limit (the whole frame in one run).
    pub fn set_memory_budget(&mut self, bytes: usize) {
        self.budget = bytes;
    }

    /// The estimated memory of one run on a w x h input: the f32 input tensor and the scale²
    /// times larger output tensor, times [`MODEL_WORK_FACTOR`] for what the model holds between.
    pub fn run_bytes(&self, w: usize, h: usize) -> usize {
        let s = self.contract.scale;
        let per_pixel = 4 * (3 + 3 * s * s) * MODEL_WORK_FACTOR;
        let (pw, ph) = self.contract.padded_size(w, h);
        pw.saturating_mul(ph).saturating_mul(per_pixel)
    }

    /// How many tiles the last frame given to [`process`](Self::process) or
    /// [`process_canonical`](Self::process_canonical) was cut into.
    pub fn last_tile_count(&self) -> usize {
        self.last_tiles
    }

    /// The tile edge the memory budget allows for a w x h frame: None when the whole frame fits
    /// (or there is no budget), else the largest square tile whose run, its context of
    /// `overlap` pixels on every side included, fits.
    fn budget_tile(&self, w: usize, h: usize, overlap: usize) -> Option<usize> {
        if self.budget == 0 || self.run_bytes(w, h) <= self.budget {
            return None;
        }
        let per_pixel = self.run_bytes(1, 1).max(1);
        let edge = ((self.budget / per_pixel) as f64).sqrt() as usize;
        Some(edge.saturating_sub(2 * overlap).max(MIN_BUDGET_TILE))
    }

    /// Inputs given to every later run beside the image (replacing those set before).
    pub fn set_side_inputs(&mut self, side: Vec<SideInput>) {
        self.side = side;
    }

    pub fn side_inputs(&self) -> &[SideInput] {
        &self.side
    }

    pub fn scale(&self) -> usize {
        self.contract.scale
    }

    pub fn contract(&self) -> &ImageContract {
        &self.contract
    }

    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    /// The tiles a w x h frame is cut into with `params`, and the overlap actually used. A model
    /// with a static input size is always tiled at that size.
    pub fn tiles(&self, w: usize, h: usize, params: TileParams) -> Result<(Vec<Tile>, usize)> {
        let size = match params.size {
            0 => self.budget_tile(w, h, params.overlap).unwrap_or(0),
            s => s,
        };
        let (tw, th) = match self.contract.static_size {
            Some(size) => size,
            None if size == 0 || (size >= w && size >= h) => (w, h),
            None => (size, size),
        };
        if tw >= w && th >= h {
            return Ok((vec![Tile { x: 0, y: 0, width: w, height: h }], 0));
        }
        // Plan each axis on its own so non-square static sizes work; the overlap must leave a
        // tile some new pixels.
        let overlap = params.overlap.min(tw.min(th).min(w).min(h).saturating_sub(1) / 2);
        let multiple = if self.contract.static_size.is_some() { 1 } else { self.contract.multiple };
        let xs = plan_tiles(w, 1, tw.min(w), overlap, multiple)?;
        let ys = plan_tiles(1, h, th.min(h), overlap, multiple)?;
        let tiles = ys
            .iter()
            .flat_map(|y| xs.iter().map(move |x| Tile { x: x.x, y: y.y, width: x.width, height: y.height }))
            .collect();
        Ok((tiles, overlap))
    }

    /// Upscales `src` into `dst`, which must be exactly scale times its size, same format.
    pub fn process(&mut self, src: &Frame, dst: &mut FrameMut, params: TileParams) -> Result<()> {
        self.check_output(src, dst)?;
        let (tiles, overlap) = self.tiles(src.width, src.height, params)?;
        self.last_tiles = tiles.len();
        if tiles.len() == 1 {
            self.run_tile(src, tiles[0], 0, |w, h, spec, out| Ok(unpack(out, w, h, spec, 0, 0, dst)?))?;
        } else {
            self.merge_tiles(src, &tiles, overlap, |image| {
                Ok(unpack(image, dst.width, dst.height, TensorSpec::CANONICAL, 0, 0, dst)?)
            })?;
        }
        if src.format.has_alpha() {
            copy_alpha(src, dst)?;
        }
        Ok(())
    }

    /// `dst` must be exactly scale times `src`'s size, same format.
    fn check_output(&self, src: &Frame, dst: &FrameMut) -> Result<()> {
        let s = self.contract.scale;
        if dst.width != src.width * s || dst.height != src.height * s || dst.format != src.format {
            return Err(Error::Unsupported(format!(
                "output frame {}x{} {:?} is not {s}x the input {}x{} {:?}",
                dst.width, dst.height, dst.format, src.width, src.height, src.format
            )));
        }
        Ok(())
    }

    /// Runs the model over `src`, tiled as for [`process`](Self::process) (a single tile goes
    /// through the merger too), and leaves the output in `out` as a canonical image: three planes
    /// R, G, B in 0..1 (not clamped), scale times the frame's size.
    pub fn process_canonical(&mut self, src: &Frame, params: TileParams, out: &mut Vec<f32>) -> Result<()> {
        let (tiles, overlap) = self.tiles(src.width, src.height, params)?;
        self.last_tiles = tiles.len();
        self.merge_tiles(src, &tiles, overlap, |image| {
            out.clear();
            out.extend_from_slice(image);
            Ok(())
        })
    }

    /// Runs every tile, blends them in the (kept) merger and hands the canonical image to `consume`.
    fn merge_tiles(
        &mut self,
        src: &Frame,
        tiles: &[Tile],
        overlap: usize,
        consume: impl FnOnce(&[f32]) -> Result<()>,
    ) -> Result<()> {
        let s = self.contract.scale;
        let (ow, oh) = (src.width * s, src.height * s);
        let key = (ow, oh, s, overlap);
        let mut merger = match self.merger.take() {
            Some((k, m)) if k == key => m,
            _ => TileMerger::new(ow, oh, s, overlap),
        };
        merger.reset();
        // A model with a fixed input size cannot be given extra context around a tile.
        let context = if self.contract.static_size.is_some() { 0 } else { overlap };
        let result = (|| -> Result<()> {
            for &tile in tiles {
                self.run_tile(src, tile, context, |w, h, spec, out| Ok(merger.add(tile, out, w, h, spec)?))?;
            }
            consume(merger.finish()?)
        })();
        self.merger = Some((key, merger));
        result
    }

    /// Runs the model on one tile and hands its output for exactly the tile's pixels (width,
    /// height, spec, data) to `consume`. The model is given `context` extra pixels of the frame
    /// around the tile where the frame has them (cropped from the output afterwards), so that a
    /// model whose receptive field fits in the context computes the same values as on the whole
    /// frame; the input is then padded to what the model takes, by reflection past the frame's
    /// edges.
    fn run_tile(
        &mut self,
        src: &Frame,
        tile: Tile,
        context: usize,
        consume: impl FnOnce(usize, usize, TensorSpec, &[f32]) -> Result<()>,
    ) -> Result<()> {
        let c = &self.contract;
        let TileInput { rect, left, top } = tile_input(c, src, tile, context);
        let (pw, ph) = (rect.width, rect.height);
        let (shape, n) = c.input_shape(pw, ph);
        self.input.resize(n, 0.0);
        pack(src, rect, c.spec, &mut self.input)?;
        let data = InputData::for_elem(c.input_elem, &self.input, &mut self.input16);
        let (s, spec) = (c.scale, c.spec);
        let name = &self.model.name;
        let cropped = &mut self.cropped;
        let mut inputs = vec![ModelInput { name: &c.input, shape: &shape, data }];
        inputs.extend(self.side.iter().map(SideInput::as_model_input));
        self.model.run(&inputs, |dims, out| {
            let (ow, oh) = (pw * s, ph * s);
            let expect = match spec.layout {
                Layout::Nchw => [1, 3, oh, ow],
                Layout::Nhwc => [1, oh, ow, 3],
            };
            if dims != expect || out.len() != 3 * ow * oh {
                return Err(Error::Inference {
                    model: name.clone(),
                    why: format!("for a {pw}x{ph} input the output has shape {dims:?}, expected {expect:?}"),
                });
            }
            Error::check_finite(name, out)?;
            if left == 0 && top == 0 {
                // The tile's pixels start at the origin; the merger and unpack read only those.
                return consume(ow, oh, spec, out);
            }
            let (tw, th) = (tile.width * s, tile.height * s);
            crop(out, ow, spec.layout, left * s, top * s, tw, th, cropped);
            consume(tw, th, spec, cropped)
        })
    }
}

/// What the model is fed for a tile: the frame's `rect` (the tile with up to `context` pixels
/// of the frame around it, padded to what the model takes; reflected past the frame's edges by
/// `pack`), in which the tile starts at (`left`, `top`).
pub(crate) struct TileInput {
    pub rect: Rect,
    pub left: usize,
    pub top: usize,
}

pub(crate) fn tile_input(c: &ImageContract, src: &Frame, tile: Tile, context: usize) -> TileInput {
    let left = context.min(tile.x);
    let top = context.min(tile.y);
    let right = context.min(src.width - (tile.x + tile.width));
    let bottom = context.min(src.height - (tile.y + tile.height));
    let (pw, ph) = c.padded_size(tile.width + left + right, tile.height + top + bottom);
    let rect = Rect { x: (tile.x - left) as isize, y: (tile.y - top) as isize, width: pw, height: ph };
    TileInput { rect, left, top }
}

/// Copies the w x h window at (x, y) of a 3-channel tensor `src` that is `src_w` wide (and
/// tall enough) into `dst`, in the same layout.
#[allow(clippy::too_many_arguments)]
fn crop(src: &[f32], src_w: usize, layout: Layout, x: usize, y: usize, w: usize, h: usize, dst: &mut Vec<f32>) {
    dst.clear();
    match layout {
        Layout::Nchw => {
            let src_h = src.len() / 3 / src_w;
            for c in 0..3 {
                for row in y..y + h {
                    let start = (c * src_h + row) * src_w + x;
                    dst.extend_from_slice(&src[start..start + w]);
                }
            }
        }
        Layout::Nhwc => {
            for row in y..y + h {
                let start = (row * src_w + x) * 3;
                dst.extend_from_slice(&src[start..start + 3 * w]);
            }
        }
    }
}
