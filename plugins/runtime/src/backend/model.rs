//! Loaded models and the process-wide model cache. One [`Model`] exists per (model, device,
//! precision): every element instance that names the same model file on the same device shares
//! it, and it is freed when the last one lets go. A model's inputs and outputs are read from the
//! graph once, here, for the contract matchers.
//!
//! A model holds a small pool of ONNX Runtime sessions rather than one: ort's `Session::run`
//! takes `&mut self` (some ONNX Runtime internals are not thread-safe), so one session would make
//! every element sharing the model wait for the others. A run takes a free session from the pool,
//! or opens another one (up to [`max_sessions`]) when all are busy, and puts it back afterwards;
//! the pool lock is held only to take or return a session, never across a run. A run can be
//! stopped from another thread through a [`Cancel`] (ONNX Runtime's run-options terminate flag).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, LazyLock, Mutex, MutexGuard, Weak};
use std::time::SystemTime;

use half::f16;
use ort::session::{Session, builder::GraphOptimizationLevel};
use ort::value::{TensorElementType, TensorRef, ValueType};

pub use crate::backend::cancel::Cancel;
use crate::backend::device::{Device, Precision};
use crate::backend::env::environment;
use crate::backend::manifest::Manifest;
use crate::backend::remote::{RemoteModel, RemoteSpec};
pub use crate::backend::source::ModelSource;
use crate::error::{Error, Result};

/// Element type of a model's tensor, as far as image models care.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ElemType {
    F32,
    F16,
    I64,
    I32,
    Other,
}

impl ElemType {
    fn from_ort(t: TensorElementType) -> Self {
        match t {
            TensorElementType::Float32 => Self::F32,
            TensorElementType::Float16 => Self::F16,
            TensorElementType::Int64 => Self::I64,
            TensorElementType::Int32 => Self::I32,
            _ => Self::Other,
        }
    }
}

/// One input or output of the graph: its name, element type (None when not a tensor) and shape
/// with -1 for dynamic dimensions.
#[derive(Clone, Debug)]
pub struct TensorInfo {
    pub name: String,
    pub elem: Option<ElemType>,
    pub elem_name: String,
    pub shape: Vec<i64>,
}

impl TensorInfo {
    pub fn shape_string(&self) -> String {
        let dims: Vec<String> = self.shape.iter().map(|&d| if d < 0 { "?".into() } else { d.to_string() }).collect();
        format!("[{}]", dims.join(", "))
    }
}

/// A loaded model: the session and what the graph says about itself.
pub struct Model {
    pub name: String,
    pub source: ModelSource,
    pub device: Device,
    pub precision: Precision,
    pub inputs: Vec<TensorInfo>,
    pub outputs: Vec<TensorInfo>,
    pub manifest: Manifest,
    exec: Exec,
}

/// Where runs go: ONNX Runtime sessions here, or the inference server.
enum Exec {
    Local(Pool),
    Remote(RemoteModel),
}

/// The sessions of one model: free ones wait in `free`; `opened` counts all of them.
struct Pool {
    free: Mutex<Vec<Session>>,
    returned: Condvar,
    opened: AtomicUsize,
    max: usize,
}

