//! Every CUDA kernel executes in CI: the sources of `kernels/cu/` compiled for the CPU through
//! the shim (`gst_ai_kernels::cuda::shim`, docs/gpu.md) and run on the GPU tests' own cases
//! (tests/common/twins.rs), equal to the CPU twins bit for bit. Under AddressSanitizer and
//! ThreadSanitizer a sample of those cases runs again, and deliberately broken kernels (an
//! out-of-bounds read, a race between the threads of a block) prove that the check catches them.
//!
//! Needs a C++ compiler with libasan and libtsan (`scripts/bootstrap.sh` installs g++ where it
//! is missing); without one the tests fail, saying so.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::twins::{self, Cases};
use common::{half_twins, interp_twins, mouth_twins, pixel_twins};
use gst_ai_kernels::KernelError;
use gst_ai_kernels::cuda::device::{Call, download, grid1, upload, zeros};
use gst_ai_kernels::cuda::shim::{Sanitizer, Shim, block_level};
use gst_ai_kernels::cuda::{Device, SOURCES, entry_points};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("cuda-shim")
}

/// Test-only kernels, compiled beside the real ones: each broken one has a correct twin, so a
/// failure is the sanitizer's finding, not a broken harness.
const PROBES: &str = r#"
// Copies in[i + shift] to out[i] for i < n: with shift 1 the last thread reads one past `in`.
extern "C" __global__ void probe_copy(const float* in, float* out, int n, int shift)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = in[i + shift];
}

// Sums a block's values in shared memory: every thread adds to one shared total without
// synchronisation, a race between the threads of the block.
extern "C" __global__ void probe_racy_sum(const float* in, float* out, int n)
{
    __shared__ float total;
    if (threadIdx.x == 0) total = 0.0f;
    __syncthreads();
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) total += in[i];
    __syncthreads();
    if (threadIdx.x == 0) out[blockIdx.x] = total;
}

// The same sum done right: a tree reduction in shared memory with __syncthreads between steps.
extern "C" __global__ void probe_tree_sum(const float* in, float* out, int n)
{
    __shared__ float part[256];
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    part[threadIdx.x] = i < n ? in[i] : 0.0f;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s /= 2) {
        if (threadIdx.x < s) part[threadIdx.x] += part[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) out[blockIdx.x] = part[0];
}

// Spins until *flag is non-zero, which nothing sets: a kernel that never ends (the volatile
// read keeps the loop a loop).
extern "C" __global__ void probe_spin(const int* flag, float* out)
{
    while (*(const volatile int*)flag == 0) {}
    out[0] = 1.0f;
}

// The shim's intrinsics on the values given, for comparison with CUDA's documented semantics.
extern "C" __global__ void probe_intrinsics(const float* in, int n, int* ints, float* floats)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float x = in[i];
    ints[4 * i] = __float2int_rn(x);
    ints[4 * i + 1] = __float2int_rz(x);
    ints[4 * i + 2] = __float2int_rd(x);
    ints[4 * i + 3] = __float2int_ru(x);
    floats[4 * i] = __saturatef(x);
    floats[4 * i + 1] = rintf(x);
    floats[4 * i + 2] = fminf(x, 0.5f);
    floats[4 * i + 3] = fmaxf(x, 0.5f);
}
"#;

fn shim(sanitizer: Sanitizer) -> &'static Shim {
    static SHIMS: [OnceLock<Shim>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let i = sanitizer as usize;
    SHIMS[i].get_or_init(|| Shim::build(&dir(), sanitizer, &[("probes", PROBES)]).unwrap_or_else(|e| panic!("{e}")))
}

/// A sample the sanitizer builds get through quickly (each launch is a process): frames up to
/// 64x33 pixels, one case in `one_in`.
fn sample(one_in: usize) -> Cases {
    Cases { one_in, large_one_in: 0 }
}

