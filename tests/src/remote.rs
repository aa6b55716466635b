//! A real NVIDIA Triton Inference Server for the remote-inference tests and benchmark: a model
//! repository generated from our ONNX files (each served by `tests/remote/model.py`, ONNX
//! Runtime inside Triton's Python backend, with a `config.pbtxt` declaring the contract read
//! from the file itself), and the `tritonserver` of `.deps/tritonserver` (scripts/triton.sh)
//! started on loopback on a free port, waited for, killed and restarted at will.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use gst_ai_runtime::backend::model::{ElemType, TensorInfo};
use gst_ai_runtime::backend::remote::http::Connection;
use gst_ai_runtime::{Device, ModelSource, Precision};

/// The Triton install and the served models' Python of scripts/triton.sh.
pub fn triton_dir() -> PathBuf {
    crate::root().join(".deps").join("tritonserver").join("pytriton").join("tritonserver")
}

fn venv() -> PathBuf {
    crate::root().join(".deps").join("triton-venv")
}

/// Fails with what to run when scripts/triton.sh has not installed the server.
pub fn require_triton() {
    let bin = triton_dir().join("bin").join("tritonserver");
    assert!(
        bin.is_file() && venv().join("bin").join("python").exists(),
        "{} or {} is missing: run scripts/bootstrap.sh (scripts/triton.sh installs Triton from the nvidia-pytriton wheel)",
        bin.display(),
        venv().display()
    );
}

/// How one model is served.
#[derive(Clone, Debug, Default)]
pub struct Served {
    /// The name it is served under.
    pub name: String,
    pub onnx: PathBuf,
    /// Dynamic batching with this largest batch (0: off, the batch dimension is the model's).
    pub max_batch: u32,
    /// Model instances (ONNX Runtime sessions) the server runs side by side.
    pub instances: u32,
    /// ONNX Runtime threads per instance (0: its default).
    pub threads: u32,
    /// A gst-ai manifest (JSON) handed to clients as the `gst_ai_manifest` parameter.
    pub manifest: Option<String>,
    /// Answer one row short (a broken server).
    pub wrong_shape: bool,
    /// Refuse to load with this message (a model that is never ready).
    pub fail_init: Option<String>,
}

impl Served {
    pub fn new(name: &str, onnx: impl Into<PathBuf>) -> Self {
        Self { name: name.into(), onnx: onnx.into(), instances: 1, ..Default::default() }
    }
}

fn triton_type(t: &TensorInfo) -> &'static str {
    match t.elem {
        Some(ElemType::F32) => "TYPE_FP32",
        Some(ElemType::F16) => "TYPE_FP16",
        Some(ElemType::I64) => "TYPE_INT64",
        Some(ElemType::I32) => "TYPE_INT32",
        _ => "TYPE_STRING",
    }
}

