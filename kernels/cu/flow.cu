// The optical flow's image pyramid: the CUDA twins of build_pyramid's steps in
// kernels/src/cpu/flow.rs (box_down, blur121, Padded::fill_border). Levels are
// padded images: (w + 2 pad) x (h + 2 pad), interior pixel (x, y) at
// (y + pad) * stride + x + pad, the border a copy of the nearest edge pixel.
// All equal the CPU bit for bit. Not yet written: the inverse search and the
// densification.

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
