// Frame-rate conversion pieces: the backward warp (the CUDA twin of
// kernels/src/cpu/interp.rs's `warp`) and the scene-change measure's
// thumbnails (cpu/scene.rs's `thumbnail`; the SSIM over 32 x 32 thumbnails
// then runs on the host, by the CPU's own code). Both equal the CPU bit for bit.

// Rust's `clampf` in interp.rs: NaN gives lo.
__device__ __forceinline__ float clamp_lo(float x, float lo, float hi) {
    x = x > lo ? x : lo;
    return x < hi ? x : hi;
}

// (min(floor(v), top), v - that) for 0 <= v < 2^22, as interp.rs computes it:
// adding 2^23 rounds v to an integer held in the mantissa bits.
__device__ __forceinline__ long long floor_split(float v, float top, float* frac) {
    const float magic = 8388608.0f;
    float r = (v + magic) - magic;
    float fl = r - (r > v ? 1.0f : 0.0f);
    fl = fl < top ? fl : top;
    *frac = v - fl;
    return (long long)(__float_as_uint(fl + magic) - __float_as_uint(magic));
}

// Linear sample along a single row or column (or one pixel).
__device__ __forceinline__ float bilinear_line(const float* p, int w, int h, float x, float y) {
    int len = w >= 2 ? w : h;
    float v = w >= 2 ? x : y;
    if (len < 2) return p[0];
    float f;
    long long i = floor_split(clamp_lo(v, 0.0f, (float)(len - 1)), (float)(len - 2), &f);
    return (1.0f - f) * p[i] + f * p[i + 1];
}

// out(p) = src(p + flow(p)) for each of `channels` planes; flow is 2 planes (x, y).
extern "C" __global__ void warp(const float* src, int channels, int w, int h, const float* flow, float* out)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= w || y >= h) return;
    long long n = (long long)w * h;
    long long i = (long long)y * w + x;
    float px = (float)x + flow[i], py = (float)y + flow[n + i];
    if (w >= 2 && h >= 2) {
        float fx, fy;
        long long ix = floor_split(clamp_lo(px, 0.0f, (float)(w - 1)), (float)(w - 2), &fx);
        long long iy = floor_split(clamp_lo(py, 0.0f, (float)(h - 1)), (float)(h - 2), &fy);
        for (int c = 0; c < channels; c++) {
            const float* q = src + c * n + iy * w + ix;
            float top = (1.0f - fx) * q[0] + fx * q[1];
            float bottom = (1.0f - fx) * q[w] + fx * q[w + 1];
            out[c * n + i] = (1.0f - fy) * top + fy * bottom;
        }
    } else {
        for (int c = 0; c < channels; c++) out[c * n + i] = bilinear_line(src + c * n, w, h, px, py);
    }
}

// The area-averaged tw x th thumbnail of a w x h plane, one thread per
// thumbnail pixel: pixel i covers source columns ceil(i w / tw) ..
// ceil((i + 1) w / tw), likewise rows; each row's part summed in f32, the
// rows in f64, as the CPU does.
extern "C" __global__ void thumbnail(const float* src, int w, int h, int tw, int th, double* out)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    int j = blockIdx.y * blockDim.y + threadIdx.y;
    if (i >= tw || j >= th) return;
    long long x0 = ((long long)i * w + tw - 1) / tw, x1 = ((long long)(i + 1) * w + tw - 1) / tw;
    long long y0 = ((long long)j * h + th - 1) / th, y1 = ((long long)(j + 1) * h + th - 1) / th;
    double o = 0.0;
    for (long long y = y0; y < y1; y++) {
        float s = 0.0f;
        for (long long x = x0; x < x1; x++) s += src[y * w + x];
        o += (double)s;
    }
    out[(long long)j * tw + i] = o / (double)((x1 - x0) * (y1 - y0));
}
