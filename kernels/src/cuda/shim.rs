//! The CPU shim: the `.cu` sources compiled by the system C++ compiler against
//! `kernels/shim/cuda_shim.h` (CUDA's built-in variables, qualifiers, intrinsics, a launcher that
//! walks the grid) and run as a `Device`, so CI executes every kernel without a GPU and compares
//! it with its CPU twin. docs/gpu.md ("The CPU shim") says what it proves and what it cannot.
//!
//! Three builds, compiled when first asked for into a folder the caller names (the tests use
//! their target's temporary folder) and kept there under a hash of sources, flags and compiler,
//! so a rerun compiles nothing:
//! - `Sanitizer::None`: a shared library loaded into the process, `-O2`; fast enough for the
//!   GPU tests' full inputs (1080p frames).
//! - `Sanitizer::Address`: a runner executable built with AddressSanitizer; each launch is a
//!   process of its own in which every buffer and argument is an allocation of exactly its size,
//!   so an access beyond one is reported and the launch fails.
//! - `Sanitizer::Thread`: the same with ThreadSanitizer, every thread of a block an OS thread, so
//!   a race between the threads of a block is reported and the launch fails.
//!
//! Compiling at test time (not in a build script) keeps the C++ compiler out of every build of
//! the plugin, and lets a test compile a variant of its own (a deliberately broken kernel).
//!
//! No launch may hang CI: a runner process that outlives the shim's timeout (`with_timeout`,
//! `GST_AI_SHIM_TIMEOUT_S`, 120 s by default) is killed and the launch fails naming the kernel;
//! in the plain build a watchdog thread aborts the process, naming the kernel, when a launch
//! outlives it (a kernel's thread cannot be stopped from outside, and an endless one must not
//! keep a test binary alive).

use std::cell::RefCell;
use std::ffi::{CString, c_char, c_void};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::device::{Arg, Call, Device};
use crate::KernelError;

const HEADER: &str = include_str!("../../shim/cuda_shim.h");
const LAUNCHER: &str = include_str!("../../shim/launcher.cpp");

/// Which sanitizer the shim is built with (docs/gpu.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sanitizer {
    None,
    Address,
    Thread,
}

type LaunchFn = unsafe extern "C" fn(
    *const c_char,
    *const u32,
    *const u32,
    *mut *mut c_void,
    *const std::ffi::c_ulong,
    u32,
    *mut c_char,
    std::ffi::c_ulong,
) -> i32;

enum Exec {
    Library { _lib: libloading::Library, launch: LaunchFn },
    Runner { exe: PathBuf, dir: PathBuf },
}

/// The kernels of `kernels/cu/` (and any extra sources) compiled for the CPU.
pub struct Shim {
    exec: Exec,
    sanitizer: Sanitizer,
    timeout: Duration,
}

/// How long one launch may run: `GST_AI_SHIM_TIMEOUT_S` seconds, or 120.
fn default_timeout() -> Duration {
    let secs = std::env::var("GST_AI_SHIM_TIMEOUT_S").ok().and_then(|s| s.parse::<f64>().ok());
    Duration::from_secs_f64(secs.filter(|s| s.is_finite() && *s > 0.0).unwrap_or(120.0))
}

/// The plain build's watchdog: launches in flight (kernel, deadline), checked by one thread.
mod watchdog {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Mutex, Once};
    use std::time::{Duration, Instant};

    /// Each launch's kernel, time limit and deadline, by launch number.
    type Running = HashMap<u64, (&'static str, Duration, Instant)>;
    static RUNNING: Mutex<Option<Running>> = Mutex::new(None);
    static NEXT: AtomicU64 = AtomicU64::new(0);
    static START: Once = Once::new();

    /// Watches one launch until the guard is dropped.
    pub(super) struct Guard(u64);

    pub(super) fn watch(kernel: &'static str, timeout: Duration) -> Guard {
        START.call_once(|| {
            std::thread::Builder::new()
                .name("gst-ai-shim-watchdog".into())
                .spawn(|| {
                    loop {
                        std::thread::sleep(Duration::from_millis(100));
                        let running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
                        let now = Instant::now();
                        if let Some((kernel, timeout, _)) =
                            running.iter().flatten().map(|(_, v)| v).find(|(_, _, deadline)| now >= *deadline)
                        {
                            eprintln!(
                                "CPU shim: kernel {kernel} still running after {timeout:?} (a hang: an endless loop, \
                                 or a __syncthreads some thread never reaches); aborting so the test fails instead of hanging"
                            );
                            std::process::abort();
                        }
                    }
                })
                .expect("the shim's watchdog thread starts");
        });
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        running.get_or_insert_with(HashMap::new).insert(id, (kernel, timeout, Instant::now() + timeout));
        Guard(id)
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            if let Some(running) = RUNNING.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
                running.remove(&self.0);
            }
        }
    }
}

