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

// ---------------------------------------------------------------------------------------------
// `interpolate` (kernels/src/cpu/interp/): the frame at time t between two frames from their
// two flows, in the CPU's steps and with its arithmetic in the same order, so that the results
// are equal bit for bit (NVRTC compiles with --fmad=false, the shim with -ffp-contract=off):
// interp_nodes (the CPU's sample_nodes), interp_splat (splat, in the same fixed point, whose
// integer sums do not depend on the order of the atomic additions), interp_merge, pp_pull and
// pp_push (push_pull, one launch per level), interp_visibility and interp_compose (compose,
// one thread per chunk of 8 pixels of a row, as the CPU's chunks).

#define INTERP_LANES 8

// The CPU's `sample1` of `plane_taps`: bilinear, clamped to the w x h plane (w, h >= 2).
__device__ __forceinline__ float interp_sample(const float* p, int w, int h, float x, float y) {
    float fx, fy;
    long long ix = floor_split(clamp_lo(x, 0.0f, (float)(w - 1)), (float)(w - 2), &fx);
    long long iy = floor_split(clamp_lo(y, 0.0f, (float)(h - 1)), (float)(h - 2), &fy);
    const float* q = p + iy * w + ix;
    float top = q[0] + fx * (q[1] - q[0]);
    float bottom = q[w] + fx * (q[w + 1] - q[w]);
    return top + fy * (bottom - top);
}

// The CPU's `bilinear` (interp/mod.rs).
__device__ __forceinline__ float interp_bilinear(const float* p, int w, int h, float x, float y) {
    if (w >= 2 && h >= 2) return interp_sample(p, w, h, x, y);
    return bilinear_line(p, w, h, x, y);
}

// Rust's `maxf`: b when either is NaN.
__device__ __forceinline__ float maxf_(float a, float b) { return a > b ? a : b; }

// The CPU's `node_tap`: left node, fraction (the right node is left + 1; 0, 0 below 2 nodes).
__device__ __forceinline__ long long node_tap(float x, float inv_g, int len, float* f) {
    if (len < 2) {
        *f = 0.0f;
        return 0;
    }
    return floor_split(clamp_lo((x + 0.5f) * inv_g - 0.5f, 0.0f, (float)(len - 1)), (float)(len - 2), f);
}

// Per node (i, j) of frame k = blockIdx.z: its flow at the pixel nearest the node's centre and
// the photometric consistency there; nodes is 2 x gw x gh x 3.
extern "C" __global__ void interp_nodes(const float* f0, const float* f1, const float* flow01, const float* flow10,
                                        int w, int h, int yuv420, int g, int gw, int gh, float inv_scale, float* nodes)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    int j = blockIdx.y * blockDim.y + threadIdx.y;
    int k = blockIdx.z;
    if (i >= gw || j >= gh) return;
    long long n = (long long)w * h;
    const float* flow = k == 0 ? flow01 : flow10;
    const float* here = k == 0 ? f0 : f1;
    const float* there = k == 0 ? f1 : f0;
    int py = min(j * g + g / 2, h - 1), px = min(i * g + g / 2, w - 1);
    float x = (float)px, y = (float)py;
    long long at = (long long)py * w + px;
    float u = flow[at], v = flow[n + at];
    float e = 0.0f;
    if (!yuv420) {
        for (int c = 0; c < 3; c++) {
            float b = interp_bilinear(there + c * n, w, h, x + u, y + v);
            e += fabsf(here[c * n + at] - b);
        }
    } else {
        float b = interp_bilinear(there, w, h, x + u, y + v);
        e += 3.5f * fabsf(here[at] - b);
        int cw = (w + 1) / 2, ch = (h + 1) / 2;
        float cx = (x + u + 0.5f) * 0.5f - 0.5f, cy = (y + v + 0.5f) * 0.5f - 0.5f;
        long long ci = (long long)(py / 2) * cw + px / 2;
        for (int p = 0; p < 2; p++) {
            long long c = n + (long long)p * cw * ch;
            float s = interp_bilinear(there + c, cw, ch, cx, cy);
            e += 2.4f * fabsf(here[c + ci] - s);
        }
    }
    float z = e * inv_scale;
    z = 1.0f + z * z;
    float* o = nodes + ((long long)k * gw * gh + (long long)j * gw + i) * 3;
    o[0] = u;
    o[1] = v;
    o[2] = 1.0f / (z * z);
}

