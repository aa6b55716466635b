// Frame <-> f32 tensor conversion: the CUDA twins of kernels/src/cpu/pack.rs,
// unpack.rs and yuv.rs. One thread per output element (pack, packed unpack)
// or per 2x2 chroma block (4:2:0 unpack). The arithmetic is written in the
// same order as the CPU code and compiled without fused multiply-add, so the
// results match the CPU bit for bit.
//
// Pixel formats (the order of PixelFormat::code):
//   0 RGB, 1 BGR, 2 RGBA, 3 RGBx, 4 BGRA, 5 BGRx, 6 GRAY8, 7 I420, 8 NV12.
// Tensor: 3 x height x width f32, NCHW (nhwc == 0) or NHWC, channel order RGB
// (bgr == 0) or BGR; value = byte * scale + offset (pack), byte = value *
// scale + offset (unpack).

struct YuvToRgb {
    float y_off, y_gain, rv, gu, gv, bu;
};

struct RgbToYuv {
    float y_off;
    float y[3], u[3], v[3];
};

struct Tensor {
    int width, height, nhwc, bgr;
};

__device__ __forceinline__ long long reflect(long long i, long long n) {
    // numpy 'reflect' (edge not repeated), repeating; one pixel clamps.
    if (n <= 1) return 0;
    long long period = 2 * (n - 1);
    long long m = i % period;
    if (m < 0) m += period;
    return m < n ? m : period - m;
}

__device__ __forceinline__ float clampf(float v, float lo, float hi) {
    return fminf(fmaxf(v, lo), hi);
}

// Rounds a 0..255 value half up; values are clamped first, NaN reads as 0.
__device__ __forceinline__ unsigned char to_u8(float v) {
    float r = v + 0.5f;
    if (!(r > 0.0f)) return 0;
    if (r >= 255.0f) return 255;
    return (unsigned char)r;
}

__device__ __forceinline__ float clamp_byte(float v) {
    // fmaxf returns the other operand for NaN, so NaN becomes 0 as on the CPU.
    return fminf(fmaxf(v, 0.0f), 255.0f);
}

// Reads pixel (sx, sy) as R, G, B byte values.
__device__ __forceinline__ void read_pixel(
    const unsigned char* p0, const unsigned char* p1, const unsigned char* p2,
    int s0, int s1, int s2, int format, YuvToRgb k, long long sx, long long sy,
    float* r, float* g, float* b)
{
    const unsigned char* row = p0 + sy * s0;
    switch (format) {
    case 0: *r = row[sx * 3]; *g = row[sx * 3 + 1]; *b = row[sx * 3 + 2]; return;
    case 1: *r = row[sx * 3 + 2]; *g = row[sx * 3 + 1]; *b = row[sx * 3]; return;
    case 2: case 3: *r = row[sx * 4]; *g = row[sx * 4 + 1]; *b = row[sx * 4 + 2]; return;
    case 4: case 5: *r = row[sx * 4 + 2]; *g = row[sx * 4 + 1]; *b = row[sx * 4]; return;
    case 6: *r = *g = *b = row[sx]; return;
    default: break;
    }
    float y = row[sx], u, v;
    if (format == 7) {
        u = p1[(sy / 2) * s1 + sx / 2];
        v = p2[(sy / 2) * s2 + sx / 2];
    } else {
        const unsigned char* c = p1 + (sy / 2) * s1;
        u = c[sx & ~1LL];
        v = c[sx | 1LL];
    }
    float luma = (y - k.y_off) * k.y_gain;
    float cb = u - 128.0f, cr = v - 128.0f;
    *r = clampf(luma + k.rv * cr, 0.0f, 255.0f);
    *g = clampf(luma + k.gu * cb + k.gv * cr, 0.0f, 255.0f);
    *b = clampf(luma + k.bu * cb, 0.0f, 255.0f);
}

