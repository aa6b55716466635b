//! Reads `aistylize`'s style picture (`style-image`): any file GStreamer decodes, cut to the
//! style predictor's aspect ratio around its centre and scaled to its size with a Lanczos
//! filter, by a small pipeline of its own that runs to preroll and stops.

use gst::prelude::*;
use gst_video::prelude::*;

/// The picture at `path` as a canonical image (three planes R, G, B in 0..1) of `width` x
/// `height`: the largest centred window of that aspect ratio, scaled. Errors name the file.
pub fn load(path: &str, width: usize, height: usize) -> Result<Vec<f32>, String> {
    let file = std::path::Path::new(path);
    if !file.is_file() {
        return Err(format!("style-image {path}: no such file"));
    }
    if let Err(e) = std::fs::File::open(file) {
        return Err(format!("style-image {path}: cannot be opened ({e})"));
    }
    let pipeline = gst::Pipeline::new();
    let make = |name: &str| gst::ElementFactory::make(name).build().map_err(|e| format!("{name}: {e}"));
    let src = make("filesrc")?;
    src.set_property("location", path);
    let decode = make("decodebin")?;
    let convert = make("videoconvert")?;
    let rgb = make("capsfilter")?;
    rgb.set_property("caps", gst_video::VideoCapsBuilder::new().format(gst_video::VideoFormat::Rgb).build());
    let crop = make("aspectratiocrop")?;
    crop.set_property("aspect-ratio", gst::Fraction::new(width as i32, height as i32));
    let scale = make("videoscale")?;
    scale.set_property_from_str("method", "lanczos");
    let filter = make("capsfilter")?;
    filter.set_property(
        "caps",
        gst_video::VideoCapsBuilder::new()
            .format(gst_video::VideoFormat::Rgb)
            .width(width as i32)
            .height(height as i32)
            .pixel_aspect_ratio(gst::Fraction::new(1, 1))
            .build(),
    );
    let sink = make("appsink")?;
    sink.set_property("sync", false);
    pipeline.add_many([&src, &decode, &convert, &rgb, &crop, &scale, &filter, &sink]).map_err(|e| e.to_string())?;
    src.link(&decode).map_err(|e| e.to_string())?;
    gst::Element::link_many([&convert, &rgb, &crop, &scale, &filter, &sink]).map_err(|e| e.to_string())?;
    let convert_weak = convert.downgrade();
    decode.connect_pad_added(move |_, pad| {
        if let Some(c) = convert_weak.upgrade()
            && let Some(sink_pad) = c.static_pad("sink")
            && !sink_pad.is_linked()
        {
            let _ = pad.link(&sink_pad);
        }
    });
    let result = (|| {
        pipeline.set_state(gst::State::Paused).map_err(|_| format!("style-image {path}: cannot be read"))?;
        let bus = pipeline.bus().ok_or("no bus")?;
        let msg = bus.timed_pop_filtered(
            gst::ClockTime::from_seconds(10),
            &[gst::MessageType::AsyncDone, gst::MessageType::Error],
        );
        match msg.as_ref().map(|m| m.view()) {
            Some(gst::MessageView::AsyncDone(_)) => {}
            Some(gst::MessageView::Error(e)) => {
                return Err(format!("style-image {path}: not a picture GStreamer can decode ({})", e.error()));
            }
            _ => return Err(format!("style-image {path}: not decoded within 10 s")),
        }
        let sample = sink
            .emit_by_name::<Option<gst::Sample>>("pull-preroll", &[])
            .ok_or_else(|| format!("style-image {path}: no picture in it"))?;
        let buffer = sample.buffer().ok_or("no buffer")?;
        let caps = sample.caps().ok_or("no caps")?;
        let info = gst_video::VideoInfo::from_caps(caps).map_err(|e| e.to_string())?;
        let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info).map_err(|e| e.to_string())?;
        let stride = frame.plane_stride()[0] as usize;
        let data = frame.plane_data(0).map_err(|e| e.to_string())?;
        let plane = width * height;
        let mut out = vec![0.0f32; 3 * plane];
        for y in 0..height {
            for x in 0..width {
                for c in 0..3 {
                    out[c * plane + y * width + x] = data[y * stride + 3 * x + c] as f32 / 255.0;
                }
            }
        }
        Ok(out)
    })();
    let _ = pipeline.set_state(gst::State::Null);
    result
}