// The CPU's `fixed`: toward zero in units of 2^-24, clamped to 2^30 (NaN to the lowest).
__device__ __forceinline__ unsigned long long splat_fixed(float v) {
    const float lim = 1073741824.0f;
    return (unsigned long long)__float2ll_rz(clamp_lo(v, -lim, lim) * 16777216.0f);
}

// Node (i, j) of frame k = blockIdx.z moved to time t, splatted bilinearly into acc (gw x gh
// x 4 fixed-point sums: coverage, weight, weighted motion x, y; both frames into one sum, as
// the CPU's merge adds its two).
extern "C" __global__ void interp_splat(const float* nodes, int gw, int gh, float inv_g, float t, float floor_weight,
                                        unsigned long long* acc)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    int j = blockIdx.y * blockDim.y + threadIdx.y;
    int k = blockIdx.z;
    if (i >= gw || j >= gh) return;
    float tau = k == 0 ? t : 1.0f - t;
    float sign = k == 0 ? 1.0f : -1.0f;
    const float* s = nodes + ((long long)k * gw * gh + (long long)j * gw + i) * 3;
    float u = s[0], v = s[1], c = s[2];
    float x = (float)i + tau * u * inv_g;
    float y = (float)j + tau * v * inv_g;
    if (!(x > -1.0f && y > -1.0f && x < (float)gw && y < (float)gh)) return;
    float ax, ay;
    long long xi = floor_split(x + 1.0f, (float)gw, &ax);
    long long yi = floor_split(y + 1.0f, (float)gh, &ay);
    float wc = c + floor_weight;
    float mu = sign * u, mv = sign * v;
    for (int dy = 0; dy < 2; dy++) {
        long long yy = yi + dy;
        float wy = dy == 0 ? 1.0f - ay : ay;
        if (yy == 0 || yy > gh) continue;
        for (int dx = 0; dx < 2; dx++) {
            long long xx = xi + dx;
            float wx = dx == 0 ? 1.0f - ax : ax;
            if (xx == 0 || xx > gw) continue;
            float wgt = wx * wy;
            unsigned long long* a = acc + ((yy - 1) * gw + xx - 1) * 4;
            atomicAdd(a + 0, splat_fixed(wgt));
            atomicAdd(a + 1, splat_fixed(wgt * wc));
            atomicAdd(a + 2, splat_fixed(wgt * wc * mu));
            atomicAdd(a + 3, splat_fixed(wgt * wc * mv));
        }
    }
}

// The CPU's `merge1` per node: premultiplied motion and coverage into pull (gn x 3).
extern "C" __global__ void interp_merge(const unsigned long long* acc, long long gn, float* pull)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= gn) return;
    const float unit = 1.0f / 16777216.0f;
    const unsigned long long* a = acc + i * 4;
    float wz = __ll2float_rn((long long)a[1]) * unit;
    float conf = fminf(__ll2float_rn((long long)a[0]) * unit, 1.0f);
    float* o = pull + i * 3;
    if (wz > 0.0f) {
        float k = conf / wz;
        o[0] = __ll2float_rn((long long)a[2]) * unit * k;
        o[1] = __ll2float_rn((long long)a[3]) * unit * k;
        o[2] = conf;
    } else {
        o[0] = o[1] = o[2] = 0.0f;
    }
}

