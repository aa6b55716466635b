//! A served model: its contract read from the server, and inference requests with the
//! binary-data extension over a small pool of kept-alive connections (one per run in flight,
//! so elements sharing the model do not wait for each other's round trips).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use half::f16;
use serde_json::{Value, json};

use super::RemoteSpec;
use super::http::{Connection, HttpError, Response};
use crate::backend::model::{Cancel, ElemType, InputData, ModelInput, TensorInfo};
use crate::error::{Error, Result};

/// Outputs as (shape, values widened to f32), as [`crate::Model::run_all`] returns them.
pub type Outputs = Vec<(Vec<usize>, Vec<f32>)>;

/// A model on an inference server.
pub struct RemoteModel {
    pub spec: RemoteSpec,
    free: Mutex<Vec<Connection>>,
    opened: AtomicUsize,
}

/// What the server says about a model at load time.
pub struct Described {
    pub inputs: Vec<TensorInfo>,
    pub outputs: Vec<TensorInfo>,
    /// The `gst_ai_manifest` parameter of the model's configuration (Triton), if any.
    pub manifest: Option<String>,
}

/// A failed call: the transport gave up after the retries, or the caller cancelled.
enum CallError {
    Transport { tries: u32, why: String },
    Cancelled,
}

fn server_message(r: &Response) -> String {
    serde_json::from_slice::<Value>(&r.body)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(&r.body[..r.body.len().min(300)]).trim().to_string())
}

fn datatype(elem: ElemType) -> &'static str {
    match elem {
        ElemType::F32 => "FP32",
        ElemType::F16 => "FP16",
        ElemType::I64 => "INT64",
        ElemType::I32 => "INT32",
        ElemType::Other => "BYTES",
    }
}

fn tensor_info(v: &Value) -> std::result::Result<TensorInfo, String> {
    let name = v.get("name").and_then(Value::as_str).ok_or("a tensor without a name")?.to_string();
    let dt = v.get("datatype").and_then(Value::as_str).ok_or_else(|| format!("tensor '{name}' has no datatype"))?;
    let (elem, elem_name) = match dt {
        "FP32" => (ElemType::F32, "float32".to_string()),
        "FP16" => (ElemType::F16, "float16".to_string()),
        "INT64" => (ElemType::I64, "int64".to_string()),
        "INT32" => (ElemType::I32, "int32".to_string()),
        other => (ElemType::Other, other.to_ascii_lowercase()),
    };
    let shape = v
        .get("shape")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("tensor '{name}' has no shape"))?
        .iter()
        .map(|d| d.as_i64().ok_or_else(|| format!("tensor '{name}' has a dimension that is not a number: {d}")))
        .collect::<std::result::Result<Vec<i64>, String>>()?;
    Ok(TensorInfo { name, elem: Some(elem), elem_name, shape })
}

fn tensors(meta: &Value, key: &str) -> std::result::Result<Vec<TensorInfo>, String> {
    meta.get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| format!("the metadata has no '{key}' list"))?
        .iter()
        .map(tensor_info)
        .collect()
}

impl RemoteModel {
    /// Checks that the server has the model ready and reads its contract.
    pub fn connect(spec: &RemoteSpec) -> Result<(Self, Described)> {
        let model = Self { spec: spec.clone(), free: Mutex::new(Vec::new()), opened: AtomicUsize::new(0) };
        let fail = |why: String| Error::ModelLoad { model: spec.uri(), why };
        let path = spec.model_path();
        let ready = model.call("GET", &format!("{path}/ready"), &[], &[], None);
        match ready {
            Ok(r) if r.status == 200 => {}
            Ok(r) => return Err(fail(model.not_ready(&r))),
            Err(e) => return Err(fail(model.describe(e))),
        }
        let meta = match model.call("GET", &path, &[], &[], None) {
            Ok(r) if r.status == 200 => serde_json::from_slice::<Value>(&r.body)
                .map_err(|e| fail(format!("the server's model metadata is not JSON: {e}")))?,
            Ok(r) => return Err(fail(format!("the server refused its metadata: {}", server_message(&r)))),
            Err(e) => return Err(fail(model.describe(e))),
        };
        let bad_meta = |why: String| fail(format!("the server's model metadata is not KServe v2: {why}"));
        let inputs = tensors(&meta, "inputs").map_err(bad_meta)?;
        let outputs = tensors(&meta, "outputs").map_err(bad_meta)?;
        if outputs.is_empty() {
            return Err(fail("the server's model metadata lists no outputs".into()));
        }
        // Triton's configuration extension; other servers may not have it, which is no error.
        let manifest = model
            .call("GET", &format!("{path}/config"), &[], &[], None)
            .ok()
            .filter(|r| r.status == 200)
            .and_then(|r| serde_json::from_slice::<Value>(&r.body).ok())
            .and_then(|c| {
                c.pointer("/parameters/gst_ai_manifest/string_value").and_then(Value::as_str).map(String::from)
            });
        Ok((model, Described { inputs, outputs, manifest }))
    }

