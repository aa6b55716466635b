// Tile merging: the CUDA twin of kernels/src/cpu/tile.rs. The canvas is three
// planes of weighted sums and one plane of summed weights, canvas_width wide.
// A tile's output (the rw x rh window at (sx, sy) of a 3-channel tensor,
// values mapped to 0..1 by scale and offset) is added at (x0, y0) with weight
// wy[y] * wx[x]; the window skips the context margin a model was given around
// the tile, as the CPU's crop does. Tiles are
// accumulated one after another on one stream, so no two threads ever add to
// the same canvas pixel at once.

struct Tensor {
    int width, height, nhwc, bgr;
};

extern "C" __global__ void tile_accumulate(
    float* sum, float* weight_sum, int canvas_width, long long plane,
    int x0, int y0, const float* wx, const float* wy, int rw, int rh,
    const float* in, int sx, int sy, Tensor t, float scale, float offset)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= rw || y >= rh) return;
    long long tp = (long long)t.width * t.height;
    long long ti = (long long)(sy + y) * t.width + sx + x;
    float c[3];
    for (int k = 0; k < 3; k++) c[k] = (t.nhwc ? in[ti * 3 + k] : in[k * tp + ti]) * scale + offset;
    float r = t.bgr ? c[2] : c[0], g = c[1], b = t.bgr ? c[0] : c[2];
    float w = wy[y] * wx[x];
    long long at = (long long)(y0 + y) * canvas_width + x0 + x;
    sum[at] += w * r;
    sum[plane + at] += w * g;
    sum[2 * plane + at] += w * b;
    weight_sum[at] += w;
}

// Divides each of the 3 sum planes by the (all positive) summed weights.
extern "C" __global__ void tile_normalise(float* sum, const float* weight_sum, long long plane)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= plane) return;
    float w = weight_sum[i];
    sum[i] /= w;
    sum[plane + i] /= w;
    sum[2 * plane + i] /= w;
}