// One pull step of `push_pull`: the coarse (cw x ch) entry (x, y) is the sum of its 2 x 2 fine
// (w x h) entries, in the CPU's order, normalised to at most unit weight.
extern "C" __global__ void pp_pull(const float* fine, int w, int h, float* coarse, int cw, int ch)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= cw || y >= ch) return;
    float c0 = 0.0f, c1 = 0.0f, c2 = 0.0f;
    for (int fy = 2 * y; fy < min(2 * y + 2, h); fy++) {
        for (int fx = 2 * x; fx < min(2 * x + 2, w); fx++) {
            const float* f = fine + ((long long)fy * w + fx) * 3;
            c0 = c0 + f[0];
            c1 = c1 + f[1];
            c2 = c2 + f[2];
        }
    }
    if (c2 > 1.0f) {
        float k = 1.0f / c2;
        c0 = c0 * k;
        c1 = c1 * k;
        c2 = 1.0f;
    }
    float* o = coarse + ((long long)y * cw + x) * 3;
    o[0] = c0;
    o[1] = c1;
    o[2] = c2;
}

// One push step of `push_pull`: entry (x, y) of the w x h level becomes plain motion, its
// missing weight taken from its (already plain) parent, pw wide (for the coarsest level, one
// zero entry: the CPU's zero motion).
extern "C" __global__ void pp_push(float* level, int w, int h, const float* parent, int pw)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= w || y >= h) return;
    const float* q = parent + ((long long)(y / 2) * pw + x / 2) * 3;
    float* e = level + ((long long)y * w + x) * 3;
    float miss = 1.0f - e[2];
    e[0] = e[0] + miss * q[0];
    e[1] = e[1] + miss * q[1];
    e[2] = 1.0f;
}

// The CPU's `consistency`: frame k's node consistency at full-resolution (x, y), bilinear.
__device__ __forceinline__ float node_consistency(const float* nodes, int gw, int gh, float inv_g, float x, float y) {
    float fx, fy;
    long long i0 = node_tap(x, inv_g, gw, &fx), j0 = node_tap(y, inv_g, gh, &fy);
    long long i1 = gw < 2 ? 0 : i0 + 1, j1 = gh < 2 ? 0 : j0 + 1;
    const float* r0 = nodes + j0 * gw * 3;
    const float* r1 = nodes + j1 * gw * 3;
    float top = r0[i0 * 3 + 2] + fx * (r0[i1 * 3 + 2] - r0[i0 * 3 + 2]);
    float bottom = r1[i0 * 3 + 2] + fx * (r1[i1 * 3 + 2] - r1[i0 * 3 + 2]);
    return top + fy * (bottom - top);
}

// Per node: the field (gn x 4: motion at time t from pull, the blend weight of frame 1, 0).
extern "C" __global__ void interp_visibility(const float* nodes, const float* pull, int g, int gw, int gh, float inv_g,
                                             float t, float* field)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    int j = blockIdx.y * blockDim.y + threadIdx.y;
    if (i >= gw || j >= gh) return;
    long long at = (long long)j * gw + i;
    float y = (float)(j * g) + ((float)g - 1.0f) * 0.5f;
    float x = (float)(i * g) + ((float)g - 1.0f) * 0.5f;
    float mx = pull[at * 3], my = pull[at * 3 + 1];
    const float* n1 = nodes + (long long)gw * gh * 3;
    float o0 = 1.0f - node_consistency(nodes, gw, gh, inv_g, x - t * mx, y - t * my);
    float o1 = 1.0f - node_consistency(n1, gw, gh, inv_g, x + (1.0f - t) * mx, y + (1.0f - t) * my);
    float w0 = (1.0f - t) * (1.0f - o1 * (1.0f - o0));
    float w1 = t * (1.0f - o0 * (1.0f - o1));
    float* f = field + at * 4;
    f[0] = mx;
    f[1] = my;
    f[2] = w0 + w1 > 1e-6f ? w1 / (w0 + w1) : t;
    f[3] = 0.0f;
}

// max_c |f0 - f1| at (x, y) over the group's planes (as the CPU's diff_row).
__device__ __forceinline__ float interp_diff(const float* f0, const float* f1, const long long* starts, int planes,
                                             int w, int x, int y) {
    long long at = (long long)y * w + x;
    float d = 0.0f;
    for (int c = 0; c < planes; c++) {
        float e = fabsf(f0[starts[c] + at] - f1[starts[c] + at]);
        d = c == 0 ? e : maxf_(d, e);
    }
    return d;
}

