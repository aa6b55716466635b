//! Voice activity: whether the audio a frame hears is speech, so that music, breathing and noise
//! do not move the mouth. A Silero-VAD-contract model (`zoo:silero-vad`) runs over the 16 kHz
//! track as its audio arrives, 32 ms at a time with its recurrent state carried, as Silero's own
//! wrapper runs it; each frame asks for the speech probability around its own audio.

use std::collections::VecDeque;
use std::sync::Arc;

use super::timeline::AudioTrack;
use crate::backend::model::{Cancel, ElemType, InputData, Model, ModelInput};
use crate::error::{Error, Result};

const SILERO: &str = "Silero VAD";

/// Runs a voice-activity model over an [`AudioTrack`] and keeps the probabilities.
pub struct Vad {
    model: Arc<Model>,
    input: String,
    state_name: String,
    sr_name: String,
    /// Which outputs are the probability and the next state.
    prob_out: usize,
    state_out: usize,
    state: Vec<f32>,
    /// The last `CONTEXT` samples of the previous chunk, then the new chunk.
    chunk: Vec<f32>,
    /// Absolute track index of the next chunk's first sample.
    next: usize,
    /// Probabilities of chunks `first_chunk..`: old ones are dropped as frames pass.
    probs: VecDeque<f32>,
    first_chunk: usize,
}

impl Vad {
    /// New samples per run (32 ms at 16 kHz).
    pub const CHUNK: usize = 512;
    /// Samples of the previous chunk each run sees again.
    pub const CONTEXT: usize = 64;
    const STATE: [usize; 3] = [2, 1, 128];

    /// Checks `model` against the Silero VAD contract: inputs `input` (float32 1xN audio),
    /// `state` (float32 2x1x128), `sr` (int64 scalar); outputs the probability (1x1) and the next
    /// state (2x1x128), found by name (`output`, `stateN`) or else by order.
    pub fn new(model: Arc<Model>) -> Result<Self> {
        let err =
            |what: &str, expected: &str, found: String| Error::contract(&model.name, SILERO, what, expected, found);
        let find = |name: &str| model.inputs.iter().find(|i| i.name == name);
        let listed = || {
            model
                .inputs
                .iter()
                .map(|i| format!("{} {} {}", i.name, i.elem_name, i.shape_string()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (Some(input), Some(state), Some(sr)) = (find("input"), find("state"), find("sr")) else {
            return Err(err("inputs", "input (audio), state and sr", listed()));
        };
        let float = |i: &&crate::backend::model::TensorInfo| i.elem == Some(ElemType::F32);
        if !float(&input)
            || input.shape.len() != 2
            || !float(&state)
            || state.shape.len() != 3
            || sr.elem != Some(ElemType::I64)
        {
            return Err(err("inputs", "float32 input 1xN, float32 state 2x1x128, int64 sr", listed()));
        }
        let [prob_out, state_out] = match model.outputs.len() {
            2 => {
                let named = |n: &str| model.outputs.iter().position(|o| o.name == n);
                [named("output").unwrap_or(0), named("stateN").unwrap_or(1)]
            }
            n => return Err(err("outputs", "2 (probability, next state)", n.to_string())),
        };
        if prob_out == state_out {
            return Err(err("outputs", "a probability and a next state", "the same output twice".into()));
        }
        Ok(Self {
            input: input.name.clone(),
            state_name: state.name.clone(),
            sr_name: sr.name.clone(),
            model,
            prob_out,
            state_out,
            state: vec![0.0; Self::STATE.iter().product()],
            chunk: vec![0.0; Self::CONTEXT + Self::CHUNK],
            next: 0,
            probs: VecDeque::new(),
            first_chunk: 0,
        })
    }

    /// Forgets the audio heard (flush, seek).
    pub fn reset(&mut self) {
        self.state.fill(0.0);
        self.chunk.fill(0.0);
        self.next = 0;
        self.probs.clear();
        self.first_chunk = 0;
    }

    /// Runs the model over every whole chunk the track holds that has not been heard yet (and,
    /// once the track ended, its last partial chunk padded with silence).
    pub fn advance(&mut self, track: &AudioTrack, cancel: Option<&Cancel>) -> Result<()> {
        loop {
            if self.next < track.first_held() {
                // Audio dropped unheard (cannot happen when every push is heard): its chunks
                // count as no speech.
                self.probs.push_back(0.0);
                self.next += Self::CHUNK;
                continue;
            }
            let (from, to) = (self.next, self.next + Self::CHUNK);
            let part = match track.samples(from, to) {
                Some(s) if s.len() == Self::CHUNK => s,
                Some(s) if track.is_ended() && !s.is_empty() => s,
                _ => return Ok(()),
            };
            self.chunk.copy_within(Self::CHUNK.., 0);
            let new = &mut self.chunk[Self::CONTEXT..];
            new[..part.len()].copy_from_slice(part);
            new[part.len()..].fill(0.0);
            let p = self.run(cancel)?;
            self.probs.push_back(p);
            self.next = to;
        }
    }

    fn run(&mut self, cancel: Option<&Cancel>) -> Result<f32> {
        let sr = [16_000i64];
        let inputs = [
            ModelInput {
                name: &self.input,
                shape: &[1, Self::CONTEXT + Self::CHUNK],
                data: InputData::F32(&self.chunk),
            },
            ModelInput { name: &self.state_name, shape: &Self::STATE, data: InputData::F32(&self.state) },
            ModelInput { name: &self.sr_name, shape: &[], data: InputData::I64(&sr) },
        ];
        let outputs = self.model.run_all(&inputs, cancel)?;
        let (_, p) = &outputs[self.prob_out];
        let (_, state) = &outputs[self.state_out];
        if p.len() != 1 || state.len() != self.state.len() {
            return Err(Error::contract(
                &self.model.name,
                SILERO,
                "outputs",
                "a 1x1 probability and a 2x1x128 state",
                format!("{} and {} values", p.len(), state.len()),
            ));
        }
        self.state.copy_from_slice(state);
        // A NaN probability counts as no speech.
        Ok(if p[0].is_finite() { p[0].clamp(0.0, 1.0) } else { 0.0 })
    }

    /// The highest speech probability of the chunks that overlap the track's samples
    /// `from..to`; None when one of them has not been heard yet.
    pub fn speech(&self, from: usize, to: usize) -> Option<f32> {
        let (c0, c1) = (from / Self::CHUNK, to.div_ceil(Self::CHUNK).max(from / Self::CHUNK + 1));
        if c1 > self.first_chunk + self.probs.len() {
            return None;
        }
        Some((c0.max(self.first_chunk)..c1).map(|c| self.probs[c - self.first_chunk]).fold(0.0, f32::max))
    }

    /// Samples heard so far: every chunk before this track index has its probability.
    pub fn heard(&self) -> usize {
        self.next
    }

    /// Drops the probabilities of chunks that end before sample `before`.
    pub fn discard_before(&mut self, before: usize) {
        while self.first_chunk < before / Self::CHUNK && !self.probs.is_empty() {
            self.probs.pop_front();
            self.first_chunk += 1;
        }
    }
}