/// A buffer of the shim: host memory.
pub struct ShimBuffer(RefCell<Vec<u8>>);

/// Whether kernel `name`'s own body (from its `extern "C" __global__` to the next) uses
/// `__syncthreads` or `__shared__`: such kernels run with one OS thread per CUDA thread.
pub fn block_level(source: &str, name: &str) -> bool {
    let marker = format!("extern \"C\" __global__ void {name}(");
    let Some(start) = source.find(&marker) else { return false };
    let rest = &source[start + marker.len()..];
    let body = rest.split("extern \"C\" __global__").next().unwrap_or(rest);
    body.contains("__syncthreads") || body.contains("__shared__")
}

/// The C++ translation unit for one source: the shim header, the source in a namespace of its
/// own (so helpers of the same name in two sources do not collide), and a registration of each
/// kernel.
fn wrapper(name: &str, source: &str) -> String {
    let mut s = format!("#include \"cuda_shim.h\"\nnamespace gst_ai_cu_{name} {{\n#line 1 \"kernels/cu/{name}.cu\"\n");
    s.push_str(source);
    s.push_str("\n#line 1 \"shim registrations\"\n");
    for entry in super::entry_points(source) {
        s.push_str(&format!("GST_AI_SHIM_KERNEL({entry}, {})\n", block_level(source, entry)));
    }
    s.push_str("}\n");
    s
}

fn compiler() -> String {
    std::env::var("CXX").unwrap_or_else(|_| "c++".to_string())
}

fn shim_error(what: impl std::fmt::Display) -> KernelError {
    KernelError::Cuda(format!("CPU shim: {what}"))
}

impl Shim {
    /// Compiles (or finds already compiled under `dir`) the sources of `kernels/cu/` and `extra`
    /// (name, source) with `sanitizer`, and opens the result.
    pub fn build(dir: &Path, sanitizer: Sanitizer, extra: &[(&str, &str)]) -> Result<Self, KernelError> {
        let sources: Vec<(&str, &str)> = super::SOURCES.iter().copied().chain(extra.iter().copied()).collect();
        let mut flags =
            vec!["-std=c++20", "-ffp-contract=off", "-fno-fast-math", "-pthread", "-Wall", "-Wno-unused-function"];
        match sanitizer {
            Sanitizer::None => flags.extend(["-O2", "-fPIC", "-shared"]),
            Sanitizer::Address => {
                flags.extend(["-O1", "-g", "-fsanitize=address", "-fno-omit-frame-pointer", "-DGST_AI_SHIM_RUNNER"])
            }
            Sanitizer::Thread => {
                flags.extend(["-O1", "-g", "-fsanitize=thread", "-DGST_AI_SHIM_RUNNER", "-DGST_AI_SHIM_THREADS"])
            }
        }
        let cxx = compiler();
        let version = Command::new(&cxx).arg("--version").output().map_err(|e| {
            shim_error(format!("no C++ compiler `{cxx}` ({e}): run scripts/bootstrap.sh (it installs g++)"))
        })?;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (HEADER, LAUNCHER, &sources, &flags, &version.stdout).hash(&mut h);
        let out = dir.join(format!("shim-{:?}-{:016x}", sanitizer, h.finish()).to_lowercase());
        let product = out.join(if sanitizer == Sanitizer::None { "libshim.so" } else { "runner" });
        if !product.is_file() {
            std::fs::create_dir_all(&out).map_err(|e| shim_error(format!("{}: {e}", out.display())))?;
            let write = |name: &str, text: &str| {
                std::fs::write(out.join(name), text)
                    .map_err(|e| shim_error(format!("{}: {e}", out.join(name).display())))
            };
            write("cuda_shim.h", HEADER)?;
            write("launcher.cpp", LAUNCHER)?;
            let mut units = vec![out.join("launcher.cpp")];
            for (name, source) in &sources {
                write(&format!("{name}.cpp"), &wrapper(name, source))?;
                units.push(out.join(format!("{name}.cpp")));
            }
            // Built under a temporary name and renamed, so a concurrent or interrupted build never
            // leaves a half-written product behind.
            let partial = out.join(format!("partial-{}", std::process::id()));
            let result = Command::new(&cxx)
                .args(&flags)
                .arg("-I")
                .arg(&out)
                .args(&units)
                .arg("-o")
                .arg(&partial)
                .output()
                .map_err(|e| shim_error(format!("{cxx}: {e}")))?;
            if !result.status.success() {
                return Err(shim_error(format!(
                    "{cxx} {} failed:\n{}",
                    flags.join(" "),
                    String::from_utf8_lossy(&result.stderr)
                )));
            }
            std::fs::rename(&partial, &product).map_err(|e| shim_error(format!("{}: {e}", product.display())))?;
        }
        let exec = if sanitizer == Sanitizer::None {
            // SAFETY: loading runs the library's initialisers: the shim's static registrations
            // of its kernels (push into a vector), nothing else. It is the library just built
            // from our own sources.
            let lib = unsafe { libloading::Library::new(&product) }
                .map_err(|e| shim_error(format!("{}: {e}", product.display())))?;
            // SAFETY: `gst_ai_shim_launch` in launcher.cpp has exactly the C signature `LaunchFn`.
            let launch = *unsafe { lib.get::<LaunchFn>(b"gst_ai_shim_launch\0") }.map_err(shim_error)?;
            Exec::Library { _lib: lib, launch }
        } else {
            Exec::Runner { exe: product, dir: out }
        };
        Ok(Self { exec, sanitizer, timeout: default_timeout() })
    }