#[test]
fn every_kernel_runs_on_the_shim_equal_to_its_cpu_twin() -> Result<(), KernelError> {
    let s = shim(Sanitizer::None);
    let seed = twins::fresh_seed();
    let t = std::time::Instant::now();
    // Every case on small frames, one in 48 of the large ones (1080p): the CPU is slow at this.
    let cases = Cases { one_in: 1, large_one_in: 48 };
    let pack = twins::pack_cases(s, seed, &cases)?;
    let unpack = twins::unpack_cases(s, seed, &cases)?;
    let resize = twins::resize_cases(s, seed, &cases)?;
    let tiles = twins::tile_cases(s, seed, &Cases::ALL)?;
    // The shim calls the C library's expf and powf, as the CPU twin does: no tolerance. The
    // 1080p case one run in 4.
    let pixels = pixel_twins::pixel_cases(s, seed, &Cases { one_in: 1, large_one_in: 4 }, 0.0)?;
    let pyramids = pixel_twins::pyramid_cases(s, seed, &Cases { one_in: 1, large_one_in: 4 })?;
    let flows = pixel_twins::flow_search_cases(s, seed, &Cases { one_in: 1, large_one_in: 4 })?;
    let whole = pixel_twins::optical_flow_cases(s, seed, &Cases { one_in: 1, large_one_in: 4 })?;
    let interps = interp_twins::interp_cases(s, seed, &Cases::ALL)?;
    let (mouths, moved, _) = mouth_twins::mouth_cases(s, seed, &Cases { one_in: 1, large_one_in: 4 }, 0.0)?;
    let halves = half_twins::half_cases(s, seed)?;
    println!(
        "{pack} pack, {unpack} unpack, {resize} resize, {tiles} tile-merge, {pixels} x 11 style/warp/scene/face, {pyramids} pyramid, \
         {flows} flow search, {whole} whole flow, {interps} interpolation, {mouths} mouth cases ({moved} opened), {halves} f16 conversions equal in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    assert!(
        pack > 900
            && unpack > 900
            && resize > 40
            && tiles == 12
            && pixels >= 5
            && pyramids >= 4
            && flows >= 6
            && whole >= 6
            && interps == 18
            && mouths >= 24
            && moved >= 12
            && halves > 70_000
    );
    Ok(())
}

#[test]
fn the_kernels_pass_under_address_sanitizer() -> Result<(), KernelError> {
    let s = shim(Sanitizer::Address);
    let seed = twins::fresh_seed();
    let n = twins::pack_cases(s, seed, &sample(24))?
        + twins::unpack_cases(s, seed, &sample(24))?
        + twins::resize_cases(s, seed, &sample(6))?
        + twins::tile_cases(s, seed, &sample(2))?
        + pixel_twins::pixel_cases(s, seed, &sample(1), 0.0)?
        + pixel_twins::pyramid_cases(s, seed, &sample(1))?
        + pixel_twins::flow_search_cases(s, seed, &sample(1))?
        + pixel_twins::optical_flow_cases(s, seed, &sample(2))?
        + interp_twins::interp_cases(s, seed, &sample(1))?
        + mouth_twins::mouth_cases(s, seed, &sample(2), 0.0)?.0
        + usize::from(half_twins::half_cases(s, seed)? > 0);
    println!("{n} cases clean under AddressSanitizer");
    assert!(n > 20);
    Ok(())
}

#[test]
fn the_kernels_pass_under_thread_sanitizer() -> Result<(), KernelError> {
    let s = shim(Sanitizer::Thread);
    let seed = twins::fresh_seed();
    let n = twins::pack_cases(s, seed, &sample(150))?
        + twins::unpack_cases(s, seed, &sample(150))?
        + twins::resize_cases(s, seed, &sample(30))?
        + twins::tile_cases(s, seed, &sample(4))?
        + pixel_twins::pixel_cases(s, seed, &sample(2), 0.0)?
        + pixel_twins::pyramid_cases(s, seed, &sample(2))?
        + pixel_twins::flow_search_cases(s, seed, &sample(2))?
        + pixel_twins::optical_flow_cases(s, seed, &sample(3))?
        + interp_twins::interp_cases(s, seed, &sample(3))?
        + mouth_twins::mouth_cases(s, seed, &sample(4), 0.0)?.0;
    println!("{n} cases clean under ThreadSanitizer");
    assert!(n >= 4);
    Ok(())
}

fn copy(s: &Shim, shift: i32) -> Result<Vec<f32>, KernelError> {
    let n: usize = 300;
    let input: Vec<f32> = (0..n).map(|i| i as f32).collect();
    let (src, dst) = (upload(s, &input)?, zeros::<_, f32>(s, n)?);
    let mut call = Call::new("probe_copy", grid1(n));
    call.buffer(&src).buffer(&dst).value(n as i32).value(shift);
    // SAFETY: the arguments match probe_copy; with shift 0 every access is in bounds; with
    // shift 1 the last thread reads one float past `src`, which is what this test wants the
    // sanitizer to catch; in the shim's runner process that read hits a redzone, not our memory.
    unsafe { s.launch(&call) }?;
    let mut out = vec![0.0; n];
    download(s, &dst, &mut out)?;
    Ok(out)
}