    /// Why a model is not ready, asking Triton's repository index (when the server has it) for
    /// the model's state and reason, or which models it serves when it does not know this one.
    fn not_ready(&self, ready: &Response) -> String {
        let said = match self.call("GET", &self.spec.model_path(), &[], &[], None) {
            Ok(r) if r.status != 200 => server_message(&r),
            _ => server_message(ready),
        };
        let index = self
            .call("POST", "/v2/repository/index", &[("Content-Type", "application/json".into())], &[b"{}"], None)
            .ok()
            .filter(|r| r.status == 200)
            .and_then(|r| serde_json::from_slice::<Value>(&r.body).ok())
            .and_then(|v| v.as_array().cloned());
        let Some(index) = index else {
            return format!("the model is not ready on the server (it says: {said})");
        };
        let entries: Vec<&Value> =
            index.iter().filter(|m| m.get("name").and_then(Value::as_str) == Some(&self.spec.model)).collect();
        if entries.is_empty() {
            let names: Vec<&str> = index.iter().filter_map(|m| m.get("name").and_then(Value::as_str)).collect();
            return format!(
                "the server has no model '{}' (it serves: {})",
                self.spec.model,
                if names.is_empty() { "nothing".into() } else { names.join(", ") }
            );
        }
        let states: Vec<String> = entries
            .iter()
            .map(|m| {
                let field = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                let (v, state, reason) = (field("version"), field("state"), field("reason"));
                format!(
                    "version {} is {}{}",
                    if v.is_empty() { "?" } else { &v },
                    state,
                    if reason.is_empty() { String::new() } else { format!(": {reason}") }
                )
            })
            .collect();
        format!("the model is not ready on the server: {}", states.join("; "))
    }

    fn describe(&self, e: CallError) -> String {
        match e {
            CallError::Transport { tries, why } => format!(
                "no answer from the inference server {} after {tries} {} ({why}); is it running, and is this its HTTP port?",
                self.spec.server(),
                if tries == 1 { "try" } else { "tries" }
            ),
            CallError::Cancelled => "cancelled".into(),
        }
    }

    /// Connections opened so far (statistics and tests).
    pub fn connections_opened(&self) -> usize {
        self.opened.load(Ordering::SeqCst)
    }