// Frame region (rx, ry, t.width x t.height, reflected where it leaves the
// frame) -> tensor.
extern "C" __global__ void pack(
    const unsigned char* p0, const unsigned char* p1, const unsigned char* p2,
    int s0, int s1, int s2, int frame_width, int frame_height, int format, YuvToRgb k,
    long long rx, long long ry, Tensor t, float scale, float offset, float* out)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= t.width || y >= t.height) return;
    long long sx = reflect(rx + x, frame_width);
    long long sy = reflect(ry + y, frame_height);
    float r, g, b;
    read_pixel(p0, p1, p2, s0, s1, s2, format, k, sx, sy, &r, &g, &b);
    float first = t.bgr ? b : r, last = t.bgr ? r : b;
    long long plane = (long long)t.width * t.height;
    long long i = (long long)y * t.width + x;
    if (t.nhwc) {
        out[i * 3] = first * scale + offset;
        out[i * 3 + 1] = g * scale + offset;
        out[i * 3 + 2] = last * scale + offset;
    } else {
        out[i] = first * scale + offset;
        out[plane + i] = g * scale + offset;
        out[2 * plane + i] = last * scale + offset;
    }
}

// Tensor pixel (x, y) as clamped R, G, B byte values.
__device__ __forceinline__ void read_tensor(const float* in, Tensor t, long long x, long long y,
                                            float scale, float offset, float* r, float* g, float* b)
{
    float c[3];
    long long plane = (long long)t.width * t.height;
    long long i = y * t.width + x;
    for (int k = 0; k < 3; k++) {
        float v = t.nhwc ? in[i * 3 + k] : in[k * plane + i];
        c[k] = clamp_byte(v * scale + offset);
    }
    *r = t.bgr ? c[2] : c[0];
    *g = c[1];
    *b = t.bgr ? c[0] : c[2];
}

// Tensor (from crop_x, crop_y) -> a whole packed RGB/BGR/RGBA/.../GRAY8 frame.
extern "C" __global__ void unpack_packed(
    const float* in, Tensor t, int crop_x, int crop_y, float scale, float offset,
    unsigned char* p0, int s0, int width, int height, int format)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= width || y >= height) return;
    float r, g, b;
    read_tensor(in, t, crop_x + x, crop_y + y, scale, offset, &r, &g, &b);
    unsigned char* row = p0 + (long long)y * s0;
    switch (format) {
    case 0: row[x * 3] = to_u8(r); row[x * 3 + 1] = to_u8(g); row[x * 3 + 2] = to_u8(b); break;
    case 1: row[x * 3 + 2] = to_u8(r); row[x * 3 + 1] = to_u8(g); row[x * 3] = to_u8(b); break;
    case 2: case 3:
        row[x * 4] = to_u8(r); row[x * 4 + 1] = to_u8(g); row[x * 4 + 2] = to_u8(b); row[x * 4 + 3] = 255;
        break;
    case 4: case 5:
        row[x * 4 + 2] = to_u8(r); row[x * 4 + 1] = to_u8(g); row[x * 4] = to_u8(b); row[x * 4 + 3] = 255;
        break;
    default: row[x] = to_u8(0.299f * r + 0.587f * g + 0.114f * b); break;
    }
}