#[test]
fn an_out_of_bounds_read_fails_under_address_sanitizer() {
    let s = shim(Sanitizer::Address);
    let good = copy(s, 0).unwrap();
    assert!(good.iter().enumerate().all(|(i, &v)| v == i as f32));
    let e = copy(s, 1).unwrap_err().to_string();
    assert!(e.contains("AddressSanitizer: heap-buffer-overflow") && e.contains("probe_copy"), "{e}");
    println!("caught: {}", e.lines().find(|l| l.contains("ERROR: AddressSanitizer")).unwrap_or(""));
}

fn block_sums(s: &Shim, kernel: &'static str) -> Result<(Vec<f32>, Vec<f32>), KernelError> {
    let n: usize = 200;
    let input: Vec<f32> = (0..n).map(|i| (i % 7) as f32).collect();
    let blocks = n.div_ceil(64);
    let (src, dst) = (upload(s, &input)?, zeros::<_, f32>(s, blocks)?);
    let mut call = Call::new(kernel, ([blocks as u32, 1, 1], [64, 1, 1]));
    call.buffer(&src).buffer(&dst).value(n as i32);
    // SAFETY: the arguments match both probes; threads at or past n read nothing, block b
    // writes out[b] only, and the tree reduction indexes its 256-entry shared array below 64.
    unsafe { s.launch(&call) }?;
    let mut out = vec![0.0; blocks];
    download(s, &dst, &mut out)?;
    let expected = input.chunks(64).map(|c| c.iter().sum()).collect();
    Ok((out, expected))
}

#[test]
fn a_race_within_a_block_fails_under_thread_sanitizer() {
    assert!(block_level(PROBES, "probe_racy_sum") && block_level(PROBES, "probe_tree_sum"));
    assert!(!block_level(PROBES, "probe_copy"));
    let s = shim(Sanitizer::Thread);
    let (sums, expected) = block_sums(s, "probe_tree_sum").unwrap();
    assert_eq!(sums, expected);
    let e = block_sums(s, "probe_racy_sum").unwrap_err().to_string();
    assert!(e.contains("ThreadSanitizer: data race") && e.contains("probe_racy_sum"), "{e}");
    println!("caught: {}", e.lines().find(|l| l.contains("WARNING: ThreadSanitizer")).unwrap_or(""));
}

/// Launches `probe_spin`, which never ends.
fn spin(s: &Shim) -> Result<(), KernelError> {
    let (flag, out) = (zeros::<_, i32>(s, 1)?, zeros::<_, f32>(s, 1)?);
    let mut call = Call::new("probe_spin", ([1, 1, 1], [1, 1, 1]));
    call.buffer(&flag).buffer(&out);
    // SAFETY: the arguments match probe_spin; its one thread reads flag[0] and would write
    // out[0], both buffers of one value.
    unsafe { s.launch(&call) }
}

#[test]
fn a_hanging_kernel_fails_under_a_sanitizer_when_its_time_is_up() {
    // The runner is built once (by `shim`); a second handle on it with a 2 s timeout.
    shim(Sanitizer::Address);
    let s =
        Shim::build(&dir(), Sanitizer::Address, &[("probes", PROBES)]).unwrap().with_timeout(Duration::from_secs(2));
    let t = Instant::now();
    let e = spin(&s).unwrap_err().to_string();
    let took = t.elapsed();
    assert!(e.contains("probe_spin under Address sanitizer did not finish within 2s"), "{e}");
    assert!(took < Duration::from_secs(20), "the launch took {took:?} to fail");
    println!("caught in {took:?}: {}", e.lines().next().unwrap_or(""));
}

#[test]
fn a_hanging_kernel_stops_the_plain_shim_naming_it() {
    // In process, a kernel's thread cannot be stopped: the watchdog aborts the process. So the
    // hang runs in a child process of this test binary (this test again, told so by the
    // environment), which must die with the watchdog's message.
    if std::env::var_os("GST_AI_SHIM_HANG_CHILD").is_some() {
        let s = Shim::build(&dir(), Sanitizer::None, &[("probes", PROBES)]).unwrap();
        let _ = spin(&s.with_timeout(Duration::from_millis(500)));
        panic!("the watchdog let a hanging kernel run");
    }
    shim(Sanitizer::None);
    let exe = std::env::current_exe().unwrap();
    let t = Instant::now();
    let child = Command::new(exe)
        .args(["--exact", "a_hanging_kernel_stops_the_plain_shim_naming_it", "--nocapture", "--test-threads=1"])
        .env("GST_AI_SHIM_HANG_CHILD", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&child.stderr);
    assert!(!child.status.success(), "{err}");
    assert!(err.contains("kernel probe_spin still running after 500ms"), "{err}");
    assert!(!err.contains("let a hanging kernel run"), "{err}");
    println!("child stopped in {:?}: {}", t.elapsed(), err.lines().find(|l| l.contains("probe_spin")).unwrap_or(""));
}

