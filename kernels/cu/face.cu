// Lip sync's face box operations: the CUDA twins of kernels/src/face.rs, and
// the built-in mouth animation's two per-pixel passes (kernels/src/mouth/plan.rs).
// crop_resize equals the CPU bit for bit; paste_feathered's mask calls cosf,
// whose CUDA version is within 2 ulp of the C library's, so on a GPU it is
// compared within 1e-5 (values 0..1). The mouth passes call cosf and powf
// (4 ulp in CUDA): bit for bit on the shim, within a tolerance on a GPU
// (docs/gpu.md).

struct FaceBox {
    float x, y, w, h;
};

// face.rs's `bilinear`: coordinates clamped to the image (Rust's clamp).
__device__ __forceinline__ float face_bilinear(const float* p, int w, int h, float x, float y) {
    float hx = (float)(w - 1), hy = (float)(h - 1);
    x = x < 0.0f ? 0.0f : (x > hx ? hx : x);
    y = y < 0.0f ? 0.0f : (y > hy ? hy : y);
    long long x0 = (long long)floorf(x), y0 = (long long)floorf(y);
    long long x1 = x0 + 1 < w - 1 ? x0 + 1 : w - 1, y1 = y0 + 1 < h - 1 ? y0 + 1 : h - 1;
    float fx = x - (float)x0, fy = y - (float)y0;
    float top = p[y0 * w + x0] * (1.0f - fx) + p[y0 * w + x1] * fx;
    float bottom = p[y1 * w + x0] * (1.0f - fx) + p[y1 * w + x1] * fx;
    return top * (1.0f - fy) + bottom * fy;
}

// Box b of the frame (fw x fh, 3 planes) resampled to a pw x ph patch.
extern "C" __global__ void crop_resize(const float* frame, int fw, int fh, FaceBox b, float* patch, int pw, int ph)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= pw || y >= ph) return;
    float sx = b.w / (float)pw, sy = b.h / (float)ph;
    long long fn_ = (long long)fw * fh, pn = (long long)pw * ph;
    float fy = b.y + ((float)y + 0.5f) * sy - 0.5f;
    float fx = b.x + ((float)x + 0.5f) * sx - 0.5f;
    for (int c = 0; c < 3; c++) patch[c * pn + (long long)y * pw + x] = face_bilinear(frame + c * fn_, fw, fh, fx, fy);
}

// Raised cosine 0 -> 1 over 0..1.
__device__ __forceinline__ float face_ramp(float t) {
    t = t < 0.0f ? 0.0f : (t > 1.0f ? 1.0f : t);
    return 0.5f - 0.5f * cosf(3.14159265358979323846f * t);
}

// The patch blended into box b of the frame over the pixels x0..x1, y0..y1
// (the box's pixels inside the frame, computed on the host as face.rs does).
extern "C" __global__ void paste_feathered(
    float* frame, int fw, int fh, FaceBox b, const float* patch, int pw, int ph, float feather,
    int x0, int y0, int x1, int y1)
{
    int x = x0 + blockIdx.x * blockDim.x + threadIdx.x;
    int y = y0 + blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= x1 || y >= y1) return;
    float cy = (float)y + 0.5f;
    float dy = fminf(cy - b.y, b.y + b.h - cy);
    if (dy <= 0.0f) return;
    float cx = (float)x + 0.5f;
    float dx = fminf(cx - b.x, b.x + b.w - cx);
    if (dx <= 0.0f) return;
    float m = feather > 0.0f ? face_ramp(dx / feather) * face_ramp(dy / feather) : 1.0f;
    if (m <= 0.0f) return;
    float sx = (float)pw / b.w, sy = (float)ph / b.h;
    float px = (cx - b.x) * sx - 0.5f, py = (cy - b.y) * sy - 0.5f;
    long long fn_ = (long long)fw * fh, pn = (long long)pw * ph;
    for (int c = 0; c < 3; c++) {
        float v = face_bilinear(patch + c * pn, pw, ph, px, py);
        float* o = frame + c * fn_ + (long long)y * fw + x;
        *o = *o + m * (v - *o);
    }
}

// ---- The mouth animation (kernels/src/mouth/plan.rs, line for line) ----

#define MOUTH_TABLE 65

// Laid out as plan.rs's repr(C) MouthPlan: every field an f32.
struct MouthAxes {
    float c[2], u[2], v[2], a;
};
struct MouthLook {
    float blur, deep[3], tongue[3], white[3];
};
struct MouthPlan {
    MouthAxes ax;
    MouthLook look;
    float nose_t, top, bottom, fade, g_up, g_down, open, power, spread, edge, teeth;
    float line[MOUTH_TABLE], upper[MOUTH_TABLE];
};

