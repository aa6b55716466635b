//! Broadcast formats through every element: 10-bit 4:2:0 video (I420_10LE, P010_10LE) is
//! accepted and produced as 10-bit, with nothing rounded to 8 bits on the way (a 10-bit
//! gradient through an identity-like path comes back within a 10-bit step or two, keeping far
//! more than 256 levels); and the metas of frames aiinterpolate sends out again or makes are
//! handled deliberately (a caption or timecode goes out once, never on a made or repeated frame).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gst::prelude::*;
use gst_ai_tests::{init, parse, run_pipeline, test_model};
use gst_video::{VideoCaptionMeta, VideoCaptionType, VideoFormat, VideoInfo, VideoTimeCodeMeta};

const TEN_BIT: [VideoFormat; 2] = [VideoFormat::I42010le, VideoFormat::P01010le];

fn video_info(format: VideoFormat, w: u32, h: u32) -> VideoInfo {
    init();
    VideoInfo::builder(format, w, h).fps(gst::Fraction::new(10, 1)).build().unwrap()
}

/// The little-endian word shift of a 10-bit format: P010 keeps the value in the high bits.
fn shift(format: VideoFormat) -> u32 {
    if format == VideoFormat::P01010le { 6 } else { 0 }
}

/// A 10-bit frame in `info`'s layout: a luma ramp over every pixel (64..940, limited range) and
/// neutral chroma.
fn gradient(info: &VideoInfo) -> Vec<u8> {
    let (w, h) = (info.width() as usize, info.height() as usize);
    let (off, stride) = (info.offset(), info.stride());
    let s = shift(info.format());
    let mut data = vec![0u8; info.size()];
    let mut put = |plane: usize, x: usize, y: usize, v: u16| {
        let i = off[plane] + y * stride[plane] as usize + 2 * x;
        data[i..i + 2].copy_from_slice(&(v << s).to_le_bytes());
    };
    for y in 0..h {
        for x in 0..w {
            put(0, x, y, 64 + ((y * w + x) * 876 / (w * h - 1)) as u16);
        }
    }
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    for cy in 0..ch {
        for cx in 0..cw {
            if info.format() == VideoFormat::P01010le {
                put(1, 2 * cx, cy, 512);
                put(1, 2 * cx + 1, cy, 512);
            } else {
                put(1, cx, cy, 512);
                put(2, cx, cy, 512);
            }
        }
    }
    data
}

/// The 10-bit luma codes of a frame in `info`'s layout, row by row.
fn luma(info: &VideoInfo, data: &[u8]) -> Vec<Vec<u16>> {
    let (w, h) = (info.width() as usize, info.height() as usize);
    let (off, stride, s) = (info.offset()[0], info.stride()[0] as usize, shift(info.format()));
    (0..h)
        .map(|y| {
            (0..w)
                .map(|x| u16::from_le_bytes([data[off + y * stride + 2 * x], data[off + y * stride + 2 * x + 1]]) >> s)
                .collect()
        })
        .collect()
}

fn levels(rows: &[Vec<u16>]) -> usize {
    let mut v: Vec<u16> = rows.concat();
    v.sort_unstable();
    v.dedup();
    v.len()
}

/// Pushes `buffers` (in `info`) through `tail` (ending in `appsink name=sink`) and returns the
/// output buffers and their video info.
fn push_through(info: &VideoInfo, buffers: Vec<gst::Buffer>, tail: &str) -> (Vec<gst::Buffer>, Option<VideoInfo>) {
    init();
    let p = parse(&format!("appsrc name=src format=time ! {tail}"));
    let src = p.by_name("src").unwrap().downcast::<gst_app::AppSrc>().unwrap();
    let sink = p.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
    src.set_caps(Some(&info.to_caps().unwrap()));
    src.set_max_bytes(0);
    let out = Arc::new(Mutex::new((Vec::new(), None)));
    let o2 = out.clone();
    gst_ai_tests::on_video_sample(&sink, move |info, b| {
        let mut o = o2.lock().unwrap();
        o.0.push(b.to_owned());
        o.1 = Some(info.clone());
        Ok(())
    });
    for b in buffers {
        src.push_buffer(b).unwrap();
    }
    src.end_of_stream().unwrap();
    let r = run_pipeline(&p, Duration::from_secs(60));
    assert!(r.eos && r.errors.is_empty(), "{tail}: {r:?}");
    std::mem::take(&mut *out.lock().unwrap())
}

fn stamped(data: &[u8], i: u64) -> gst::Buffer {
    let mut b = gst::Buffer::from_slice(data.to_vec());
    let bm = b.get_mut().unwrap();
    bm.set_pts(gst::ClockTime::from_mseconds(100 * i));
    bm.set_duration(gst::ClockTime::from_mseconds(100));
    b
}