/// The most sessions one model opens for runs that overlap: `GST_AI_SESSIONS_PER_MODEL`, else 4.
/// Each one holds its own copy of the weights, so large models may want 1.
pub fn max_sessions() -> usize {
    std::env::var("GST_AI_SESSIONS_PER_MODEL").ok().and_then(|v| v.trim().parse().ok()).filter(|&n| n > 0).unwrap_or(4)
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum SourceKey {
    Builtin(&'static str),
    File(PathBuf, Option<SystemTime>),
    Remote(RemoteSpec),
}

type CacheKey = (SourceKey, Device, Precision);

static CACHE: LazyLock<Mutex<HashMap<CacheKey, Weak<Model>>>> = LazyLock::new(Default::default);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves the data usable for our purposes.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Loads a model, or returns the already loaded one for the same file, device and precision.
/// A file that changed on disk since it was loaded is loaded again.
pub fn load(source: &ModelSource, device: Device, precision: Precision) -> Result<Arc<Model>> {
    let key_source = match source {
        ModelSource::Builtin { name, .. } => SourceKey::Builtin(name),
        ModelSource::File(path) => {
            if path.is_dir() {
                return Err(Error::ModelLoad {
                    model: path.display().to_string(),
                    why: "it is a directory, not a model file: name the .onnx file inside it".into(),
                });
            }
            if !path.is_file() {
                return Err(Error::ModelNotFound { path: path.clone() });
            }
            let canonical = path.canonicalize().unwrap_or_else(|_| path.clone());
            let mtime = std::fs::metadata(path).and_then(|m| m.modified()).ok();
            SourceKey::File(canonical, mtime)
        }
        ModelSource::Remote(spec) => SourceKey::Remote(spec.clone()),
    };
    let key = (key_source, device, precision);
    // Held while loading, so two elements starting together load the model once.
    let mut cache = lock(&CACHE);
    if let Some(model) = cache.get(&key).and_then(Weak::upgrade) {
        return Ok(model);
    }
    cache.retain(|_, w| w.strong_count() > 0);
    if matches!(source, ModelSource::Remote(_)) {
        // A server may take remote-timeout times its retries to answer, or never: other
        // elements' loads (local files included) do not wait for it. Two elements connecting
        // together may both connect; the first to finish is kept.
        drop(cache);
        let model = Arc::new(Model::open(source, device, precision)?);
        let mut cache = lock(&CACHE);
        if let Some(first) = cache.get(&key).and_then(Weak::upgrade) {
            return Ok(first);
        }
        cache.insert(key, Arc::downgrade(&model));
        return Ok(model);
    }
    let model = Arc::new(Model::open(source, device, precision)?);
    cache.insert(key, Arc::downgrade(&model));
    Ok(model)
}

fn tensor_infos(outlets: &[ort::value::Outlet]) -> Vec<TensorInfo> {
    outlets
        .iter()
        .map(|o| match o.dtype() {
            ValueType::Tensor { ty, shape, .. } => TensorInfo {
                name: o.name().to_string(),
                elem: Some(ElemType::from_ort(*ty)),
                elem_name: format!("{ty:?}").to_lowercase(),
                shape: shape.iter().copied().collect(),
            },
            other => TensorInfo {
                name: o.name().to_string(),
                elem: None,
                elem_name: format!("{other:?}"),
                shape: Vec::new(),
            },
        })
        .collect()
}

impl Model {
    fn open(source: &ModelSource, device: Device, precision: Precision) -> Result<Self> {
        let name = source.display_name();
        if let ModelSource::Remote(spec) = source {
            // The server decides where the model runs; `device` stays as the element resolved it.
            let (remote, described) = RemoteModel::connect(spec)?;
            let manifest = match described.manifest {
                Some(text) => Manifest::parse(&text, std::path::Path::new(&format!("{name} (gst_ai_manifest)")))?,
                None => Manifest::default(),
            };
            return Ok(Self {
                source: source.clone(),
                inputs: described.inputs,
                outputs: described.outputs,
                name,
                device,
                precision,
                manifest,
                exec: Exec::Remote(remote),
            });
        }
        if device != Device::Cpu {
            return Err(Error::DeviceUnavailable {
                device: device.to_string(),
                why: crate::backend::device::CUDA_UNAVAILABLE.to_string(),
            });
        }
        let session = Self::open_session(source, &name)?;
        let manifest = match source {
            ModelSource::File(path) => Manifest::for_model(path)?,
            ModelSource::Builtin { manifest: "", .. } => Manifest::default(),
            ModelSource::Builtin { name, manifest, .. } => {
                Manifest::parse(manifest, std::path::Path::new(&format!("builtin:{name}")))?
            }
            ModelSource::Remote(_) => unreachable!("served models return above"),
        };
        Ok(Self {
            source: source.clone(),
            inputs: tensor_infos(session.inputs()),
            outputs: tensor_infos(session.outputs()),
            name,
            device,
            precision,
            manifest,
            exec: Exec::Local(Pool {
                free: Mutex::new(vec![session]),
                returned: Condvar::new(),
                opened: AtomicUsize::new(1),
                max: max_sessions(),
            }),
        })
    }

    fn open_session(source: &ModelSource, name: &str) -> Result<Session> {
        let env = environment()?;
        let load_err = |e: &dyn std::fmt::Display| Error::ModelLoad { model: name.to_string(), why: e.to_string() };
        let mut builder = Session::builder(&env)
            .map_err(|e| load_err(&e))?
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(|e| load_err(&e))?
            // Idle workers that spin steal the cores the rest of the pipeline (our own pack and
            // unpack, encoders) needs between inference calls.
            .with_intra_op_spinning(false)
            .map_err(|e| load_err(&e))?;
        match source {
            ModelSource::Builtin { bytes, .. } => builder.commit_from_memory(bytes),
            ModelSource::File(path) => builder.commit_from_file(path),
            ModelSource::Remote(_) => return Err(load_err(&"a served model has no local session")),
        }
        .map_err(|e| load_err(&e))
    }

    /// Runs `f` on a session of the pool: a free one, else a new one while fewer than the pool's
    /// maximum are open, else the next one returned. The pool lock is not held while `f` runs.
    fn with_session<R>(&self, f: impl FnOnce(&mut Session) -> Result<R>) -> Result<R> {
        let Exec::Local(pool) = &self.exec else {
            return Err(Error::Inference {
                model: self.name.clone(),
                why: "a served model has no local session".into(),
            });
        };
        let mut session = {
            let mut free = lock(&pool.free);
            loop {
                if let Some(s) = free.pop() {
                    break s;
                }
                if pool.opened.load(Ordering::SeqCst) < pool.max {
                    pool.opened.fetch_add(1, Ordering::SeqCst);
                    drop(free);
                    match Self::open_session(&self.source, &self.name) {
                        Ok(s) => break s,
                        Err(e) => {
                            pool.opened.fetch_sub(1, Ordering::SeqCst);
                            return Err(e);
                        }
                    }
                }
                free = pool.returned.wait(free).unwrap_or_else(|e| e.into_inner());
            }
        };
        let result = f(&mut session);
        lock(&pool.free).push(session);
        pool.returned.notify_one();
        result
    }

    /// Sessions opened so far (for tests and statistics): 1 after loading, more once runs
    /// overlap; for a served model, the connections opened to the server.
    pub fn sessions_opened(&self) -> usize {
        match &self.exec {
            Exec::Local(pool) => pool.opened.load(Ordering::SeqCst),
            Exec::Remote(remote) => remote.connections_opened(),
        }
    }

    /// Whether the model runs on an inference server.
    pub fn is_remote(&self) -> bool {
        matches!(self.exec, Exec::Remote(_))
    }

    /// The inputs as ONNX Runtime values (views of the callers' buffers).
    fn input_values<'v>(
        &self,
        inputs: &'v [ModelInput<'v>],
    ) -> Result<Vec<(std::borrow::Cow<'v, str>, ort::session::SessionInputValue<'v>)>> {
        let fail = |e: &dyn std::fmt::Display| Error::Inference { model: self.name.clone(), why: e.to_string() };
        let mut values = Vec::with_capacity(inputs.len());
        for input in inputs {
            let value = match input.data {
                InputData::F32(d) => TensorRef::from_array_view((input.shape, d)).map_err(|e| fail(&e))?.into(),
                InputData::F16(d) => TensorRef::from_array_view((input.shape, d)).map_err(|e| fail(&e))?.into(),
                InputData::I64(d) => TensorRef::from_array_view((input.shape, d)).map_err(|e| fail(&e))?.into(),
                InputData::I32(d) => TensorRef::from_array_view((input.shape, d)).map_err(|e| fail(&e))?.into(),
            };
            values.push((input.name.into(), value));
        }
        Ok(values)
    }

    /// Runs a model with one image input and hands its first output, as f32, to `consume`
    /// together with its shape. The input is `data` viewed with `shape` (no copy); f16 outputs
    /// are widened to f32 first.
    pub fn run_single<R>(
        &self,
        input_name: &str,
        shape: [usize; 4],
        data: InputData<'_>,
        consume: impl FnOnce(&[usize], &[f32]) -> Result<R>,
    ) -> Result<R> {
        self.run(&[ModelInput { name: input_name, shape: &shape, data }], consume)
    }

    /// Runs the model on named inputs (views, no copies) and hands its first output, as f32,
    /// to `consume` with its shape.
    pub fn run<R>(&self, inputs: &[ModelInput<'_>], consume: impl FnOnce(&[usize], &[f32]) -> Result<R>) -> Result<R> {
        self.run_with(inputs, None, consume)
    }

    /// [`run`](Self::run) that `cancel` can stop while it runs ([`Error::Cancelled`]).
    pub fn run_with<R>(
        &self,
        inputs: &[ModelInput<'_>],
        cancel: Option<&Cancel>,
        consume: impl FnOnce(&[usize], &[f32]) -> Result<R>,
    ) -> Result<R> {
        if let Exec::Remote(remote) = &self.exec {
            let first = self.outputs.first().into_iter().collect::<Vec<_>>();
            let (shape, values) = remote.infer(inputs, &first, cancel)?.swap_remove(0);
            return consume(&shape, &values);
        }
        let values = self.input_values(inputs)?;
        self.with_session(|session| {
            let outputs = self.session_run(session, values, cancel)?;
            Self::first_output(&self.name, &outputs, consume)
        })
    }

    fn session_run<'s>(
        &self,
        session: &'s mut Session,
        values: Vec<(std::borrow::Cow<'_, str>, ort::session::SessionInputValue<'_>)>,
        cancel: Option<&'s Cancel>,
    ) -> Result<ort::session::SessionOutputs<'s>> {
        if cancel.is_some_and(Cancel::is_cancelled) {
            return Err(Error::Cancelled);
        }
        let result = match cancel {
            Some(c) => session.run_with_options(values, c.options()),
            None => session.run(values),
        };
        result.map_err(|e| {
            if cancel.is_some_and(Cancel::is_cancelled) {
                Error::Cancelled
            } else {
                Error::Inference { model: self.name.clone(), why: e.to_string() }
            }
        })
    }

    fn first_output<R>(
        name: &str,
        outputs: &ort::session::SessionOutputs<'_>,
        consume: impl FnOnce(&[usize], &[f32]) -> Result<R>,
    ) -> Result<R> {
        let fail = |e: &dyn std::fmt::Display| Error::Inference { model: name.to_string(), why: e.to_string() };
        let out = &outputs[0];
        if let Ok((s, v)) = out.try_extract_tensor::<f32>() {
            let dims: Vec<usize> = s.iter().map(|&d| d.max(0) as usize).collect();
            return consume(&dims, v);
        }
        match out.try_extract_tensor::<f16>() {
            Ok((s, v)) => {
                let dims: Vec<usize> = s.iter().map(|&d| d.max(0) as usize).collect();
                let wide: Vec<f32> = v.iter().map(|x| x.to_f32()).collect();
                consume(&dims, &wide)
            }
            Err(e) => Err(fail(&format!("output 0 is not a float32 or float16 tensor ({e})"))),
        }
    }
}

