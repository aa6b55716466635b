//! The Wav2Lip model contract ([`Wav2LipContract`]: which input takes the mel window, which the
//! six-channel face, and the face size) and its run on one face ([`Wav2Lip`]): crop, model,
//! feathered paste.

use gst_ai_kernels::{FaceBox, crop_resize, paste_feathered};

use crate::backend::model::{Cancel, ElemType, InputData, Model, ModelInput, TensorInfo};
use crate::dsp::audio::{MEL_STEP, N_MELS};
use crate::error::{Error, Result};

const WAV2LIP: &str = "Wav2Lip";

/// How a Wav2Lip-family model is fed: which input takes the mel window, which the six-channel
/// face, and the face size (96 for the original, 256 or other for later variants).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wav2LipContract {
    pub mel_input: String,
    pub face_input: String,
    pub mel_elem: ElemType,
    pub face_elem: ElemType,
    pub size: usize,
}

impl Wav2LipContract {
    /// Reads the contract from the model's inputs: by name as in known exports
    /// (`mel_spectrogram`/`audio_sequences`/`mel`/`audio`, `video_frames`/`face_sequences`/`face`/
    /// `image`), else by shape (…x1x80x16 is the mel, 6 channels the face).
    pub fn detect(model: &Model) -> Result<Self> {
        Self::detect_io(&model.name, &model.inputs, &model.outputs)
    }

    /// [`Self::detect`] on a graph's inputs and outputs.
    pub fn detect_io(name: &str, inputs: &[TensorInfo], outputs: &[TensorInfo]) -> Result<Self> {
        struct Io<'a> {
            name: &'a str,
            inputs: &'a [TensorInfo],
            outputs: &'a [TensorInfo],
        }
        let model = Io { name, inputs, outputs };
        let err =
            |what: &str, expected: &str, found: String| Error::contract(model.name, WAV2LIP, what, expected, found);
        if model.inputs.len() != 2 {
            let names: Vec<&str> = model.inputs.iter().map(|i| i.name.as_str()).collect();
            return Err(err("inputs", "2 (mel window, face)", format!("{} ({})", names.len(), names.join(", "))));
        }
        let by_name = |keys: &[&str]| {
            model.inputs.iter().find(|i| {
                let n = i.name.to_ascii_lowercase();
                keys.iter().any(|k| n.contains(k))
            })
        };
        let is_mel = |i: &&TensorInfo| {
            let s = &i.shape;
            s.len() == 4 && s[1] == 1 && s[2] == N_MELS as i64 && (s[3] == MEL_STEP as i64 || s[3] < 0)
        };
        let is_face = |i: &&TensorInfo| i.shape.len() == 4 && i.shape[1] == 6;
        let mel = by_name(&["mel", "audio"]).or_else(|| model.inputs.iter().find(is_mel));
        let face = by_name(&["video", "face", "image", "frame"]).or_else(|| model.inputs.iter().find(is_face));
        let (Some(mel), Some(face)) = (mel, face) else {
            let found: Vec<String> = model.inputs.iter().map(|i| format!("{} {}", i.name, i.shape_string())).collect();
            return Err(err("inputs", "a mel input Bx1x80x16 and a face input Bx6xSxS", found.join(", ")));
        };
        if mel.name == face.name {
            return Err(err("inputs", "two distinct inputs", format!("both found as {}", mel.name)));
        }
        if !is_mel(&mel) {
            return Err(err(&format!("input {} (mel window)", mel.name), "Bx1x80x16", mel.shape_string()));
        }
        if !is_face(&face) {
            return Err(err(&format!("input {} (face)", face.name), "Bx6xSxS", face.shape_string()));
        }
        let size = match (face.shape[2], face.shape[3]) {
            (h, w) if h > 0 && h == w => h as usize,
            (h, w) if h < 0 && w < 0 => 96,
            _ => return Err(err(&format!("input {} (face)", face.name), "a square face", face.shape_string())),
        };
        if size < 16 || size % 2 != 0 {
            return Err(err(&format!("input {} (face)", face.name), "an even size of at least 16", size.to_string()));
        }
        let float = |i: &TensorInfo| match i.elem {
            Some(e @ (ElemType::F32 | ElemType::F16)) => Ok(e),
            _ => Err(err(&format!("input {}", i.name), "float32 or float16", i.elem_name.clone())),
        };
        let out = model.outputs.first().ok_or_else(|| err("outputs", "1", "0".into()))?;
        if out.shape.len() != 4 || (out.shape[1] >= 0 && out.shape[1] != 3) {
            return Err(err(&format!("output {}", out.name), "Bx3xSxS", out.shape_string()));
        }
        Ok(Self {
            mel_input: mel.name.clone(),
            face_input: face.name.clone(),
            mel_elem: float(mel)?,
            face_elem: float(face)?,
            size,
        })
    }
}

/// Runs a Wav2Lip-family model on one face: the crop with its lower half masked beside the
/// unmasked crop as the reference (what Wav2Lip's inference does), BGR 0..1.
pub struct Wav2Lip {
    pub contract: Wav2LipContract,
    input: Vec<f32>,
    half: (Vec<half::f16>, Vec<half::f16>),
}