/// Runs two gradient frames through `element` and checks every output against the input: same
/// format, luma within `tolerance` 10-bit steps (at `scale` times the size), > 800 levels.
fn keeps_ten_bits(element: &str, scale: usize, tolerance: u16) {
    for format in TEN_BIT {
        let info = video_info(format, 64, 16);
        let frame = gradient(&info);
        let want = luma(&info, &frame);
        let (out, out_info) = push_through(
            &info,
            vec![stamped(&frame, 0), stamped(&frame, 1)],
            &format!("{element} ! appsink name=sink sync=false"),
        );
        let out_info = out_info.unwrap_or_else(|| panic!("{element} {format:?}: no output"));
        assert_eq!(out_info.format(), format, "{element} produces {format:?}");
        assert!(!out.is_empty());
        for b in &out {
            let map = b.map_readable().unwrap();
            let got = luma(&out_info, &map);
            let mut worst = 0;
            for (y, row) in got.iter().enumerate() {
                for (x, &v) in row.iter().enumerate() {
                    worst = worst.max(v.abs_diff(want[y / scale][x / scale]));
                }
            }
            assert!(worst <= tolerance, "{element} {format:?}: luma off by {worst} 10-bit steps");
            let n = levels(&got);
            assert!(n > 800, "{element} {format:?}: {n} luma levels (8 bits would give at most 256)");
        }
    }
}

#[test]
fn aiupscale_keeps_ten_bits() {
    keeps_ten_bits(&format!("aiupscale model={}", test_model("nearest_x2.onnx").display()), 2, 1);
}

#[test]
fn aiinterpolate_keeps_ten_bits_in_made_frames() {
    // Between two equal frames, the made frame is that frame again, through pack and unpack.
    keeps_ten_bits("aiinterpolate mode=blend factor=2", 1, 1);
}

#[test]
fn aistylize_keeps_ten_bits() {
    // A thousandth of the pencil style: the output is the input to within a 10-bit step or two.
    keeps_ten_bits("aistylize style=pencil strength=0.001 temporal-consistency=0", 1, 2);
}

#[test]
fn ailipsync_keeps_ten_bits() {
    // No audio: the frames go through unchanged, in their format.
    keeps_ten_bits("ailipsync face-box=\"<8, 2, 32, 12>\" voice-activity=false", 1, 0);
}

#[test]
fn aisrc_produces_ten_bits() {
    init();
    for format in TEN_BIT {
        let name = format.to_str();
        let p =
            parse(&format!("aisrc steps=1 num-frames=2 ! video/x-raw,format={name} ! appsink name=sink sync=false"));
        let sink = p.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        gst_ai_tests::on_video_sample(&sink, move |info, b| {
            let map = b.map_readable().map_err(|_| gst::FlowError::Error)?;
            s2.lock().unwrap().push((info.format(), luma(info, &map)));
            Ok(())
        });
        let r = run_pipeline(&p, Duration::from_secs(60));
        assert!(r.eos && r.errors.is_empty(), "{name}: {r:?}");
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2, "{name}");
        for (f, rows) in seen.iter() {
            assert_eq!(*f, format);
            let codes = rows.concat();
            assert!(codes.iter().all(|&c| c <= 1023), "{name}: 10-bit codes");
            // Codes that are all multiples of 4 would be 8-bit values widened.
            let fine = codes.iter().filter(|&&c| c % 4 != 0).count();
            assert!(fine * 4 > codes.len(), "{name}: {fine} of {} codes use the two low bits", codes.len());
        }
    }
}

/// The caption bytes and timecode frame numbers each output buffer carries.
fn metas(b: &gst::BufferRef) -> (Vec<u8>, Vec<u32>) {
    let captions = b.iter_meta::<VideoCaptionMeta>().flat_map(|m| m.data().to_vec()).collect();
    let timecodes = b.iter_meta::<VideoTimeCodeMeta>().map(|m| m.tc().frames()).collect();
    (captions, timecodes)
}

#[test]
fn aiinterpolate_sends_a_caption_and_a_timecode_once() {
    let info = video_info(VideoFormat::Rgb, 16, 8);
    let inputs: Vec<gst::Buffer> = (0..3u8)
        .map(|i| {
            let mut b = stamped(&vec![i * 60; info.size()], u64::from(i));
            let bm = b.get_mut().unwrap();
            VideoCaptionMeta::add(bm, VideoCaptionType::Cea708Raw, &[i + 1]);
            let tc = gst_video::VideoTimeCode::new(
                gst::Fraction::new(10, 1),
                None,
                gst_video::VideoTimeCodeFlags::empty(),
                0,
                0,
                0,
                u32::from(i),
                0,
            );
            VideoTimeCodeMeta::add(bm, &tc.try_into().unwrap());
            b
        })
        .collect();
    // duplicate x3: every input goes out three times; blend x2: made frames between inputs.
    for (props, n_out) in [("mode=duplicate factor=3", 9), ("mode=blend factor=2 scene-threshold=1", 6)] {
        let (out, _) =
            push_through(&info, inputs.clone(), &format!("aiinterpolate {props} ! appsink name=sink sync=false"));
        assert_eq!(out.len(), n_out, "{props}");
        let all: Vec<(Vec<u8>, Vec<u32>)> = out.iter().map(|b| metas(b.as_ref())).collect();
        let captions: Vec<u8> = all.iter().flat_map(|m| m.0.clone()).collect();
        let timecodes: Vec<u32> = all.iter().flat_map(|m| m.1.clone()).collect();
        assert_eq!(captions, [1, 2, 3], "{props}: each caption once, in order: {all:?}");
        assert_eq!(timecodes, [0, 1, 2], "{props}: each timecode once, in order: {all:?}");
        if props.contains("blend") {
            // 1 and 3 are made; 5 is the last input again (the tail of its duration).
            for k in [1, 3, 5] {
                assert_eq!(all[k], (vec![], vec![]), "{props}: made or repeated frame {k} carries no meta");
            }
        }
    }
}
