// Separable resampling of C x H x W f32 planes: the CUDA twin of
// kernels/src/cpu/resize.rs. The taps (source indices clamped to the edge,
// and weights) are computed on the host by the same functions the CPU uses
// and uploaded, so both backends sum the same terms in the same order.
// `taps` is 2 (bilinear) or 4 (bicubic).

// Every row (all channels alike) from sw to dw values.
extern "C" __global__ void resize_rows(
    const float* src, int sw, float* dst, int dw, int rows,
    const int* index, const float* weight, int taps)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int r = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= dw || r >= rows) return;
    const float* row = src + (long long)r * sw;
    float acc = 0.0f;
    for (int k = 0; k < taps; k++) acc += weight[x * taps + k] * row[index[x * taps + k]];
    dst[(long long)r * dw + x] = acc;
}

// Every column of each of `channels` planes from sh to dh rows.
extern "C" __global__ void resize_columns(
    const float* src, int sh, float* dst, int dh, int width, int channels,
    const int* index, const float* weight, int taps)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int r = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= width || r >= channels * dh) return;
    int c = r / dh, y = r % dh;
    const float* plane = src + (long long)c * sh * width;
    float acc = 0.0f;
    for (int k = 0; k < taps; k++) acc += weight[y * taps + k] * plane[(long long)index[y * taps + k] * width + x];
    dst[(long long)r * width + x] = acc;
}