// Tensor -> a whole I420 (nv12 == 0) or NV12 frame; one thread per chroma
// sample writes its (up to) 2x2 luma pixels and its chroma, summing chroma
// over rows first and then over the column pair, as the CPU does.
extern "C" __global__ void unpack_420(
    const float* in, Tensor t, int crop_x, int crop_y, float scale, float offset,
    unsigned char* p0, unsigned char* p1, unsigned char* p2, int s0, int s1, int s2,
    int width, int height, int nv12, RgbToYuv k)
{
    int cx = blockIdx.x * blockDim.x + threadIdx.x;
    int cy = blockIdx.y * blockDim.y + threadIdx.y;
    if (2 * cx >= width || 2 * cy >= height) return;
    int rows = 2 * cy + 1 < height ? 2 : 1;
    int cols = 2 * cx + 1 < width ? 2 : 1;
    float ua[2] = {0.0f, 0.0f}, va[2] = {0.0f, 0.0f};
    for (int dy = 0; dy < rows; dy++) {
        int y = 2 * cy + dy;
        for (int dx = 0; dx < cols; dx++) {
            int x = 2 * cx + dx;
            float r, g, b;
            read_tensor(in, t, crop_x + x, crop_y + y, scale, offset, &r, &g, &b);
            p0[(long long)y * s0 + x] = to_u8(k.y_off + k.y[0] * r + k.y[1] * g + k.y[2] * b);
            float u = k.u[0] * r + k.u[1] * g + k.u[2] * b;
            float v = k.v[0] * r + k.v[1] * g + k.v[2] * b;
            if (dy == 0) { ua[dx] = u; va[dx] = v; } else { ua[dx] += u; va[dx] += v; }
        }
    }
    float inv_rows = 1.0f / (float)rows;
    float u, v;
    if (cols == 2) {
        u = 128.0f + (ua[0] + ua[1]) * (0.5f * inv_rows);
        v = 128.0f + (va[0] + va[1]) * (0.5f * inv_rows);
    } else {
        u = 128.0f + ua[0] * inv_rows;
        v = 128.0f + va[0] * inv_rows;
    }
    if (nv12) {
        p1[(long long)cy * s1 + 2 * cx] = to_u8(u);
        p1[(long long)cy * s1 + 2 * cx + 1] = to_u8(v);
    } else {
        p1[(long long)cy * s1 + cx] = to_u8(u);
        p2[(long long)cy * s2 + cx] = to_u8(v);
    }
}

// ---- f32 <-> f16 (IEEE binary16 bits in an unsigned short), for models that take or give
// f16 (precision=fp16 on CUDA). Integer arithmetic only, so the GPU and the shim agree bit for
// bit; the results are those of the `half` crate the CPU path uses (round to nearest even;
// a NaN keeps its sign and top payload bits, quieted), not of CUDA's __float2half_rn, which
// gives one canonical NaN.

__device__ __forceinline__ unsigned short f16_bits(float v) {
    unsigned x = __float_as_uint(v);
    unsigned sign = (x >> 16) & 0x8000u, exp = x & 0x7F800000u, man = x & 0x007FFFFFu;
    if (exp == 0x7F800000u) return (unsigned short)(sign | 0x7C00u | (man ? 0x0200u : 0u) | (man >> 13));
    int e = (int)(exp >> 23) - 127 + 15;
    if (e >= 0x1F) return (unsigned short)(sign | 0x7C00u);
    if (e <= 0) {
        // A subnormal (or zero): the hidden bit shifted in; rounded on the bits shifted out.
        if (14 - e > 24) return (unsigned short)sign;
        unsigned m = man | 0x00800000u;
        unsigned h = m >> (14 - e);
        unsigned round = 1u << (13 - e);
        if ((m & round) && (m & (3u * round - 1u))) h += 1;
        return (unsigned short)(sign | h);
    }
    // A carry out of the mantissa rounds into the exponent (up to infinity), as it must.
    unsigned h = sign | ((unsigned)e << 10) | (man >> 13);
    if ((man & 0x1000u) && (man & 0x2FFFu)) h += 1;
    return (unsigned short)h;
}

__device__ __forceinline__ float f16_value(unsigned short b) {
    unsigned sign = (unsigned)(b & 0x8000u) << 16, exp = b & 0x7C00u, man = b & 0x03FFu;
    if ((b & 0x7FFFu) == 0) return __uint_as_float(sign);
    if (exp == 0x7C00u) return __uint_as_float(sign | (man ? (0x7FC00000u | (man << 13)) : 0x7F800000u));
    if (exp == 0) {
        // A subnormal: normalised (e >= 1 shifts bring its leading bit to the hidden place).
        int e = 0;
        while (!(man & 0x0400u)) {
            man <<= 1;
            e++;
        }
        return __uint_as_float(sign | ((unsigned)(127 - 15 + 1 - e) << 23) | ((man & 0x03FFu) << 13));
    }
    return __uint_as_float(sign | (((exp >> 10) - 15 + 127) << 23) | (man << 13));
}

extern "C" __global__ void to_f16(const float* in, unsigned short* out, long long n)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = f16_bits(in[i]);
}

extern "C" __global__ void from_f16(const unsigned short* in, float* out, long long n)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = f16_value(in[i]);
}
