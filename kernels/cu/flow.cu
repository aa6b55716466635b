// The optical flow's image pyramid: the CUDA twins of build_pyramid's steps in
// kernels/src/cpu/flow.rs (box_down, blur121, Padded::fill_border). Levels are
// padded images: (w + 2 pad) x (h + 2 pad), interior pixel (x, y) at
// (y + pad) * stride + x + pad, the border a copy of the nearest edge pixel.
// Then, per level, the inverse search (search_patches, one thread per patch) and the
// densification (densify, one thread per pixel gathering the patches that cover it, in the
// CPU's patch order). All equal the CPU bit for bit (fmad off; sums in the CPU's order).

// dst interior = the f x f box average of src, whose row y starts at
// start + y * stride: per output pixel, the f columns summed down the f rows,
// then the f column sums added (from -0.0, as Rust's f32 sum), times scale.
extern "C" __global__ void box_down(const float* src, long long start, long long stride, int f, float scale,
                                    float* dst, int dw, int dh, int pad)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= dw || y >= dh) return;
    float o = -0.0f;
    for (int j = 0; j < f; j++) {
        long long col = (long long)x * f + j;
        float s = src[start + (long long)y * f * stride + col];
        for (int k = 1; k < f; k++) s += src[start + ((long long)y * f + k) * stride + col];
        o += s;
    }
    long long dstride = dw + 2 * pad;
    dst[(long long)(y + pad) * dstride + x + pad] = o * scale;
}

// Copies the nearest edge pixel into every border pixel.
extern "C" __global__ void fill_border(float* img, int w, int h, int pad)
{
    int px = blockIdx.x * blockDim.x + threadIdx.x;
    int py = blockIdx.y * blockDim.y + threadIdx.y;
    int stride = w + 2 * pad;
    if (px >= stride || py >= h + 2 * pad) return;
    int x = px - pad, y = py - pad;
    if (x >= 0 && x < w && y >= 0 && y < h) return;
    int sx = x < 0 ? 0 : (x >= w ? w - 1 : x);
    int sy = y < 0 ? 0 : (y >= h ? h - 1 : y);
    img[(long long)py * stride + px] = img[(long long)(sy + pad) * stride + sx + pad];
}

// [1 2 1] / 4 along rows of the padded image (its border holds the edges)
// into tmp (w x h).
extern "C" __global__ void blur_rows(const float* img, int w, int h, int pad, float* tmp)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= w || y >= h) return;
    const float* row = img + (long long)(y + pad) * (w + 2 * pad) + pad;
    tmp[(long long)y * w + x] = 0.25f * (row[x - 1] + row[x + 1]) + 0.5f * row[x];
}

// [1 2 1] / 4 down the columns of tmp (edge rows repeated) into the interior.
extern "C" __global__ void blur_columns(const float* tmp, int w, int h, int pad, float* img)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= w || y >= h) return;
    int up = y > 0 ? y - 1 : 0, down = y + 1 < h ? y + 1 : h - 1;
    float a = tmp[(long long)up * w + x], b = tmp[(long long)y * w + x], c = tmp[(long long)down * w + x];
    img[(long long)(y + pad) * (w + 2 * pad) + x + pad] = 0.25f * (a + c) + 0.5f * b;
}

// The patch grid along an axis of length len: patch i at min(i s, len - p).
__device__ __forceinline__ int patch_at(int i, int s, int len, int p)
{
    int v = i * s;
    return v < len - p ? v : len - p;
}

