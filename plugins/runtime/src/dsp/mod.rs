//! Signal arithmetic with no model in it: Wav2Lip's mel features and the audio timeline
//! ([`audio`]), the streaming 16 kHz resampler ([`resample`]) and exact frame-rate arithmetic
//! ([`rate`]).

pub mod audio;
pub mod rate;
pub mod resample;
