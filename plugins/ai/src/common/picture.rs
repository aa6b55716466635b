//! Decodes a picture file (anything GStreamer decodes) to packed RGB by a small pipeline of its
//! own that runs to preroll and stops: aisrc's start image and aistylize's style picture.

use gst::prelude::*;
use gst_video::prelude::*;

/// A decoded picture: packed RGB, `width` x `height`, rows without padding.
pub struct Rgb {
    pub width: usize,
    pub height: usize,
    pub data: Vec<u8>,
}

/// The picture at `path`, scaled by GStreamer's videoscale to `size` when given (square pixels),
/// else at its own size. Errors start with `what` (e.g. "image file x.png") and say why.
pub fn decode(path: &str, what: &str, size: Option<(usize, usize)>) -> Result<Rgb, String> {
    let file = std::path::Path::new(path);
    if file.is_dir() {
        return Err(format!("{what}: is a directory, not a picture file"));
    }
    if !file.is_file() {
        return Err(format!("{what}: no such file"));
    }
    if let Err(e) = std::fs::File::open(file) {
        return Err(format!("{what}: cannot be opened ({e})"));
    }
    let pipeline = gst::Pipeline::new();
    let make = |name: &str| gst::ElementFactory::make(name).build().map_err(|e| format!("{name}: {e}"));
    let src = make("filesrc")?;
    src.set_property("location", path);
    let decode = make("decodebin")?;
    let convert = make("videoconvert")?;
    let scale = make("videoscale")?;
    let filter = make("capsfilter")?;
    let mut caps = gst_video::VideoCapsBuilder::new().format(gst_video::VideoFormat::Rgb);
    if let Some((w, h)) = size {
        caps = caps.width(w as i32).height(h as i32).pixel_aspect_ratio(gst::Fraction::new(1, 1));
    }
    filter.set_property("caps", caps.build());
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
        pipeline.set_state(gst::State::Paused).map_err(|_| format!("{what}: cannot be read"))?;
        let bus = pipeline.bus().ok_or("no bus")?;
        // Preroll, or the error that prevents it.
        let msg = bus.timed_pop_filtered(
            gst::ClockTime::from_seconds(10),
            &[gst::MessageType::AsyncDone, gst::MessageType::Error],
        );
        match msg.as_ref().map(|m| m.view()) {
            Some(gst::MessageView::AsyncDone(_)) => {}
            Some(gst::MessageView::Error(e)) => {
                return Err(format!("{what}: not a picture GStreamer can decode ({})", e.error()));
            }
            _ => return Err(format!("{what}: not decoded within 10 s")),
        }
        let sample = sink
            .emit_by_name::<Option<gst::Sample>>("pull-preroll", &[])
            .ok_or_else(|| format!("{what}: no picture in it"))?;
        let buffer = sample.buffer().ok_or("no buffer")?;
        let info = gst_video::VideoInfo::from_caps(sample.caps().ok_or("no caps")?).map_err(|e| e.to_string())?;
        let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info).map_err(|e| e.to_string())?;
        let (width, height) = (info.width() as usize, info.height() as usize);
        let stride = frame.plane_stride()[0] as usize;
        let plane = frame.plane_data(0).map_err(|e| e.to_string())?;
        let mut data = Vec::with_capacity(width * height * 3);
        for y in 0..height {
            data.extend_from_slice(&plane[y * stride..y * stride + width * 3]);
        }
        Ok(Rgb { width, height, data })
    })();
    let _ = pipeline.set_state(gst::State::Null);
    result
}