    /// One request with the deadline and retries of the model's options: transport failures
    /// and 502/503/504 are tried again on a fresh connection; other answers are returned.
    fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: &[&[u8]],
        cancel: Option<&Cancel>,
    ) -> std::result::Result<Response, CallError> {
        let opts = self.spec.options;
        let mut last;
        let mut attempt = 0u32;
        loop {
            if cancel.is_some_and(Cancel::is_cancelled) {
                return Err(CallError::Cancelled);
            }
            let deadline = Instant::now() + opts.timeout;
            let pooled = self.free.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let reused = pooled.is_some();
            let conn = match pooled {
                Some(c) => Ok(c),
                None => Connection::open(&self.spec.host, self.spec.port, deadline).inspect(|_| {
                    self.opened.fetch_add(1, Ordering::SeqCst);
                }),
            };
            match conn.and_then(|mut c| c.request(method, path, headers, body, deadline).map(|r| (c, r))) {
                Ok((_, r)) if matches!(r.status, 502..=504) => {
                    last = format!("HTTP {}: {}", r.status, server_message(&r));
                }
                Ok((c, r)) => {
                    self.free.lock().unwrap_or_else(|e| e.into_inner()).push(c);
                    return Ok(r);
                }
                Err(HttpError::Transport(why)) => {
                    // Kept-alive connections the server closed (idle, or restarted) say nothing
                    // about the server now: drop them all and go again at once, uncounted.
                    self.free.lock().unwrap_or_else(|e| e.into_inner()).clear();
                    if reused && !why.starts_with("timed out") {
                        continue;
                    }
                    last = why;
                }
            }
            attempt += 1;
            if attempt > opts.retries {
                return Err(CallError::Transport { tries: attempt, why: last });
            }
            // 50, 100, 200... ms, at most 1 s, in small steps so that a cancel is seen.
            let pause = Duration::from_millis(50u64 << (attempt - 1).min(5)).min(Duration::from_secs(1));
            let until = Instant::now() + pause;
            while Instant::now() < until {
                if cancel.is_some_and(Cancel::is_cancelled) {
                    return Err(CallError::Cancelled);
                }
                std::thread::sleep(Duration::from_millis(10).min(until.saturating_duration_since(Instant::now())));
            }
        }
    }

    /// Runs the model on `inputs` and returns the outputs named `outputs` (shape, values as
    /// f32), in that order. `declared` are the outputs the metadata lists, for checking shapes.
    pub fn infer(
        &self,
        inputs: &[ModelInput<'_>],
        outputs: &[&TensorInfo],
        cancel: Option<&Cancel>,
    ) -> Result<Outputs> {
        let fail = |why: String| Error::Inference { model: self.spec.uri(), why };
        let mut blobs: Vec<Vec<u8>> = Vec::with_capacity(inputs.len());
        let mut descs = Vec::with_capacity(inputs.len());
        for input in inputs {
            let (elem, bytes): (ElemType, Vec<u8>) = match input.data {
                InputData::F32(d) => (ElemType::F32, d.iter().flat_map(|v| v.to_le_bytes()).collect()),
                InputData::F16(d) => (ElemType::F16, d.iter().flat_map(|v| v.to_le_bytes()).collect()),
                InputData::I64(d) => (ElemType::I64, d.iter().flat_map(|v| v.to_le_bytes()).collect()),
                InputData::I32(d) => (ElemType::I32, d.iter().flat_map(|v| v.to_le_bytes()).collect()),
            };
            descs.push(json!({
                "name": input.name,
                "shape": input.shape,
                "datatype": datatype(elem),
                "parameters": {"binary_data_size": bytes.len()},
            }));
            blobs.push(bytes);
        }
        let wanted: Vec<Value> =
            outputs.iter().map(|o| json!({"name": o.name, "parameters": {"binary_data": true}})).collect();
        let header = serde_json::to_vec(&json!({"inputs": descs, "outputs": wanted}))
            .map_err(|e| fail(format!("cannot write the request: {e}")))?;
        let mut body: Vec<&[u8]> = vec![&header];
        body.extend(blobs.iter().map(Vec::as_slice));
        let headers = [
            ("Content-Type", "application/octet-stream".to_string()),
            ("Inference-Header-Content-Length", header.len().to_string()),
        ];
        let path = format!("{}/infer", self.spec.model_path());
        let r = match self.call("POST", &path, &headers, &body, cancel) {
            Ok(r) if r.status == 200 => r,
            Ok(r) => {
                return Err(fail(format!(
                    "the server refused the request (HTTP {}): {}",
                    r.status,
                    server_message(&r)
                )));
            }
            Err(CallError::Cancelled) => return Err(Error::Cancelled),
            Err(e) => return Err(fail(self.describe(e))),
        };
        self.decode(&r, outputs).map_err(fail)
    }

    /// Reads the binary outputs of an answer, checking each against the metadata's declaration.
    fn decode(&self, r: &Response, outputs: &[&TensorInfo]) -> std::result::Result<Outputs, String> {
        let json_len = r.inference_header_len.unwrap_or(r.body.len());
        let head = r.body.get(..json_len).ok_or("the answer is shorter than its Inference-Header-Content-Length")?;
        let head: Value = serde_json::from_slice(head).map_err(|e| format!("the answer's header is not JSON: {e}"))?;
        let listed = head.get("outputs").and_then(Value::as_array).ok_or("the answer lists no outputs")?;
        let mut offset = json_len;
        let mut by_name = Vec::with_capacity(listed.len());
        for o in listed {
            let info = tensor_info(o)?;
            let size = o.pointer("/parameters/binary_data_size").and_then(Value::as_u64).ok_or_else(|| {
                format!(
                    "output '{}' came back as JSON, not binary (the server lacks the binary-data extension)",
                    info.name
                )
            })? as usize;
            let bytes = offset
                .checked_add(size)
                .and_then(|end| r.body.get(offset..end))
                .ok_or_else(|| format!("output '{}' runs past the end of the answer", info.name))?;
            offset += size;
            by_name.push((info, bytes));
        }
        let mut result = Vec::with_capacity(outputs.len());
        for want in outputs {
            let (got, bytes) = by_name
                .iter()
                .find(|(i, _)| i.name == want.name)
                .ok_or_else(|| format!("the answer lacks output '{}'", want.name))?;
            let fits = got.shape.len() == want.shape.len()
                && got.shape.iter().zip(&want.shape).all(|(&g, &w)| g >= 0 && (w < 0 || g == w));
            if !fits {
                return Err(format!(
                    "the server answered output '{}' with shape {}, but its metadata declares {}",
                    got.name,
                    got.shape_string(),
                    want.shape_string()
                ));
            }
            // The shape comes from the network: a product that overflows is refused, never wrapped.
            let count = got
                .shape
                .iter()
                .try_fold(1usize, |n, &d| n.checked_mul(d as usize))
                .ok_or_else(|| format!("output '{}' has an impossible shape {}", got.name, got.shape_string()))?;
            let values: Vec<f32> = match got.elem {
                Some(ElemType::F32) => {
                    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
                }
                Some(ElemType::F16) => {
                    bytes.chunks_exact(2).map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32()).collect()
                }
                _ => {
                    return Err(format!("output '{}' is {}, not a float32 or float16 tensor", got.name, got.elem_name));
                }
            };
            let width = if got.elem == Some(ElemType::F16) { 2 } else { 4 };
            if values.len() != count || count.checked_mul(width) != Some(bytes.len()) {
                return Err(format!(
                    "output '{}' has {} bytes, but its shape {} needs {}",
                    got.name,
                    bytes.len(),
                    got.shape_string(),
                    count * width
                ));
            }
            result.push((got.shape.iter().map(|&d| d as usize).collect(), values));
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> RemoteModel {
        let spec = RemoteSpec::parse("kserve://127.0.0.1:1/m").unwrap().unwrap();
        RemoteModel { spec, free: Mutex::new(Vec::new()), opened: AtomicUsize::new(0) }
    }

    fn answer(outputs: Value, data: &[u8]) -> Response {
        let head = serde_json::to_vec(&json!({ "outputs": outputs })).unwrap();
        let mut body = head.clone();
        body.extend_from_slice(data);
        Response { status: 200, inference_header_len: Some(head.len()), body }
    }

    fn declared(shape: &[i64]) -> TensorInfo {
        TensorInfo { name: "y".into(), elem: Some(ElemType::F32), elem_name: "float32".into(), shape: shape.to_vec() }
    }

    fn out(dt: &str, shape: &[i64], size: Option<usize>) -> Value {
        match size {
            Some(n) => {
                json!([{ "name": "y", "datatype": dt, "shape": shape, "parameters": { "binary_data_size": n } }])
            }
            None => json!([{ "name": "y", "datatype": dt, "shape": shape, "data": [0.0, 1.0] }]),
        }
    }

    #[test]
    fn decodes_binary_float32_and_float16_outputs() {
        let values = [1.5f32, -2.0, 0.25, 8.0];
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let r = answer(out("FP32", &[1, 1, 2, 2], Some(16)), &bytes);
        let got = model().decode(&r, &[&declared(&[1, 1, -1, -1])]).unwrap();
        assert_eq!(got, vec![(vec![1, 1, 2, 2], values.to_vec())]);
        let halves: Vec<u8> = values.iter().flat_map(|v| f16::from_f32(*v).to_le_bytes()).collect();
        let r = answer(out("FP16", &[1, 1, 2, 2], Some(8)), &halves);
        let got = model().decode(&r, &[&declared(&[1, 1, -1, -1])]).unwrap();
        assert_eq!(got[0].1, values.to_vec());
    }

    #[test]
    fn refuses_empty_json_misshapen_and_cut_outputs() {
        let d = declared(&[1, 3, -1, -1]);
        let e = model().decode(&answer(out("FP32", &[1, 3, 2, 2], Some(0)), &[]), &[&d]).unwrap_err();
        assert!(e.contains("has 0 bytes, but its shape [1, 3, 2, 2] needs 48"), "{e}");
        let e = model().decode(&answer(out("FP32", &[1, 3, 1, 1], None), &[]), &[&d]).unwrap_err();
        assert!(e.contains("came back as JSON"), "{e}");
        let e = model().decode(&answer(out("FP32", &[1, 1, 1, 1], Some(4)), &[0; 4]), &[&d]).unwrap_err();
        assert!(e.contains("shape [1, 1, 1, 1], but its metadata declares [1, 3, ?, ?]"), "{e}");
        let e = model().decode(&answer(out("FP32", &[1, 3, 1, 1], Some(12)), &[0; 8]), &[&d]).unwrap_err();
        assert!(e.contains("runs past the end"), "{e}");
        let e = model().decode(&answer(out("INT64", &[1, 3, 1, 1], Some(24)), &[0; 24]), &[&d]).unwrap_err();
        assert!(e.contains("not a float32 or float16"), "{e}");
    }

    #[test]
    fn refuses_shapes_and_sizes_that_overflow() {
        // A shape whose element count wraps a usize, with no data: refused, never a huge empty tensor.
        let d = declared(&[1, 3, -1, -1]);
        let huge = 1i64 << 62;
        let e = model().decode(&answer(out("FP32", &[1, 3, huge, 4], Some(0)), &[]), &[&d]).unwrap_err();
        assert!(e.contains("impossible shape"), "{e}");
        // A binary size that runs past the end of memory.
        let e = model().decode(&answer(out("FP32", &[1, 3, 1, 1], Some(usize::MAX)), &[0; 12]), &[&d]).unwrap_err();
        assert!(e.contains("runs past the end"), "{e}");
    }
}