    /// The same shim with `timeout` for each launch (see the module's documentation).
    pub fn with_timeout(self, timeout: Duration) -> Self {
        Self { timeout, ..self }
    }

    pub fn sanitizer(&self) -> Sanitizer {
        self.sanitizer
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn run_process(&self, exe: &Path, dir: &Path, call: &Call<'_, ShimBuffer>) -> Result<(), KernelError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let id = format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let (request, response) = (dir.join(format!("req-{id}")), dir.join(format!("resp-{id}")));
        let mut bytes = Vec::new();
        bytes.extend((call.kernel.len() as u32).to_le_bytes());
        bytes.extend(call.kernel.as_bytes());
        for v in call.grid.iter().chain(&call.block) {
            bytes.extend(v.to_le_bytes());
        }
        bytes.extend((call.args.len() as u32).to_le_bytes());
        for arg in &call.args {
            let (kind, data) = match arg {
                Arg::Value(v) => (0u8, v.clone()),
                Arg::Buffer(b) => (1u8, b.0.borrow().clone()),
            };
            bytes.push(kind);
            bytes.extend((data.len() as u64).to_le_bytes());
            bytes.extend(data);
        }
        std::fs::write(&request, &bytes).map_err(|e| shim_error(format!("{}: {e}", request.display())))?;
        // The runner's reports go to a file, so a long one never blocks it on a full pipe while
        // this side waits.
        let errors = dir.join(format!("err-{id}"));
        let run = std::fs::File::create(&errors).and_then(|file| {
            Command::new(exe)
                .arg(&request)
                .arg(&response)
                // halt_on_error: the first report ends the launch, with a failure.
                .env("ASAN_OPTIONS", "halt_on_error=1:detect_leaks=0:abort_on_error=0")
                .env("TSAN_OPTIONS", "halt_on_error=1:exitcode=66:report_signal_unsafe=0")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(file)
                .spawn()
        });
        let finished = run.and_then(|mut child| {
            let deadline = Instant::now() + self.timeout;
            let mut pause = Duration::from_micros(200);
            loop {
                if let Some(status) = child.try_wait()? {
                    return Ok(Some(status));
                }
                if Instant::now() >= deadline {
                    // Killed and reaped: no runner outlives the launch.
                    child.kill()?;
                    child.wait()?;
                    return Ok(None);
                }
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
        });
        let report = std::fs::read(&errors).unwrap_or_default();
        for path in [&request, &errors] {
            let _ = std::fs::remove_file(path);
        }
        let finished = finished.map_err(|e| shim_error(format!("{}: {e}", exe.display())))?;
        let report = String::from_utf8_lossy(&report);
        let failure = match finished {
            None => Some(format!(
                "did not finish within {:?} (a hang: an endless loop, or a __syncthreads some thread never \
                 reaches); the runner was killed",
                self.timeout
            )),
            Some(status) if !status.success() => Some(format!("failed ({status})")),
            Some(_) => None,
        };
        if let Some(why) = failure {
            let _ = std::fs::remove_file(&response);
            return Err(shim_error(format!("{} under {:?} sanitizer {why}:\n{report}", call.kernel, self.sanitizer)));
        }
        let back = std::fs::read(&response).map_err(|e| shim_error(format!("{}: {e}", response.display())));
        let _ = std::fs::remove_file(&response);
        let back = back?;
        let mut at = 0;
        for arg in &call.args {
            if let Arg::Buffer(b) = arg {
                let mut b = b.0.borrow_mut();
                let n = b.len();
                let part = back.get(at..at + n).ok_or_else(|| shim_error("short response from the runner"))?;
                b.copy_from_slice(part);
                at += n;
            }
        }
        Ok(())
    }
}

impl Device for Shim {
    type Buffer = ShimBuffer;

    fn upload(&self, bytes: &[u8]) -> Result<Self::Buffer, KernelError> {
        Ok(ShimBuffer(RefCell::new(bytes.to_vec())))
    }

    fn zeros(&self, len: usize) -> Result<Self::Buffer, KernelError> {
        Ok(ShimBuffer(RefCell::new(vec![0; len])))
    }

    fn download(&self, buffer: &Self::Buffer, out: &mut [u8]) -> Result<(), KernelError> {
        let b = buffer.0.borrow();
        let from = b.get(..out.len()).ok_or_else(|| shim_error("download larger than the buffer"))?;
        out.copy_from_slice(from);
        Ok(())
    }

    fn copy(&self, src: &Self::Buffer, dst: &mut Self::Buffer) -> Result<(), KernelError> {
        let (src, mut dst) = (src.0.borrow(), dst.0.borrow_mut());
        let n = src.len();
        dst.get_mut(..n).ok_or_else(|| shim_error("copy into a smaller buffer"))?.copy_from_slice(&src);
        Ok(())
    }

    fn synchronize(&self) -> Result<(), KernelError> {
        Ok(())
    }

    fn len(&self, buffer: &Self::Buffer) -> usize {
        buffer.0.borrow().len()
    }

    unsafe fn launch(&self, call: &Call<'_, Self::Buffer>) -> Result<(), KernelError> {
        match &self.exec {
            Exec::Runner { exe, dir } => self.run_process(exe, dir, call),
            Exec::Library { launch, .. } => {
                // Each buffer borrowed mutably for the launch: one passed twice is refused.
                let mut guards = Vec::new();
                for arg in &call.args {
                    if let Arg::Buffer(b) = arg {
                        guards.push(
                            b.0.try_borrow_mut()
                                .map_err(|_| shim_error(format!("{}: the same buffer passed twice", call.kernel)))?,
                        );
                    }
                }
                let mut pointers: Vec<*mut c_void> = guards.iter_mut().map(|g| g.as_mut_ptr().cast()).collect();
                let mut args: Vec<*mut c_void> = Vec::with_capacity(call.args.len());
                let mut sizes: Vec<std::ffi::c_ulong> = Vec::with_capacity(call.args.len());
                let mut next = pointers.iter_mut();
                for arg in &call.args {
                    match arg {
                        Arg::Value(v) => {
                            args.push(v.as_ptr().cast_mut().cast());
                            sizes.push(v.len() as std::ffi::c_ulong);
                        }
                        Arg::Buffer(_) => {
                            let p = next.next().expect("one pointer per buffer");
                            args.push((p as *mut *mut c_void).cast());
                            sizes.push(std::mem::size_of::<*mut c_void>() as std::ffi::c_ulong);
                        }
                    }
                }
                let name = CString::new(call.kernel).map_err(shim_error)?;
                let mut err = vec![0 as c_char; 1024];
                let _watch = watchdog::watch(call.kernel, self.timeout);
                // SAFETY: `launch` is `gst_ai_shim_launch`; every pointer is valid for the call:
                // the name, grid and block arrays, `args` (one pointer per argument, to the
                // value's bytes or to a buffer's address, which stays valid while its guard
                // lives), `sizes` of the same length, and `err` with its length. The launcher
                // reads each argument only after checking its size against the kernel's, and
                // the caller's contract (`Device::launch`) keeps the kernel's accesses inside
                // the buffers; the buffers are borrowed exclusively here.
                let rc = unsafe {
                    launch(
                        name.as_ptr(),
                        call.grid.as_ptr(),
                        call.block.as_ptr(),
                        args.as_mut_ptr(),
                        sizes.as_ptr(),
                        args.len() as u32,
                        err.as_mut_ptr(),
                        err.len() as std::ffi::c_ulong,
                    )
                };
                drop(guards);
                if rc != 0 {
                    // SAFETY: the launcher wrote a NUL-terminated message within `err`'s length
                    // (snprintf), and `err` starts zeroed.
                    let text = unsafe { std::ffi::CStr::from_ptr(err.as_ptr()) }.to_string_lossy().into_owned();
                    return Err(shim_error(text));
                }
                Ok(())
            }
        }
    }
}