impl Wav2Lip {
    pub fn new(model: &Model) -> Result<Self> {
        Ok(Self { contract: Wav2LipContract::detect(model)?, input: Vec::new(), half: Default::default() })
    }

    /// `face` is the crop, planar RGB 0..1 at the model's size; `mel` the 80x16 window. Returns
    /// the new face, planar RGB 0..1, same size. `cancel` can stop it while the model runs.
    pub fn run(&mut self, model: &Model, face: &[f32], mel: &[f32], cancel: Option<&Cancel>) -> Result<Vec<f32>> {
        let s = self.contract.size;
        let n = s * s;
        assert_eq!(face.len(), 3 * n, "face crop size");
        self.input.clear();
        self.input.resize(6 * n, 0.0);
        for c in 0..3 {
            let src = &face[(2 - c) * n..(3 - c) * n]; // RGB -> BGR
            self.input[(3 + c) * n..(4 + c) * n].copy_from_slice(src);
            self.input[c * n..c * n + n / 2].copy_from_slice(&src[..n / 2]); // rows s/2.. stay 0
        }
        let mel_shape = [1, 1, N_MELS, MEL_STEP];
        let face_shape = [1, 6, s, s];
        let inputs = [
            ModelInput {
                name: &self.contract.mel_input,
                shape: &mel_shape,
                data: InputData::for_elem(self.contract.mel_elem, mel, &mut self.half.0),
            },
            ModelInput {
                name: &self.contract.face_input,
                shape: &face_shape,
                data: InputData::for_elem(self.contract.face_elem, &self.input, &mut self.half.1),
            },
        ];
        model.run_with(&inputs, cancel, |shape, out| {
            if shape != [1, 3, s, s] {
                return Err(Error::contract(
                    &model.name,
                    WAV2LIP,
                    "output shape",
                    format!("[1, 3, {s}, {s}]"),
                    format!("{shape:?}"),
                ));
            }
            Error::check_finite(&model.name, out)?;
            let mut rgb = vec![0f32; 3 * n];
            for c in 0..3 {
                rgb[c * n..(c + 1) * n].copy_from_slice(&out[(2 - c) * n..(3 - c) * n]);
            }
            Ok(rgb)
        })
    }
}

impl Wav2Lip {
    /// The whole face path on `image` (planar RGB 0..1, `w` x `h`): the box `face` cropped and
    /// resized to the model's size, the model run with `mel`, its face resized back into the box
    /// and blended in with a mask that rises over `feather` pixels from the box's edges.
    #[allow(clippy::too_many_arguments)] // the image, its size, the box and the blend are all needed
    pub fn apply(
        &mut self,
        model: &Model,
        image: &mut [f32],
        w: usize,
        h: usize,
        face: FaceBox,
        mel: &[f32],
        feather: f32,
        cancel: Option<&Cancel>,
    ) -> Result<()> {
        let s = self.contract.size;
        let mut crop = vec![0f32; 3 * s * s];
        crop_resize(image, w, h, face, &mut crop, s, s)?;
        let patch = self.run(model, &crop, mel, cancel)?;
        paste_feathered(image, w, h, face, &patch, s, s, feather)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, shape: &[i64]) -> TensorInfo {
        TensorInfo { name: name.into(), elem: Some(ElemType::F32), elem_name: "float32".into(), shape: shape.to_vec() }
    }

    #[test]
    fn wav2lip_inputs_are_found_by_name_or_shape() {
        let out = [info("out", &[-1, 3, -1, -1])];
        // The original repo's argument names, 256x256 variant, inputs in the other order.
        let c = Wav2LipContract::detect_io(
            "m",
            &[info("face_sequences", &[-1, 6, 256, 256]), info("audio_sequences", &[-1, 1, 80, 16])],
            &out,
        )
        .unwrap();
        assert_eq!((c.mel_input.as_str(), c.face_input.as_str(), c.size), ("audio_sequences", "face_sequences", 256));
        // Anonymous names: by shape.
        let c =
            Wav2LipContract::detect_io("m", &[info("x", &[1, 1, 80, 16]), info("y", &[1, 6, 96, 96])], &out).unwrap();
        assert_eq!((c.mel_input.as_str(), c.face_input.as_str(), c.size), ("x", "y", 96));
        // Wrong contracts name what was expected.
        let e = Wav2LipContract::detect_io("m", &[info("input", &[1, 3, 64, 64])], &out).unwrap_err().to_string();
        assert!(e.contains("Wav2Lip") && e.contains("2 (mel window, face)"), "{e}");
        let e = Wav2LipContract::detect_io("m", &[info("mel", &[1, 1, 40, 16]), info("face", &[1, 6, 96, 96])], &out)
            .unwrap_err()
            .to_string();
        assert!(e.contains("Bx1x80x16"), "{e}");
        let e = Wav2LipContract::detect_io("m", &[info("mel", &[1, 1, 80, 16]), info("face", &[1, 6, 96, 128])], &out)
            .unwrap_err()
            .to_string();
        assert!(e.contains("square"), "{e}");
    }
}
