//! What a kernel launch needs from a device, so that each operation is written once and runs on
//! a CUDA GPU (`Gpu`, through cudarc) and on the CPU shim (`shim::Shim`, the same `.cu` sources
//! compiled by the system C++ compiler): buffers of bytes, uploads and downloads, and launches
//! described as a `Call` (a kernel's name, grid, block and arguments in order), which is what
//! CUDA's launch API takes too. The shim checks every argument's size against the kernel's
//! signature, so a `Call` that does not match its kernel fails in CI, not first on a GPU.

use crate::KernelError;

/// Plain data a kernel argument or buffer may hold: no padding bytes, no pointers, every bit
/// pattern a valid value.
///
/// # Safety
/// An implementing type must have no padding and accept any bit pattern (its bytes are read and
/// written as `u8`).
pub unsafe trait Plain: Copy + 'static {}

// SAFETY: primitive numbers: no padding, every bit pattern valid.
unsafe impl Plain for u8 {}
// SAFETY: as for u8.
unsafe impl Plain for u16 {}
// SAFETY: as for u8.
unsafe impl Plain for i32 {}
// SAFETY: as for u8.
unsafe impl Plain for i64 {}
// SAFETY: as for u8 (every bit pattern is some f32, NaNs included).
unsafe impl Plain for f32 {}
// SAFETY: as for f32.
unsafe impl Plain for f64 {}

/// The bytes of a slice of plain values.
pub fn bytes_of<T: Plain>(s: &[T]) -> &[u8] {
    // SAFETY: `T: Plain` has no padding, so every byte of the slice is initialised; the length is
    // the slice's size in bytes and the lifetime is the slice's.
    unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<u8>(), std::mem::size_of_val(s)) }
}

/// The bytes of a mutable slice of plain values; any bytes written are valid values.
pub fn bytes_of_mut<T: Plain>(s: &mut [T]) -> &mut [u8] {
    // SAFETY: as in `bytes_of`, and `T: Plain` accepts every bit pattern, so whatever is written
    // through the bytes leaves valid values; the borrow is exclusive for its lifetime.
    unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast::<u8>(), std::mem::size_of_val(s)) }
}

/// One kernel argument: a value (its bytes) or a device buffer (the kernel gets its address).
pub enum Arg<'a, B> {
    Value(Vec<u8>),
    Buffer(&'a B),
}

/// One launch: kernel `kernel` over `grid` blocks of `block` threads.
pub struct Call<'a, B> {
    pub kernel: &'static str,
    pub grid: [u32; 3],
    pub block: [u32; 3],
    pub args: Vec<Arg<'a, B>>,
}

impl<'a, B> Call<'a, B> {
    pub fn new(kernel: &'static str, (grid, block): ([u32; 3], [u32; 3])) -> Self {
        Self { kernel, grid, block, args: Vec::new() }
    }
    pub fn value<T: Plain>(&mut self, v: T) -> &mut Self {
        self.args.push(Arg::Value(bytes_of(std::slice::from_ref(&v)).to_vec()));
        self
    }
    pub fn buffer(&mut self, b: &'a B) -> &mut Self {
        self.args.push(Arg::Buffer(b));
        self
    }
}

/// A 2-D launch of 16 x 16 blocks over `w` x `h` threads.
pub fn grid2(w: usize, h: usize) -> ([u32; 3], [u32; 3]) {
    let blocks = |n: usize| n.div_ceil(16).max(1) as u32;
    ([blocks(w), blocks(h), 1], [16, 16, 1])
}

/// A 1-D launch of 256-thread blocks over `n` threads.
pub fn grid1(n: usize) -> ([u32; 3], [u32; 3]) {
    ([n.div_ceil(256).max(1) as u32, 1, 1], [256, 1, 1])
}

/// A device the kernels run on: the GPU (`Gpu`) or the CPU shim (`shim::Shim`).
pub trait Device {
    /// A buffer of bytes in the device's memory.
    type Buffer;
    fn upload(&self, bytes: &[u8]) -> Result<Self::Buffer, KernelError>;
    fn zeros(&self, len: usize) -> Result<Self::Buffer, KernelError>;
    /// Copies the buffer into `out` (of the buffer's length), after every launch before it.
    fn download(&self, buffer: &Self::Buffer, out: &mut [u8]) -> Result<(), KernelError>;
    /// Runs `call` (on a GPU: queued on the device's stream, in order with the other calls).
    ///
    /// # Safety
    /// The arguments must match the kernel's parameters in number, order and type (the shim
    /// checks the sizes, the GPU cannot), every access the kernel makes must be inside the
    /// buffers given, and buffers written must not be read or written by another argument.
    unsafe fn launch(&self, call: &Call<'_, Self::Buffer>) -> Result<(), KernelError>;
    /// Copies `src` into `dst` (of at least its length) on the device.
    fn copy(&self, src: &Self::Buffer, dst: &mut Self::Buffer) -> Result<(), KernelError>;
    /// Waits until every launch and copy before it has finished.
    fn synchronize(&self) -> Result<(), KernelError>;
    /// A buffer's length in bytes.
    fn len(&self, buffer: &Self::Buffer) -> usize;
}

/// Uploads a slice of plain values.
pub fn upload<D: Device, T: Plain>(d: &D, data: &[T]) -> Result<D::Buffer, KernelError> {
    d.upload(bytes_of(data))
}

/// Downloads into a slice of plain values.
pub fn download<D: Device, T: Plain>(d: &D, b: &D::Buffer, out: &mut [T]) -> Result<(), KernelError> {
    d.download(b, bytes_of_mut(out))
}

/// Zeroed room for `n` values of `T`.
pub fn zeros<D: Device, T: Plain>(d: &D, n: usize) -> Result<D::Buffer, KernelError> {
    d.zeros(n * std::mem::size_of::<T>())
}