#[test]
fn block_level_kernels_synchronise_on_the_plain_shim() {
    // In-process, one OS thread per CUDA thread: __syncthreads and __shared__ work.
    let (sums, expected) = block_sums(shim(Sanitizer::None), "probe_tree_sum").unwrap();
    assert_eq!(sums, expected);
}

#[test]
fn a_call_that_does_not_match_its_kernel_is_refused() {
    let s = shim(Sanitizer::None);
    let src = upload(s, &[1.0f32; 4]).unwrap();
    let dst = zeros::<_, f32>(s, 4).unwrap();
    let mut call = Call::new("probe_copy", grid1(4));
    call.buffer(&src).buffer(&dst).value(4i64).value(0i32);
    // SAFETY: refused before the kernel runs: argument 2 is 8 bytes, the kernel's int is 4.
    let e = unsafe { s.launch(&call) }.unwrap_err().to_string();
    assert!(e.contains("argument 2 is 4 bytes, 8 given"), "{e}");
    let mut call = Call::new("no_such_kernel", grid1(4));
    call.buffer(&src);
    // SAFETY: refused: no such kernel.
    let e = unsafe { s.launch(&call) }.unwrap_err().to_string();
    assert!(e.contains("no kernel no_such_kernel"), "{e}");
}

#[test]
fn every_kernel_of_every_source_is_registered() {
    // Every entry point of kernels/cu/ is in the shim (a launch of an unknown one is refused
    // by name, so a missing registration would name the kernel).
    let s = shim(Sanitizer::None);
    for (name, source) in SOURCES {
        for entry in entry_points(source) {
            let call: Call<'_, <Shim as Device>::Buffer> = Call::new(entry, grid1(1));
            // SAFETY: refused before the kernel runs: no arguments given to a kernel that takes some.
            let e = unsafe { s.launch(&call) }.unwrap_err().to_string();
            assert!(e.contains("arguments, 0 given"), "{name}.cu: {entry}: {e}");
        }
    }
}

#[test]
fn the_intrinsics_have_cudas_semantics() -> Result<(), KernelError> {
    // CUDA: float -> int conversions round as named (rn: to nearest, ties to even) and saturate,
    // NaN converts to 0; __saturatef clamps to [0, 1] with NaN -> 0; rintf rounds ties to even;
    // fminf/fmaxf return the other operand for NaN. Rust's `as i32` saturates with NaN -> 0 too.
    let s = shim(Sanitizer::None);
    let values = [
        0.0,
        -0.0,
        0.5,
        1.5,
        2.5,
        -0.5,
        -1.5,
        -2.5,
        0.49999997,
        1e-45,
        3e9,
        -3e9,
        2147483520.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        1.0,
        1.0000001,
        -7.3,
    ];
    let n = values.len();
    let (src, ints, floats) = (upload(s, &values)?, zeros::<_, i32>(s, 4 * n)?, zeros::<_, f32>(s, 4 * n)?);
    let mut call = Call::new("probe_intrinsics", grid1(n));
    call.buffer(&src).value(n as i32).buffer(&ints).buffer(&floats);
    // SAFETY: the arguments match probe_intrinsics; threads at or past n return, and thread i
    // writes entries 4i..4i+3 of buffers of 4n values.
    unsafe { s.launch(&call) }?;
    let (mut i_out, mut f_out) = (vec![0i32; 4 * n], vec![0f32; 4 * n]);
    download(s, &ints, &mut i_out)?;
    download(s, &floats, &mut f_out)?;
    for (k, &x) in values.iter().enumerate() {
        let want_i = [x.round_ties_even() as i32, x.trunc() as i32, x.floor() as i32, x.ceil() as i32];
        assert_eq!(&i_out[4 * k..4 * k + 4], &want_i, "conversions of {x}");
        let sat = if x.is_nan() { 0.0 } else { x.clamp(0.0, 1.0) };
        let want_f = [sat, x.round_ties_even(), x.min(0.5), x.max(0.5)];
        let got = &f_out[4 * k..4 * k + 4];
        assert!(
            got.iter().zip(&want_f).all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())),
            "float intrinsics of {x}: {got:?}, CUDA gives {want_f:?}"
        );
    }
    Ok(())
}

/// The shim, counting what crosses between host and device.
struct Counted<'a> {
    inner: &'a Shim,
    uploads: std::cell::Cell<usize>,
    downloads: std::cell::RefCell<Vec<usize>>,
}