__device__ __forceinline__ float mouth_clamp(float t, float lo, float hi) {
    return t < lo ? lo : (t > hi ? hi : t);
}

__device__ __forceinline__ void mouth_st(const MouthAxes& ax, float x, float y, float* s, float* t) {
    float dx = x - ax.c[0], dy = y - ax.c[1];
    *s = dx * ax.u[0] + dy * ax.u[1];
    *t = dx * ax.v[0] + dy * ax.v[1];
}

__device__ __forceinline__ float mouth_at(const MouthAxes& ax, const float* table, float s) {
    float f = mouth_clamp((s / ax.a + 1.0f) * 0.5f * (float)(MOUTH_TABLE - 1), 0.0f, (float)(MOUTH_TABLE - 1));
    int i = min(__float2int_rd(f), MOUTH_TABLE - 2);
    float k = f - (float)i;
    return table[i] * (1.0f - k) + table[i + 1] * k;
}

// Signed distance to the polygon's edge (count points, x y pairs): positive inside.
__device__ float mouth_inside_distance(const float* poly, int count, float x, float y) {
    float best = __int_as_float(0x7f800000);  // +infinity
    bool inside = false;
    for (int i = 0; i < count; i++) {
        const float* p = poly + 2 * i;
        const float* q = poly + 2 * ((i + 1) % count);
        if ((p[1] > y) != (q[1] > y) && x < p[0] + (y - p[1]) * (q[0] - p[0]) / (q[1] - p[1])) inside = !inside;
        float ex = q[0] - p[0], ey = q[1] - p[1];
        float len2 = ex * ex + ey * ey;
        float k = len2 > 0.0f ? mouth_clamp(((x - p[0]) * ex + (y - p[1]) * ey) / len2, 0.0f, 1.0f) : 0.0f;
        float dx = x - p[0] - k * ex, dy = y - p[1] - k * ey;
        best = fminf(best, dx * dx + dy * dy);
    }
    return inside ? sqrtf(best) : -sqrtf(best);
}

__device__ __forceinline__ float mouth_profile(float u, float power) {
    float q = 1.0f - u * u;
    return q <= 0.0f ? 0.0f : powf(q, power);
}

__device__ __forceinline__ float mouth_smooth(float t) {
    t = mouth_clamp(t, 0.0f, 1.0f);
    return t * t * (3.0f - 2.0f * t);
}

// Pass 1: the forward displacements of the parts above and below the lip line at each pixel
// (up: x plane then y plane, down likewise), zero above the nose's line and outside the outline.
extern "C" __global__ void open_mouth_field(
    const MouthPlan* plan, const float* oval, int count, int w, int h, float* up, float* down)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= w || y >= h) return;
    const MouthPlan& p = *plan;
    const MouthAxes& ax = p.ax;
    float a = ax.a;
    long long n = (long long)w * h, i = (long long)y * w + x;
    float px = (float)x + 0.5f, py = (float)y + 0.5f;
    float s, t;
    mouth_st(ax, px, py, &s, &t);
    float d[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    float edge = t <= p.nose_t ? 0.0f : mouth_inside_distance(oval, count, px, py);
    if (!(t <= p.nose_t) && !(edge <= 0.0f)) {
        float face = face_ramp(edge / p.fade);
        float below_nose = face_ramp((t - p.nose_t) / fmaxf(mouth_at(ax, p.upper, s) - p.nose_t, 1.0f));
        float lateral = fabsf(s) <= a ? s : copysignf(a, s) * face_ramp(2.0f - fabsf(s) / a);
        float across = t < p.top ? face_ramp((t - p.nose_t) / (p.top - p.nose_t))
                                 : face_ramp(1.0f - (t - p.bottom) / a);
        float dx = p.spread * lateral * across * face;
        float dy_up = -p.g_up * mouth_profile(s / a, p.power) * below_nose * face;
        float reach = a + 0.9f * fmaxf(t - p.bottom, 0.0f);
        float dy_down = p.g_down * mouth_profile(s / reach, p.power) * face;
        float ddx = dx * ax.u[0], ddy = dx * ax.u[1];
        d[0] = ddx + dy_up * ax.v[0];
        d[1] = ddy + dy_up * ax.v[1];
        d[2] = ddx + dy_down * ax.v[0];
        d[3] = ddy + dy_down * ax.v[1];
    }
    up[i] = d[0];
    up[n + i] = d[1];
    down[i] = d[2];
    down[n + i] = d[3];
}