// The CPU's vertical 3-max of the differences at column x, row y.
__device__ __forceinline__ float interp_vmax(const float* f0, const float* f1, const long long* starts, int planes,
                                             int w, int h, int x, int y) {
    float a = interp_diff(f0, f1, starts, planes, w, x, y > 0 ? y - 1 : 0);
    float b = interp_diff(f0, f1, starts, planes, w, x, y);
    float c = interp_diff(f0, f1, starts, planes, w, x, min(y + 1, h - 1));
    return maxf_(maxf_(a, b), c);
}

// The row of motion and blend weight at node column i (clamped to the last), between node rows
// j0 and j1 at fraction fy; lane q of 4.
__device__ __forceinline__ float interp_node_row(const float* field, int gw, long long j0, long long j1, float fy, int i,
                                                 int q) {
    int c = i < gw ? i : gw - 1;
    float a = field[(j0 * gw + c) * 4 + q], b = field[(j1 * gw + c) * 4 + q];
    return a + fy * (b - a);
}

// The CPU's Catmull-Rom weights.
__device__ __forceinline__ void catmull_rom(float f, float* k) {
    float f2 = f * f, f3 = f * f * f;
    k[0] = 0.5f * (-f3 + 2.0f * f2 - f);
    k[1] = 0.5f * (3.0f * f3 - 5.0f * f2 + 2.0f);
    k[2] = 0.5f * (-3.0f * f3 + 4.0f * f2 + f);
    k[3] = 0.5f * (f3 - f2);
}

// Taps of the 8 lanes of chunk x0 of row y moved by kmul times the motion m (the CPU's
// `ChunkTaps::new_large`); returns whether every lane may be sampled bicubically.
__device__ __forceinline__ bool chunk_taps(int x0, float y, float kmul, const float (*m)[INTERP_LANES], int w, int h,
                                           bool cubic, long long* index, float* fxs, float* fys) {
    for (int l = 0; l < INTERP_LANES; l++) {
        float fx, fy;
        long long ix = floor_split(clamp_lo((float)x0 + (float)l + kmul * m[0][l], 0.0f, (float)(w - 1)), (float)(w - 2), &fx);
        long long iy = floor_split(clamp_lo(y + kmul * m[1][l], 0.0f, (float)(h - 1)), (float)(h - 2), &fy);
        index[l] = iy * w + ix;
        fxs[l] = fx;
        fys[l] = fy;
        cubic = cubic && ix >= 1 && iy >= 1 && ix + 2 < w && iy + 2 < h;
    }
    return cubic;
}

// The CPU's `gather_cubic` of one lane.
__device__ __forceinline__ float gather_cubic(const float* p, int w, long long index, float fx, float fy) {
    float kx[4], ky[4];
    catmull_rom(fx, kx);
    catmull_rom(fy, ky);
    const float* q = p + index - w - 1;
    float v = 0.0f;
    for (int r = 0; r < 4; r++) {
        const float* row = q + (long long)r * w;
        v += ky[r] * (kx[0] * row[0] + kx[1] * row[1] + kx[2] * row[2] + kx[3] * row[3]);
    }
    return v;
}

// The CPU's `gather` of one lane.
__device__ __forceinline__ float gather_bilinear(const float* p, int w, long long index, float fx, float fy) {
    const float* r = p + index;
    float top = r[0] + fx * (r[1] - r[0]);
    float bottom = r[w] + fx * (r[w + 1] - r[w]);
    return top + fy * (bottom - top);
}

