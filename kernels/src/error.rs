//! The crate's single error type. Every public entry point validates its
//! arguments up front and reports what was wrong here instead of panicking, so
//! a malformed buffer coming from upstream never takes the pipeline down.

use std::fmt;

use crate::frame::PixelFormat;

/// Why a kernel refused its arguments. Messages name the offending value and
/// what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KernelError {
    /// A size that must be non-zero was zero; `what` names it.
    ZeroSize { what: &'static str },
    /// The number of planes or strides passed does not match the format.
    PlaneCount { format: PixelFormat, what: &'static str, expected: usize, got: usize },
    /// A plane's stride is shorter than one row of its pixels.
    StrideTooSmall { format: PixelFormat, plane: usize, width: usize, stride: usize, row_bytes: usize },
    /// A plane's buffer cannot hold all of its rows at its stride.
    PlaneTooShort {
        format: PixelFormat,
        plane: usize,
        width: usize,
        height: usize,
        stride: usize,
        len: usize,
        need: usize,
    },
    /// A tensor or output slice has the wrong number of elements.
    BufferLength { what: String, len: usize, need: usize },
    /// The operation cannot work on this pixel format.
    UnsupportedFormat { op: &'static str, format: PixelFormat, reason: &'static str },
    /// A geometric or numeric argument is out of range; the text says which.
    InvalidArgument(String),
    /// `TileMerger::finish` found an output pixel no tile covered.
    Uncovered { x: usize, y: usize },
    /// A size computation does not fit in `usize` (or the allocation failed).
    TooLarge { what: &'static str },
    /// The CUDA backend cannot work: a library is missing, a kernel does not compile, a call
    /// failed; the text says which.
    Cuda(String),
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ZeroSize { what } => write!(f, "{what} must be non-zero"),
            Self::PlaneCount { format, what, expected, got } => {
                write!(f, "{format} needs {expected} {what}, got {got}")
            }
            Self::StrideTooSmall { format, plane, width, stride, row_bytes } => write!(
                f,
                "plane {plane} stride {stride} is less than its {row_bytes}-byte rows \
                 ({width} pixels wide, {format})"
            ),
            Self::PlaneTooShort { format, plane, width, height, stride, len, need } => write!(
                f,
                "plane {plane} has {len} bytes, need {need} for {width}x{height} {format} \
                 at stride {stride}"
            ),
            Self::BufferLength { what, len, need } => {
                write!(f, "{what} has {len} elements, need exactly {need}")
            }
            Self::UnsupportedFormat { op, format, reason } => {
                write!(f, "{op} does not support {format}: {reason}")
            }
            Self::InvalidArgument(msg) => f.write_str(msg),
            Self::Uncovered { x, y } => {
                write!(f, "output pixel ({x}, {y}) was not covered by any tile")
            }
            Self::TooLarge { what } => write!(f, "{what} is too large"),
            Self::Cuda(msg) => write!(f, "CUDA: {msg}"),
        }
    }
}

impl std::error::Error for KernelError {}