// Where the pixel centre (px, py) came from under field f: q + f(q) = p by 16 fixed-point steps.
__device__ __forceinline__ void mouth_source(const float* f, int w, int h, float px, float py, float* sx, float* sy) {
    long long n = (long long)w * h;
    float qx = px, qy = py;
    for (int k = 0; k < 16; k++) {
        float dx = face_bilinear(f, w, h, qx - 0.5f, qy - 0.5f);
        float dy = face_bilinear(f + n, w, h, qx - 0.5f, qy - 0.5f);
        qx = px - dx;
        qy = py - dy;
    }
    *sx = qx;
    *sy = qy;
}

// inside.rs's cavity: the colour inside the opening.
__device__ void mouth_cavity(const MouthPlan& p, const float* lo, const float* hi, float from_top, float from_bottom,
                             float s, float* c)
{
    const MouthLook& lk = p.look;
    float a = p.ax.a, open = p.open;
    float ft = fmaxf(from_top, 0.0f), fb = fmaxf(from_bottom, 0.0f);
    float tall = ft + fb;
    float rim_width = 0.15f * open + 0.6f * lk.blur;
    float deep = mouth_smooth(fminf(ft, fb) / rim_width);
    float low = tall > 0.0f ? mouth_smooth((ft / tall - 0.55f) / 0.45f) : 0.0f;
    for (int k = 0; k < 3; k++) {
        float rim = 0.45f * 0.5f * (lo[k] + hi[k]);
        float inner = lk.deep[k] + (lk.tongue[k] - lk.deep[k]) * low * mouth_smooth(open / (0.4f * a));
        c[k] = rim + (inner - rim) * deep;
    }
    if (p.teeth > 0.0f) {
        float band = 0.16f * a;
        float soft = 1.0f + 2.0f * lk.blur;
        float room = mouth_smooth((tall - 1.5f * band) / band);
        float under = mouth_smooth((band - ft) / soft + 0.5f);
        float shade = 0.55f + 0.45f * mouth_profile(s / a, 1.0f);
        float alpha = p.teeth * room * under * mouth_smooth(1.0f - fabsf(s / a) * 1.1f);
        for (int k = 0; k < 3; k++) c[k] += alpha * (lk.white[k] * shade - c[k]);
    }
}

// Pass 2: each pixel's sources under both fields, blended by which side of the lip line they
// lie on, the inside of the opening where neither covers it; the source's colour elsewhere.
extern "C" __global__ void open_mouth_shade(
    const MouthPlan* plan, const float* src, int w, int h, const float* up, const float* down, float* dst)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= w || y >= h) return;
    const MouthPlan& p = *plan;
    const MouthAxes& ax = p.ax;
    long long n = (long long)w * h, i = (long long)y * w + x;
    float px = (float)x + 0.5f, py = (float)y + 0.5f;
    float s, t;
    mouth_st(ax, px, py, &s, &t);
    float lx = px, ly = py, hx = px, hy = py;
    if (!(t <= p.nose_t - 1.0f)) {
        mouth_source(down, w, h, px, py, &lx, &ly);
        mouth_source(up, w, h, px, py, &hx, &hy);
    }
    if (lx == px && ly == py && hx == px && hy == py) {
        for (int c = 0; c < 3; c++) dst[c * n + i] = src[c * n + i];
        return;
    }
    float ls, lt, hs, ht;
    mouth_st(ax, lx, ly, &ls, &lt);
    mouth_st(ax, hx, hy, &hs, &ht);
    float below = lt - mouth_at(ax, p.line, ls);
    float above = mouth_at(ax, p.line, hs) - ht;
    float wl = mouth_clamp(below / p.edge + 0.5f, 0.0f, 1.0f), wu = mouth_clamp(above / p.edge + 0.5f, 0.0f, 1.0f);
    float cover = wl + wu;
    if (cover > 1.0f) {
        wl = wl / cover;
        wu = wu / cover;
    }
    float wi = fmaxf(1.0f - wl - wu, 0.0f);
    float lo[3], hi[3], inside[3] = {0.0f, 0.0f, 0.0f};
    for (int c = 0; c < 3; c++) {
        lo[c] = face_bilinear(src + c * n, w, h, lx - 0.5f, ly - 0.5f);
        hi[c] = face_bilinear(src + c * n, w, h, hx - 0.5f, hy - 0.5f);
    }
    if (wi > 0.0f) mouth_cavity(p, lo, hi, -above, -below, hs, inside);
    for (int c = 0; c < 3; c++) dst[c * n + i] = wl * lo[c] + wu * hi[c] + wi * inside[c];
}
