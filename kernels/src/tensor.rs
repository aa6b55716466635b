//! Descriptors of the f32 tensors models consume and produce (layout, value
//! range, channel order) and of frame regions. Plain data only, so a GPU
//! implementation can take exactly the same arguments.

/// Memory order of a batch-1, 3-channel tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layout {
    /// Planar: all of channel 0, then channel 1, then channel 2.
    Nchw,
    /// Interleaved: the 3 channels of each pixel together.
    Nhwc,
}

/// What a full-scale 8-bit value 0..255 maps to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueRange {
    /// 0..1
    Unit,
    /// -1..1
    Signed,
    /// 0..255
    Byte,
}

impl ValueRange {
    /// `(scale, offset)` taking a 0..255 value into this range.
    pub(crate) fn byte_to_range(self) -> (f32, f32) {
        match self {
            Self::Unit => (1.0 / 255.0, 0.0),
            Self::Signed => (2.0 / 255.0, -1.0),
            Self::Byte => (1.0, 0.0),
        }
    }

    /// `(scale, offset)` taking a value in this range to 0..255.
    pub(crate) fn range_to_byte(self) -> (f32, f32) {
        match self {
            Self::Unit => (255.0, 0.0),
            Self::Signed => (127.5, 127.5),
            Self::Byte => (1.0, 0.0),
        }
    }

    /// `(scale, offset)` taking a value in this range to 0..1.
    pub(crate) fn range_to_unit(self) -> (f32, f32) {
        match self {
            Self::Unit => (1.0, 0.0),
            Self::Signed => (0.5, 0.5),
            Self::Byte => (1.0 / 255.0, 0.0),
        }
    }
}

/// Which colour the tensor's channel 0 holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChannelOrder {
    Rgb,
    Bgr,
}

/// How a model wants its 3-channel tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TensorSpec {
    pub layout: Layout,
    pub range: ValueRange,
    pub order: ChannelOrder,
}

impl TensorSpec {
    /// NCHW, 0..1, RGB: what most PyTorch-exported models expect.
    pub const CANONICAL: TensorSpec =
        TensorSpec { layout: Layout::Nchw, range: ValueRange::Unit, order: ChannelOrder::Rgb };
}

impl Default for TensorSpec {
    fn default() -> Self {
        Self::CANONICAL
    }
}

/// A region of a frame in pixels. It may extend past the frame's edges
/// (negative `x`/`y` too); those pixels are reflected like numpy's
/// `reflect` mode (index -1 reads 1, `w` reads `w - 2`, repeatedly for pads
/// wider than the frame; a 1-pixel-wide axis is clamped).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    pub x: isize,
    pub y: isize,
    pub width: usize,
    pub height: usize,
}

impl Rect {
    pub const fn new(x: isize, y: isize, width: usize, height: usize) -> Self {
        Self { x, y, width, height }
    }
}