// Rust's f32 clamp (NaN stays NaN).
__device__ __forceinline__ float clampf(float v, float lo, float hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

// The bilinear weights and top-left index (in the padded image) of a p x p window whose
// top-left corner is at interior (x, y), clamped into the border: sample_window's set-up.
struct Window {
    long long base;
    float w00, w10, w01, w11;
};

__device__ __forceinline__ Window window_at(float x, float y, int w, int h, int pad, int p)
{
    float fp = (float)pad;
    x = clampf(x, -fp, (float)(w + pad - p - 1));
    y = clampf(y, -fp, (float)(h + pad - p - 1));
    float px = x + fp, py = y + fp;
    int ix = __float2int_rz(px), iy = __float2int_rz(py);
    float ax = px - (float)ix, ay = py - (float)iy;
    Window win;
    win.base = (long long)iy * (w + 2 * pad) + ix;
    win.w00 = (1.0f - ax) * (1.0f - ay);
    win.w10 = ax * (1.0f - ay);
    win.w01 = (1.0f - ax) * ay;
    win.w11 = ax * ay;
    return win;
}

__device__ __forceinline__ float window_value(const float* img, const Window& win, long long stride, int r, int c)
{
    const float* r0 = img + win.base + (long long)r * stride;
    const float* r1 = r0 + stride;
    return win.w00 * r0[c] + win.w10 * r0[c + 1] + win.w01 * r1[c] + win.w11 * r1[c + 1];
}

// Inverse-compositional Gauss-Newton for the translation of each p x p patch (p <= 16) of the
// grid (nx x ny patches, stride s) between padded levels a and b (w x h, border pad >= p + 2),
// starting from the flow of the coarser level (init, interleaved cw x ch, sampled at the patch
// centre and doubled) when has_init, else from zero: search_patches and search_patch in
// kernels/src/cpu/flow.rs, step for step. out: nx x ny interleaved (u, v).
extern "C" __global__ void search_patches(const float* a, const float* b, int w, int h, int pad, int p, int s,
                                          int nx, int ny, const float* init, int cw, int ch, int has_init,
                                          int iters, float converged, float* out)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    int j = blockIdx.y * blockDim.y + threadIdx.y;
    if (i >= nx || j >= ny) return;
    int x0 = patch_at(i, s, w, p), y0 = patch_at(j, s, h, p);
    float su = 0.0f, sv = 0.0f;
    if (has_init) {
        float half = ((float)p - 1.0f) * 0.5f;
        float cx = ((float)x0 + half + 0.5f) * 0.5f - 0.5f;
        float cy = ((float)y0 + half + 0.5f) * 0.5f - 0.5f;
        cx = clampf(cx, 0.0f, (float)(cw - 1));
        cy = clampf(cy, 0.0f, (float)(ch - 1));
        int fx0 = __float2int_rz(cx), fy0 = __float2int_rz(cy);
        int fx1 = fx0 + 1 < cw ? fx0 + 1 : cw - 1, fy1 = fy0 + 1 < ch ? fy0 + 1 : ch - 1;
        float fx = cx - (float)fx0, fy = cy - (float)fy0;
        float uv[2];
        for (int k = 0; k < 2; k++) {
            float f00 = init[2 * ((long long)fy0 * cw + fx0) + k], f10 = init[2 * ((long long)fy0 * cw + fx1) + k];
            float f01 = init[2 * ((long long)fy1 * cw + fx0) + k], f11 = init[2 * ((long long)fy1 * cw + fx1) + k];
            float top = f00 + fx * (f10 - f00);
            float bottom = f01 + fx * (f11 - f01);
            uv[k] = top + fy * (bottom - top);
        }
        su = 2.0f * uv[0];
        sv = 2.0f * uv[1];
    }
    float tpl[256], gx[256], gy[256], win[256];
    long long stride = w + 2 * pad;
    long long base = (long long)(y0 + pad) * stride + x0 + pad;
    for (int r = 0; r < p; r++) {
        long long at = base + r * stride;
        for (int c = 0; c < p; c++) {
            tpl[r * p + c] = a[at + c];
            gx[r * p + c] = 0.5f * (a[at + c + 1] - a[at + c - 1]);
            gy[r * p + c] = 0.5f * (a[at + stride + c] - a[at - stride + c]);
        }
    }
    int n = p * p;
    float inv_n = 1.0f / (float)n;
    float* planes[3] = {tpl, gx, gy};
    for (int k = 0; k < 3; k++) {
        float* v = planes[k];
        float sum = -0.0f;
        for (int q = 0; q < n; q++) sum += v[q];
        float mean = sum * inv_n;
        for (int q = 0; q < n; q++) v[q] -= mean;
    }
    float hxx = 0.0f, hxy = 0.0f, hyy = 0.0f;
    for (int q = 0; q < n; q++) {
        hxx += gx[q] * gx[q];
        hxy += gx[q] * gy[q];
        hyy += gy[q] * gy[q];
    }
    float reg = (float)n * 1.5e-6f;
    hxx += reg;
    hyy += reg;
    float inv_det = 1.0f / (hxx * hyy - hxy * hxy);

    float u = su, v = sv;
    float best_e = __int_as_float(0x7f800000), best_u = su, best_v = sv;
    float limit = (float)n;
    for (int it = 0; it <= iters; it++) {
        Window wb = window_at((float)x0 + u, (float)y0 + v, w, h, pad, p);
        float sum = -0.0f;
        for (int r = 0; r < p; r++) {
            for (int c = 0; c < p; c++) {
                float x = window_value(b, wb, stride, r, c);
                win[r * p + c] = x;
                sum += x;
            }
        }
        float mean = sum * inv_n;
        float e = 0.0f, bx = 0.0f, by = 0.0f;
        for (int q = 0; q < n; q++) {
            float d = win[q] - tpl[q];
            float res = d - mean;
            e += res * res;
            bx += gx[q] * d;
            by += gy[q] * d;
        }
        if (e < best_e) {
            best_e = e;
            best_u = u;
            best_v = v;
        }
        if (it == iters) break;
        float du = (hyy * bx - hxy * by) * inv_det;
        float dv = (hxx * by - hxy * bx) * inv_det;
        u -= du;
        v -= dv;
        float tu = u - su, tv = v - sv;
        float wander = tu * tu + tv * tv;
        if (du * du + dv * dv < converged * converged || wander > limit || wander != wander) break;
    }
    long long o = 2 * ((long long)j * nx + i);
    out[o] = best_u;
    out[o + 1] = best_v;
}

