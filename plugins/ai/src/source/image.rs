//! Reads `aisrc`'s start image for image-to-video: any file GStreamer can decode, converted to
//! RGB and scaled to the clip's size by a small pipeline of its own.

use std::time::SystemTime;

use gst::prelude::*;
use gst_video::prelude::*;

/// The start image, decoded again only when its path, modification time or size changes:
/// decoding runs a whole GStreamer pipeline, which every clip need not repeat.
#[derive(Default)]
pub struct StartImage {
    key: Option<(String, Option<SystemTime>, usize, usize)>,
    data: Vec<f32>,
}

impl StartImage {
    pub fn load(&mut self, path: &str, width: usize, height: usize) -> Result<Vec<f32>, String> {
        let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let key = Some((path.to_string(), modified, width, height));
        if self.key != key {
            self.data = load(path, width, height)?;
            self.key = key;
        }
        Ok(self.data.clone())
    }
}

/// The image at `path` as 3 x `height` x `width` RGB in -1..1.
pub fn load(path: &str, width: usize, height: usize) -> Result<Vec<f32>, String> {
    if !std::path::Path::new(path).is_file() {
        return Err(format!("image file {path} does not exist"));
    }
    let pipeline = gst::Pipeline::new();
    let make = |name: &str| gst::ElementFactory::make(name).build().map_err(|e| format!("{name}: {e}"));
    let src = make("filesrc")?;
    src.set_property("location", path);
    let decode = make("decodebin")?;
    let convert = make("videoconvert")?;
    let scale = make("videoscale")?;
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
    pipeline.add_many([&src, &decode, &convert, &scale, &filter, &sink]).map_err(|e| e.to_string())?;
    src.link(&decode).map_err(|e| e.to_string())?;
    gst::Element::link_many([&convert, &scale, &filter, &sink]).map_err(|e| e.to_string())?;
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
        pipeline.set_state(gst::State::Paused).map_err(|_| format!("image file {path}: cannot be read"))?;
        let bus = pipeline.bus().ok_or("no bus")?;
        // Preroll, or the error that prevents it.
        let msg = bus.timed_pop_filtered(
            gst::ClockTime::from_seconds(10),
            &[gst::MessageType::AsyncDone, gst::MessageType::Error],
        );
        match msg.as_ref().map(|m| m.view()) {
            Some(gst::MessageView::AsyncDone(_)) => {}
            Some(gst::MessageView::Error(e)) => return Err(format!("image file {path}: {}", e.error())),
            _ => return Err(format!("image file {path}: not decoded within 10 s")),
        }
        let sample = sink.emit_by_name::<Option<gst::Sample>>("pull-preroll", &[]).ok_or("no picture")?;
        let buffer = sample.buffer().ok_or("no buffer")?;
        let caps = sample.caps().ok_or("no caps")?;
        let info = gst_video::VideoInfo::from_caps(caps).map_err(|e| e.to_string())?;
        let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info).map_err(|e| e.to_string())?;
        let stride = frame.plane_stride()[0] as usize;
        let data = frame.plane_data(0).map_err(|e| e.to_string())?;
        let mut out = vec![0.0f32; 3 * width * height];
        for y in 0..height {
            for x in 0..width {
                for c in 0..3 {
                    out[c * width * height + y * width + x] = data[y * stride + 3 * x + c] as f32 / 127.5 - 1.0;
                }
            }
        }
        Ok(out)
    })();
    let _ = pipeline.set_state(gst::State::Null);
    result
}
