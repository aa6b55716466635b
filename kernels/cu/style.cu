// Per-pixel steps around a style model and the luma plane: the CUDA twins of
// kernels/src/cpu/style.rs and cpu/scene.rs's `luma`. One thread per pixel (or
// per value for `mix`), the CPU's arithmetic in the CPU's order. Images are
// 3 planes (CHW) of n = w x h values in 0..1, except `retensor`'s tensors.
//
// Exactness: every kernel here but `temporal_blend` equals its CPU twin bit for
// bit; `temporal_blend` calls expf and powf, whose CUDA versions differ from
// the C library's by a few ulp (CUDA: expf 2 ulp, powf 4 ulp), so on a GPU its
// results are compared within 1e-5 (values are 0..1).

// Rust's f32::clamp: NaN stays NaN.
__device__ __forceinline__ float clamp_keep_nan(float v, float lo, float hi) {
    return v < lo ? lo : (v > hi ? hi : v);
}

// 1 at or below lo, 0 at or above hi, linear between.
__device__ __forceinline__ float ramp_down(float v, float lo, float hi) {
    return clamp_keep_nan((hi - v) / (hi - lo), 0.0f, 1.0f);
}

// Index of (channel c, pixel i) of a 3-channel tensor of n pixels.
__device__ __forceinline__ long long tensor_at(int nhwc, int bgr, int c, long long i, long long n) {
    if (bgr) c = 2 - c;
    return nhwc ? i * 3 + c : c * n + i;
}

extern "C" __global__ void luma(const float* rgb, float* out, long long n)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    out[i] = 0.299f * rgb[i] + 0.587f * rgb[n + i] + 0.114f * rgb[2 * n + i];
}

// Tensor in one spec -> another; (s_in, o_in) map the source to 0..1, (s_out,
// o_out) the destination's range to 0..1.
extern "C" __global__ void retensor(
    const float* src, int from_nhwc, int from_bgr, float s_in, float o_in,
    float* dst, int to_nhwc, int to_bgr, float s_out, float o_out, long long n)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    for (int c = 0; c < 3; c++) {
        float unit = src[tensor_at(from_nhwc, from_bgr, c, i, n)] * s_in + o_in;
        dst[tensor_at(to_nhwc, to_bgr, c, i, n)] = (unit - o_out) / s_out;
    }
}

extern "C" __global__ void preserve_colors(const float* input, float* stylized, long long n)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float ir = input[i], ig = input[n + i], ib = input[2 * n + i];
    float y_in = 0.299f * ir + 0.587f * ig + 0.114f * ib;
    float y = clamp_keep_nan(0.299f * stylized[i] + 0.587f * stylized[n + i] + 0.114f * stylized[2 * n + i], 0.0f, 1.0f);
    float d[3] = {ir - y_in, ig - y_in, ib - y_in};
    // The largest k <= 1 that keeps y + k * d inside 0..1 in every channel.
    float k = 1.0f;
    for (int c = 0; c < 3; c++) {
        if (d[c] > 0.0f) k = fminf(k, (1.0f - y) / d[c]);
        else if (d[c] < 0.0f) k = fminf(k, y / -d[c]);
    }
    for (int c = 0; c < 3; c++) stylized[c * n + i] = clamp_keep_nan(y + k * d[c], 0.0f, 1.0f);
}

extern "C" __global__ void mix(const float* input, float* out, float strength, long long len)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= len) return;
    float x = input[i];
    out[i] = x + strength * (out[i] - x);
}

extern "C" __global__ void temporal_confidence(
    const float* flow, const float* back, const float* luma, const float* image, const float* prev_image,
    int w, int h, float* out)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= w || y >= h) return;
    long long n = (long long)w * h;
    long long i = (long long)y * w + x;
    float u = flow[i], v = flow[n + i];
    float sx = (float)x + u, sy = (float)y + v;
    // Half a pixel of slack: bilinear sampling at the border is still the frame.
    if (sx < -0.5f || sy < -0.5f || sx > (float)w - 0.5f || sy > (float)h - 0.5f) {
        out[i] = 0.0f;
        return;
    }
    float p = back[i], q = back[n + i];
    float e = (u + p) * (u + p) + (v + q) * (v + q);
    float t = 0.01f * (u * u + v * v + p * p + q * q) + 0.5f;
    float consistent = ramp_down(e, t, 2.0f * t);
    int xr = min(x + 1, w - 1), xl = x > 0 ? x - 1 : 0;
    int yd = min(y + 1, h - 1), yu = y > 0 ? y - 1 : 0;
    float gx = fabsf(luma[(long long)y * w + xr] - luma[(long long)y * w + xl]);
    float gy = fabsf(luma[(long long)yd * w + x] - luma[(long long)yu * w + x]);
    float flat = ramp_down(fmaxf(gx, gy), 0.02f, 0.06f);
    consistent = fmaxf(consistent, flat);
    float diff = 0.0f;
    for (int c = 0; c < 3; c++) diff = fmaxf(diff, fabsf(image[c * n + i] - prev_image[c * n + i]));
    float photometric = ramp_down(diff, 0.08f, 0.2f);
    out[i] = consistent * photometric;
}

extern "C" __global__ void temporal_blend(
    float* out, const float* warped_prev, const float* confidence, float alpha, long long n)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const float small_change = 0.25f;
    float keep = 1.0f - alpha;
    float d = (fabsf(out[i] - warped_prev[i]) + fabsf(out[n + i] - warped_prev[n + i])
               + fabsf(out[2 * n + i] - warped_prev[2 * n + i])) / 3.0f;
    float small = expf(-(d / small_change) * (d / small_change));
    float wt = confidence[i] * (1.0f - keep * powf(keep, 2.0f * small));
    for (int c = 0; c < 3; c++) {
        float o = out[c * n + i];
        out[c * n + i] = o + wt * (warped_prev[c * n + i] - o);
    }
}

// Rust's f32::clamp(0.0, 1.0) in place (NaN stays NaN): a style model's output
// before the steps that take 0..1.
extern "C" __global__ void clamp_unit(float* v, long long n)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    v[i] = clamp_keep_nan(v[i], 0.0f, 1.0f);
}

// Adds to *count the number of the n values that are not finite (NaN or
// infinite: x - x is 0 for every finite x, NaN otherwise): the check of a
// model's output before it is used. One atomic per bad value; a good output
// makes none.
extern "C" __global__ void count_non_finite(const float* v, long long n, unsigned long long* count)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float x = v[i];
    if (x - x != 0.0f) atomicAdd(count, 1ULL);
}