impl Model {
    /// Runs the model on named inputs and returns every output as (shape, f32 values): for
    /// models with several small outputs (detectors). `cancel` can stop it while it runs.
    pub fn run_all(&self, inputs: &[ModelInput<'_>], cancel: Option<&Cancel>) -> Result<Vec<(Vec<usize>, Vec<f32>)>> {
        if let Exec::Remote(remote) = &self.exec {
            return remote.infer(inputs, &self.outputs.iter().collect::<Vec<_>>(), cancel);
        }
        let values = self.input_values(inputs)?;
        self.with_session(|session| {
            let outputs = self.session_run(session, values, cancel)?;
            self.all_outputs(&outputs)
        })
    }

    fn all_outputs(&self, outputs: &ort::session::SessionOutputs<'_>) -> Result<Vec<(Vec<usize>, Vec<f32>)>> {
        let fail = |e: &dyn std::fmt::Display| Error::Inference { model: self.name.clone(), why: e.to_string() };
        let mut all = Vec::with_capacity(outputs.len());
        for (i, (_, out)) in outputs.iter().enumerate() {
            let dims = |s: &[i64]| s.iter().map(|&d| d.max(0) as usize).collect::<Vec<usize>>();
            if let Ok((s, v)) = out.try_extract_tensor::<f32>() {
                all.push((dims(s), v.to_vec()));
            } else if let Ok((s, v)) = out.try_extract_tensor::<f16>() {
                all.push((dims(s), v.iter().map(|x| x.to_f32()).collect()));
            } else {
                return Err(fail(&format!("output {i} is not a float32 or float16 tensor")));
            }
        }
        Ok(all)
    }
}

/// One named input of [`Model::run`].
pub struct ModelInput<'a> {
    pub name: &'a str,
    pub shape: &'a [usize],
    pub data: InputData<'a>,
}

/// The input buffer of [`Model::run_single`].
#[derive(Clone, Copy)]
pub enum InputData<'a> {
    F32(&'a [f32]),
    F16(&'a [f16]),
    /// Token ids and timesteps.
    I64(&'a [i64]),
    I32(&'a [i32]),
}

impl<'a> InputData<'a> {
    /// `data` as the element type the model's input wants: itself for float32, or converted into
    /// `half` (kept by the caller between frames) for float16.
    pub fn for_elem(elem: ElemType, data: &'a [f32], half: &'a mut Vec<f16>) -> Self {
        match elem {
            ElemType::F16 => {
                use half::slice::HalfFloatSliceExt;
                half.resize(data.len(), f16::ZERO);
                half.convert_from_f32_slice(data);
                InputData::F16(half)
            }
            _ => InputData::F32(data),
        }
    }
}