fn pbtxt_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Writes a Triton model repository serving `models` into `dir` (replaced).
pub fn write_repository(dir: &Path, models: &[Served]) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(dir);
    let site = std::fs::read_dir(venv().join("lib"))
        .map_err(|e| format!("{}: {e}", venv().display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("site-packages"))
        .find(|p| p.is_dir())
        .ok_or("no site-packages in the triton venv")?;
    for m in models {
        let version = dir.join(&m.name).join("1");
        std::fs::create_dir_all(&version).map_err(|e| e.to_string())?;
        std::fs::copy(&m.onnx, version.join("model.onnx")).map_err(|e| format!("{}: {e}", m.onnx.display()))?;
        std::fs::write(version.join("model.py"), include_str!("../remote/model.py")).map_err(|e| e.to_string())?;
        // The contract is the file's own, read the way the plugin reads a local model.
        let model = gst_ai_runtime::load(&ModelSource::File(m.onnx.clone()), Device::Cpu, Precision::Auto)
            .map_err(|e| e.to_string())?;
        let tensors = |list: &[TensorInfo]| {
            list.iter()
                .map(|t| {
                    let dims = if m.max_batch > 0 { &t.shape[1..] } else { &t.shape[..] };
                    let dims: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
                    format!(
                        "  {{ name: {} data_type: {} dims: [ {} ] }}",
                        pbtxt_string(&t.name),
                        triton_type(t),
                        dims.join(", ")
                    )
                })
                .collect::<Vec<_>>()
                .join(",\n")
        };
        let mut config = format!(
            "name: {}\nbackend: \"python\"\nmax_batch_size: {}\ninput [\n{}\n]\noutput [\n{}\n]\n\
             instance_group [ {{ kind: KIND_CPU count: {} }} ]\n",
            pbtxt_string(&m.name),
            m.max_batch,
            tensors(&model.inputs),
            tensors(&model.outputs),
            m.instances.max(1)
        );
        if m.max_batch > 0 {
            config.push_str("dynamic_batching { max_queue_delay_microseconds: 2000 }\n");
        }
        let mut params = vec![("site_packages", site.display().to_string()), ("threads", m.threads.to_string())];
        if let Some(text) = &m.manifest {
            params.push(("gst_ai_manifest", text.clone()));
        }
        if m.wrong_shape {
            params.push(("wrong_shape", "1".into()));
        }
        if let Some(why) = &m.fail_init {
            params.push(("fail_init", why.clone()));
        }
        for (k, v) in params {
            config
                .push_str(&format!("parameters: {{ key: \"{k}\" value: {{ string_value: {} }} }}\n", pbtxt_string(&v)));
        }
        std::fs::write(dir.join(&m.name).join("config.pbtxt"), config).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// A port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// A fresh folder under the temporary folder.
pub fn scratch(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir =
        std::env::temp_dir().join(format!("gst-ai-{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst)));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    dir
}

/// A running tritonserver on 127.0.0.1:`port` serving `repo`; killed when dropped.
pub struct Server {
    pub port: u16,
    repo: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Server {
    /// Starts a server for `repo` on a free port and waits until it is ready.
    pub fn start(repo: &Path) -> Result<Self, String> {
        Self::start_on(repo, free_port())
    }

    pub fn start_on(repo: &Path, port: u16) -> Result<Self, String> {
        require_triton();
        let log = repo.with_extension(format!("{port}.log"));
        let mut s = Self { port, repo: repo.to_path_buf(), log, child: None };
        s.restart()?;
        Ok(s)
    }

    /// `kserve://127.0.0.1:PORT/name`.
    pub fn uri(&self, name: &str) -> String {
        format!("kserve://127.0.0.1:{}/{name}", self.port)
    }

    /// Starts the server again (after [`kill`](Self::kill)) on the same port and repository.
    pub fn restart(&mut self) -> Result<(), String> {
        self.kill();
        let dir = triton_dir();
        let path = format!("{}:{}", venv().join("bin").display(), std::env::var("PATH").unwrap_or_default());
        let log = std::fs::File::create(&self.log).map_err(|e| e.to_string())?;
        let child = Command::new(dir.join("bin").join("tritonserver"))
            .arg(format!("--model-repository={}", self.repo.display()))
            .arg(format!("--backend-directory={}", dir.join("backends").display()))
            .arg(format!("--http-port={}", self.port))
            .args(["--http-address=127.0.0.1", "--allow-grpc=false", "--allow-metrics=false", "--exit-timeout-secs=2"])
            // A model that fails to load stays listed as UNAVAILABLE instead of stopping the server.
            .arg("--exit-on-error=false")
            // Servers of tests running side by side must not share the backend's shared memory.
            .arg(format!("--backend-config=python,shm-region-prefix-name={}", self.shm_prefix()))
            // The embedded Python finds its environment through PATH (the venv's python first).
            .env("PATH", path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start tritonserver: {e}"))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                return Err(format!("tritonserver exited ({status}): {}", self.log_tail()));
            }
            if self.ready() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("tritonserver not ready after 90 s: {}", self.log_tail()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Whether the server is up: its liveness endpoint answers 200 (readiness would say no
    /// while any model failed to load, which the fault tests serve on purpose).
    pub fn ready(&self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(2);
        Connection::open("127.0.0.1", self.port, deadline)
            .and_then(|mut c| c.request("GET", "/v2/health/live", &[], &[], deadline))
            .is_ok_and(|r| r.status == 200)
    }

    /// Kills the server at once (SIGKILL), as a crash would, and its Python backend stubs (a
    /// stub whose server died may wait forever) and their shared memory.
    pub fn kill(&mut self) {
        self.freeze(false);
        if let Some(mut c) = self.child.take() {
            let stubs = children(c.id());
            let _ = c.kill();
            let _ = c.wait();
            for pid in stubs {
                let _ = Command::new("kill").arg("-KILL").arg(pid.to_string()).status();
            }
            let prefix = self.shm_prefix();
            for e in std::fs::read_dir("/dev/shm").into_iter().flatten().flatten() {
                if e.file_name().to_string_lossy().starts_with(&prefix) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }

    fn shm_prefix(&self) -> String {
        format!("gstai{}_{}_", std::process::id(), self.port)
    }

    /// Freezes (SIGSTOP) or thaws (SIGCONT) the server: connections are still accepted by the
    /// kernel but nothing answers, as with a hung server.
    pub fn freeze(&self, frozen: bool) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill").arg(if frozen { "-STOP" } else { "-CONT" }).arg(c.id().to_string()).status();
        }
    }

    /// The last lines of the server's log.
    pub fn log_tail(&self) -> String {
        let mut text = String::new();
        let _ = std::fs::File::open(&self.log).and_then(|mut f| f.read_to_string(&mut text));
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('|') && !l.starts_with('+')).collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

/// The processes whose parent is `pid` (from /proc).
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let child: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'.
            let ppid: u32 = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()?;
            (ppid == pid).then_some(child)
        })
        .collect()
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}