impl Device for Counted<'_> {
    type Buffer = <Shim as Device>::Buffer;
    fn upload(&self, bytes: &[u8]) -> Result<Self::Buffer, KernelError> {
        self.uploads.set(self.uploads.get() + bytes.len());
        self.inner.upload(bytes)
    }
    fn zeros(&self, len: usize) -> Result<Self::Buffer, KernelError> {
        self.inner.zeros(len)
    }
    fn download(&self, buffer: &Self::Buffer, out: &mut [u8]) -> Result<(), KernelError> {
        self.downloads.borrow_mut().push(out.len());
        self.inner.download(buffer, out)
    }
    fn copy(&self, src: &Self::Buffer, dst: &mut Self::Buffer) -> Result<(), KernelError> {
        self.inner.copy(src, dst)
    }
    fn synchronize(&self) -> Result<(), KernelError> {
        self.inner.synchronize()
    }
    fn len(&self, buffer: &Self::Buffer) -> usize {
        self.inner.len(buffer)
    }
    unsafe fn launch(&self, call: &Call<'_, Self::Buffer>) -> Result<(), KernelError> {
        // SAFETY: the caller's contract, passed on.
        unsafe { self.inner.launch(call) }
    }
}

#[test]
fn a_pack_resize_unpack_chain_stays_on_the_device() -> Result<(), KernelError> {
    use common::{OwnedFrame, Rng};
    use gst_ai_kernels::cuda::ops;
    use gst_ai_kernels::cuda::storage::Storage;
    use gst_ai_kernels::{
        ChannelOrder, Filter, Layout, PixelFormat, Rect, TensorSpec, ValueRange, pack, resize, unpack,
    };
    let d = Counted { inner: shim(Sanitizer::None), uploads: Default::default(), downloads: Default::default() };
    let mut rng = Rng::new(twins::fresh_seed());
    let (w, h) = (37, 21);
    let frame = OwnedFrame::random(PixelFormat::Nv12, w, h, 3, &mut rng);
    let spec = TensorSpec { layout: Layout::Nchw, range: ValueRange::Unit, order: ChannelOrder::Rgb };
    // On the CPU: pack, x2 resize (the "model"), unpack into RGBA.
    let mut t = vec![0.0; 3 * w * h];
    pack(&frame.view()?, Rect::new(0, 0, w, h), spec, &mut t)?;
    let mut up = vec![0.0; 3 * 4 * w * h];
    resize(&t, 3, w, h, &mut up, 2 * w, 2 * h, Filter::Bicubic)?;
    let mut on_cpu = OwnedFrame::filled(PixelFormat::Rgba, 2 * w, 2 * h, 0, Default::default(), || 0);
    unpack(&up, 2 * w, 2 * h, spec, 0, 0, &mut on_cpu.view_mut()?)?;
    // On the device: the tensors never come back to the host.
    let packed = Storage::on_device(&d, ops::pack_on(&d, &frame.view()?, Rect::new(0, 0, w, h), spec)?, 3 * w * h)?;
    let Storage::Device { buffer, .. } = &packed else { unreachable!() };
    let scaled = ops::resize_on(&d, buffer, 3, w, h, 2 * w, 2 * h, Filter::Bicubic)?;
    let scaled = Storage::on_device(&d, scaled, 3 * 4 * w * h)?;
    assert!(scaled.is_on_device() && scaled.len() == 12 * w * h);
    let Storage::Device { buffer, len } = &scaled else { unreachable!() };
    let mut on_dev = OwnedFrame::filled(PixelFormat::Rgba, 2 * w, 2 * h, 0, Default::default(), || 0);
    ops::unpack_from(&d, buffer, *len, 2 * w, 2 * h, spec, 0, 0, &mut on_dev.view_mut()?)?;
    assert!(on_cpu.planes == on_dev.planes, "the device chain differs from the CPU's");
    // One download: the output frame. Uploads: the frame's planes, the RGBA canvas, the taps.
    assert_eq!(*d.downloads.borrow(), vec![4 * 2 * w * 2 * h]);
    let frame_bytes: usize = frame.planes.iter().map(Vec::len).sum();
    assert!(d.uploads.get() < frame_bytes + 4 * 4 * w * h + 4096, "{} bytes uploaded", d.uploads.get());
    // And the storage's own moves.
    let host = scaled.into_host(&d)?;
    assert_eq!(host, up);
    assert!(!Storage::<Counted>::Host(host).to_device(&d)?.into_host(&d)?.is_empty());
    Ok(())
}