// The per-pixel pass over one group of planes (the CPU's `compose`): thread (c, y) does pixels
// 8c .. 8c + 7 of row y of every plane of the group (1 to 3 planes of w x h at start0..2 in
// f0, f1 and out), s full-resolution pixels per plane pixel, the field on the gw x gh node grid
// with spacing 1 / inv_g; ka = -t / s and kb = (1 - t) / s.
extern "C" __global__ void interp_compose(const float* f0, const float* f1, float* out, long long start0,
                                          long long start1, long long start2, int planes, int w, int h, float s,
                                          const float* field, int gw, int gh, float inv_g, float t, float ka, float kb,
                                          int cubic, float static_hi, float inv_static)
{
    int chunk = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    int x0 = chunk * INTERP_LANES;
    if (x0 >= w || y >= h) return;
    int lanes = min(INTERP_LANES, w - x0);
    long long starts[3] = {start0, start1, start2};
    long long row = (long long)y * w;
    // The static blend everywhere.
    for (int c = 0; c < planes; c++) {
        for (int l = 0; l < lanes; l++) {
            long long at = starts[c] + row + x0 + l;
            float a = f0[at], b = f1[at];
            out[at] = a + t * (b - a);
        }
    }
    if (w < 2 || h < 2) return;
    // The weight of the motion-compensated value: 1 - the static weight, from the 3 x 3
    // maximum of the frame difference.
    float keep[INTERP_LANES];
    bool any = false;
    for (int l = 0; l < lanes; l++) {
        int x = x0 + l;
        float m;
        if (x == 0) {
            m = maxf_(interp_vmax(f0, f1, starts, planes, w, h, 0, y), interp_vmax(f0, f1, starts, planes, w, h, min(1, w - 1), y));
        } else if (x == w - 1) {
            m = maxf_(interp_vmax(f0, f1, starts, planes, w, h, w - 1, y), interp_vmax(f0, f1, starts, planes, w, h, w - 2, y));
        } else {
            m = maxf_(maxf_(interp_vmax(f0, f1, starts, planes, w, h, x - 1, y), interp_vmax(f0, f1, starts, planes, w, h, x, y)),
                      interp_vmax(f0, f1, starts, planes, w, h, x + 1, y));
        }
        keep[l] = 1.0f - clamp_lo((static_hi - m) * inv_static, 0.0f, 1.0f);
        any = any || !(keep[l] <= 0.0f);
    }
    if (!any) return;
    // Motion and blend weight per lane from the node rows around y.
    float fy_node;
    long long j0 = node_tap(((float)y + 0.5f) * s - 0.5f, inv_g, gh, &fy_node);
    long long j1 = gh < 2 ? 0 : j0 + 1;
    float m[3][INTERP_LANES];
    for (int l = 0; l < INTERP_LANES; l++) {
        m[0][l] = m[1][l] = m[2][l] = 0.0f;
        if (l >= lanes) continue;
        float f;
        long long i0 = node_tap(((float)(x0 + l) + 0.5f) * s - 0.5f, inv_g, gw, &f);
        for (int q = 0; q < 3; q++) {
            float a = interp_node_row(field, gw, j0, j1, fy_node, (int)i0, q);
            float b = interp_node_row(field, gw, j0, j1, fy_node, (int)i0 + 1, q);
            m[q][l] = a + f * (b - a);
        }
    }
    long long ia[INTERP_LANES], ib[INTERP_LANES];
    float fxa[INTERP_LANES], fya[INTERP_LANES], fxb[INTERP_LANES], fyb[INTERP_LANES];
    bool ca = chunk_taps(x0, (float)y, ka, m, w, h, cubic != 0, ia, fxa, fya);
    bool cb = chunk_taps(x0, (float)y, kb, m, w, h, cubic != 0, ib, fxb, fyb);
    bool bicubic = ca && cb;
    for (int c = 0; c < planes; c++) {
        const float* p0 = f0 + starts[c];
        const float* p1 = f1 + starts[c];
        for (int l = 0; l < lanes; l++) {
            float a = bicubic ? gather_cubic(p0, w, ia[l], fxa[l], fya[l]) : gather_bilinear(p0, w, ia[l], fxa[l], fya[l]);
            float b = bicubic ? gather_cubic(p1, w, ib[l], fxb[l], fyb[l]) : gather_bilinear(p1, w, ib[l], fxb[l], fyb[l]);
            long long at = starts[c] + row + x0 + l;
            float st = out[at];
            out[at] = st + keep[l] * (a + m[2][l] * (b - a) - st);
        }
    }
}
