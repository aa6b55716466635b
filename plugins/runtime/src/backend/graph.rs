//! Just enough of the ONNX protobuf format to read a graph's nodes: which operator produces
//! each tensor. ONNX Runtime tells us a graph's inputs and outputs but not its operators; the
//! style contract needs the last real operator before the output (a `Tanh` means the model
//! speaks −1..1). Only the fields used are decoded; everything else is skipped by wire type.
//!
//! Field numbers (onnx.proto3): ModelProto.graph = 7; GraphProto.node = 1, .output = 12;
//! NodeProto.input = 1, .output = 2, .op_type = 4; ValueInfoProto.name = 1.

use std::collections::HashMap;

/// One node: its operator and its input and output tensor names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub op_type: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
}

/// A graph's nodes and output names, in file order.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub outputs: Vec<String>,
}

enum Value<'a> {
    Varint,
    Bytes(&'a [u8]),
    Fixed,
}

/// Iterates over the (field number, value) pairs of one protobuf message.
struct Fields<'a> {
    buf: &'a [u8],
}

fn varint(buf: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = buf.split_first()?;
        *buf = rest;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u64, Value<'a>), String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() {
            return None;
        }
        let mut buf = self.buf;
        let item = (|| {
            let key = varint(&mut buf).ok_or("truncated field key")?;
            let (field, wire) = (key >> 3, key & 7);
            let value = match wire {
                0 => {
                    varint(&mut buf).ok_or("truncated varint")?;
                    Value::Varint
                }
                1 | 5 => {
                    let n = if wire == 1 { 8 } else { 4 };
                    buf = buf.get(n..).ok_or("truncated fixed-width field")?;
                    Value::Fixed
                }
                2 => {
                    let len =
                        usize::try_from(varint(&mut buf).ok_or("truncated length")?).map_err(|e| e.to_string())?;
                    let bytes = buf.get(..len).ok_or("a length-delimited field runs past the end")?;
                    buf = &buf[len..];
                    Value::Bytes(bytes)
                }
                other => return Err(format!("unsupported protobuf wire type {other}")),
            };
            Ok((field, value))
        })();
        match item {
            Ok(v) => {
                self.buf = buf;
                Some(Ok(v))
            }
            Err(e) => {
                self.buf = &[];
                Some(Err(e.to_string()))
            }
        }
    }
}

fn fields(buf: &[u8]) -> Fields<'_> {
    Fields { buf }
}

fn string(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl Graph {
    /// Reads the graph of a serialized ModelProto.
    pub fn parse(model: &[u8]) -> Result<Self, String> {
        let mut graph = Graph::default();
        let mut found = false;
        for field in fields(model) {
            if let (7, Value::Bytes(g)) = field? {
                found = true;
                for field in fields(g) {
                    match field? {
                        (1, Value::Bytes(n)) => graph.nodes.push(Self::node(n)?),
                        (12, Value::Bytes(vi)) => {
                            for f in fields(vi) {
                                if let (1, Value::Bytes(name)) = f? {
                                    graph.outputs.push(string(name));
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        if !found {
            return Err("no graph in the file (not an ONNX model?)".into());
        }
        Ok(graph)
    }

    fn node(buf: &[u8]) -> Result<Node, String> {
        let mut node = Node { op_type: String::new(), inputs: Vec::new(), outputs: Vec::new() };
        for field in fields(buf) {
            match field? {
                (1, Value::Bytes(s)) => node.inputs.push(string(s)),
                (2, Value::Bytes(s)) => node.outputs.push(string(s)),
                (4, Value::Bytes(s)) => node.op_type = string(s),
                (_, Value::Varint | Value::Fixed | Value::Bytes(_)) => {}
            }
        }
        Ok(node)
    }

    /// The operator that gives `output` its values: the producer of `output`, looking through
    /// operators that only move or relabel data (Transpose, Reshape, Identity, Cast, Squeeze,
    /// Unsqueeze, Slice, Pad, Clip) to the first input of each. None when nothing produces it.
    pub fn final_op(&self, output: &str) -> Option<&str> {
        const PASS: [&str; 9] =
            ["Transpose", "Reshape", "Identity", "Cast", "Squeeze", "Unsqueeze", "Slice", "Pad", "Clip"];
        let producers: HashMap<&str, &Node> =
            self.nodes.iter().flat_map(|n| n.outputs.iter().map(move |o| (o.as_str(), n))).collect();
        let mut name = output;
        for _ in 0..self.nodes.len() + 1 {
            let node = producers.get(name)?;
            if !PASS.contains(&node.op_type.as_str()) {
                return Some(&node.op_type);
            }
            name = node.inputs.first()?;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(field: u64, wire: u64) -> Vec<u8> {
        enc_varint((field << 3) | wire)
    }

    fn enc_varint(mut v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return out;
            }
            out.push(b | 0x80);
        }
    }

    fn bytes(field: u64, data: &[u8]) -> Vec<u8> {
        let mut out = key(field, 2);
        out.extend(enc_varint(data.len() as u64));
        out.extend_from_slice(data);
        out
    }

    fn node(op: &str, inputs: &[&str], outputs: &[&str]) -> Vec<u8> {
        let mut n = Vec::new();
        for i in inputs {
            n.extend(bytes(1, i.as_bytes()));
        }
        for o in outputs {
            n.extend(bytes(2, o.as_bytes()));
        }
        n.extend(bytes(3, b"some_name"));
        n.extend(bytes(4, op.as_bytes()));
        // An attribute-like varint and a fixed32 the reader must skip.
        n.extend(key(9, 0));
        n.extend(enc_varint(300));
        n.extend(key(10, 5));
        n.extend([1, 2, 3, 4]);
        n
    }

    #[test]
    fn finds_the_last_real_operator_through_layout_ops() {
        let mut g = Vec::new();
        g.extend(bytes(1, &node("Conv", &["x", "w"], &["c"])));
        g.extend(bytes(1, &node("Tanh", &["c"], &["t"])));
        g.extend(bytes(1, &node("Transpose", &["t"], &["y"])));
        g.extend(bytes(12, &bytes(1, b"y")));
        let mut model = key(1, 0);
        model.extend(enc_varint(10)); // ir_version
        model.extend(bytes(7, &g));
        let graph = Graph::parse(&model).unwrap();
        assert_eq!(graph.nodes.len(), 3);
        assert_eq!(graph.outputs, vec!["y".to_string()]);
        assert_eq!(graph.nodes[0].inputs, vec!["x".to_string(), "w".to_string()]);
        assert_eq!(graph.final_op("y"), Some("Tanh"));
        assert_eq!(graph.final_op("c"), Some("Conv"));
        assert_eq!(graph.final_op("nothing"), None);
    }

    #[test]
    fn rejects_truncated_and_graphless_input() {
        let g = bytes(1, &node("Relu", &["a"], &["b"]));
        let mut model = bytes(7, &g);
        model.truncate(model.len() - 3);
        assert!(Graph::parse(&model).is_err());
        assert!(Graph::parse(&bytes(8, b"abc")).unwrap_err().contains("no graph"));
        assert!(Graph::parse(b"\xff\xff\xff").is_err());
    }
}