// Each pixel's flow: the average of the flows of the patches covering it, weighted by
// 1 / max(|b(x + u) - a(x)|, eps)^2, summed in the CPU's patch order (rows of patches, then
// columns): densify in kernels/src/cpu/flow.rs. flow: w x h interleaved (u, v).
extern "C" __global__ void densify(const float* a, const float* b, int w, int h, int pad, int p, int s, int nx,
                                   int ny, const float* patches, float eps, float* flow)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= w || y >= h) return;
    long long stride = w + 2 * pad;
    float av = a[(long long)(y + pad) * stride + x + pad];
    float su = 0.0f, sv = 0.0f, sw = 0.0f;
    // Patches before these start p or more pixels before (x, y).
    int j0 = y - p + 1 > 0 ? (y - p + 1 + s - 1) / s : 0;
    int i0 = x - p + 1 > 0 ? (x - p + 1 + s - 1) / s : 0;
    for (int j = j0; j < ny; j++) {
        int y0 = patch_at(j, s, h, p);
        if (y0 > y) break;
        if (y0 + p <= y) continue;
        for (int i = i0; i < nx; i++) {
            int x0 = patch_at(i, s, w, p);
            if (x0 > x) break;
            if (x0 + p <= x) continue;
            long long k = 2 * ((long long)j * nx + i);
            float u = patches[k], v = patches[k + 1];
            Window wb = window_at((float)x0 + u, (float)y0 + v, w, h, pad, p);
            float bv = window_value(b, wb, stride, y - y0, x - x0);
            float e = fmaxf(fabsf(bv - av), eps);
            float l = 1.0f / (e * e);
            su += l * u;
            sv += l * v;
            sw += l;
        }
    }
    float inv = 1.0f / sw;
    long long o = 2 * ((long long)y * w + x);
    flow[o] = su * inv;
    flow[o + 1] = sv * inv;
}

// The dense flow of the finest level (interleaved, lw x lh) bilinearly upsampled by s = 2^ds
// to planar w x h (x plane, then y), half-pixel centres, clamped at the edges, vectors times s:
// upsample in kernels/src/cpu/flow.rs, per output pixel (each level interval expands into s
// outputs at fractions (k + 0.5) / s; s / 2 outputs left of the first, the rest right of the last
// clamped).
__device__ __forceinline__ float upsample_column(const float* flow, int lw, int j0, int j1, float fy, int col, int k,
                                                 float scale)
{
    float a = flow[2 * ((long long)j0 * lw + col) + k], b = flow[2 * ((long long)j1 * lw + col) + k];
    return (a + fy * (b - a)) * scale;
}

extern "C" __global__ void upsample_flow(const float* flow, int lw, int lh, int s, int w, int h, float* out)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= w || y >= h) return;
    float scale = (float)s;
    float v = clampf(((float)y + 0.5f) / scale - 0.5f, 0.0f, (float)(lh - 1));
    int j0 = __float2int_rz(v);
    int j1 = j0 + 1 < lh ? j0 + 1 : lh - 1;
    float fy = v - (float)j0;
    for (int k = 0; k < 2; k++) {
        float o;
        if (s == 1) {
            o = upsample_column(flow, lw, j0, j1, fy, x, k, scale);
        } else {
            int left = s / 2 < w ? s / 2 : w;
            int whole = (w - left) / s < lw - 1 ? (w - left) / s : lw - 1;
            int idx = (x - left) / s;
            if (x < left) {
                o = upsample_column(flow, lw, j0, j1, fy, 0, k, scale);
            } else if (idx < whole || (whole < lw - 1 && idx == whole)) {
                float p0 = upsample_column(flow, lw, j0, j1, fy, idx, k, scale);
                float p1 = upsample_column(flow, lw, j0, j1, fy, idx + 1, k, scale);
                float f = ((float)((x - left) % s) + 0.5f) / scale;
                o = p0 + f * (p1 - p0);
            } else {
                o = upsample_column(flow, lw, j0, j1, fy, lw - 1, k, scale);
            }
        }
        out[(long long)k * w * h + (long long)y * w + x] = o;
    }
}
