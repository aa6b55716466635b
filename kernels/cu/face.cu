// Lip sync's face box operations: the CUDA twins of kernels/src/face.rs.
// crop_resize equals the CPU bit for bit; paste_feathered's mask calls cosf,
// whose CUDA version is within 2 ulp of the C library's, so on a GPU it is
// compared within 1e-5 (values 0..1).

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
