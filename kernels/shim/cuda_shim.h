// The CPU shim: just enough of CUDA's device-side C++ for the kernels in kernels/cu/ to compile
// with the system C++ compiler and run on the CPU, so that CI executes them (docs/gpu.md,
// "The CPU shim"). Each kernel source is compiled in a namespace of its own after this header;
// launcher.cpp walks the grid.
//
// What holds (the same as on a GPU):
// - threadIdx, blockIdx, blockDim, gridDim, per emulated thread.
// - float arithmetic: IEEE single precision, round to nearest, no fused multiply-add (the shim is
//   compiled with -ffp-contract=off, the kernels by NVRTC with fmad off), denormals kept (NVRTC's
//   default ftz=false), IEEE division and square root (NVRTC's defaults prec-div, prec-sqrt).
// - fminf/fmaxf (NaN yields the other operand), floorf, ceilf, truncf, rintf, roundf, fabsf,
//   sqrtf, fmaf: the C library's, which CUDA matches exactly.
// - The conversion intrinsics (__float2int_rn/rz/rd/ru, __float2uint_rn, __float2ll_rz,
//   __saturatef) with CUDA's saturation: out of range clamps, NaN gives 0 (our kernels never pass
//   NaN to __float2ll_rz, whose NaN result CUDA does not document); __int2float_rn and
//   __ll2float_rn round to nearest, as a C++ conversion does.
// - __syncthreads and __shared__: in "threads" mode every thread of a block is an OS thread and
//   __syncthreads a barrier; __shared__ variables are static, one copy, used by one block at a
//   time (blocks of block-level kernels run one after another).
// What does not (see docs/gpu.md): warp-level functions (__shfl*, __ballot*, warp-synchronous
// code) do not exist here and fail to compile; expf/logf/powf/sinf and the fast intrinsics
// (__expf, __fdividef...) are the C library's, within CUDA's documented ulp bounds but not bit
// for bit; extern (dynamic) __shared__ and __constant__ memory set from the host are not
// supported; the memory model is the host's (x86: stronger than CUDA's), and timing is nothing
// like a GPU's.
#pragma once

#include <atomic>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __restrict__ __restrict
#define __launch_bounds__(...)
// One static copy per kernel, used by one block at a time (see launcher.cpp).
#define __shared__ static

struct uint3 { unsigned x, y, z; };
struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct int2 { int x, y; };
struct float2 { float x, y; };
struct float3 { float x, y, z; };
struct float4 { float x, y, z, w; };
inline int2 make_int2(int x, int y) { return {x, y}; }
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float3 make_float3(float x, float y, float z) { return {x, y, z}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }

namespace gst_ai_shim {
// The emulated thread's coordinates, set by the launcher before each call of a kernel.
struct Coordinates {
    uint3 thread, block;
    dim3 block_dim, grid_dim;
};
extern thread_local Coordinates here;
void syncthreads();
void threadfence();
}  // namespace gst_ai_shim

#define threadIdx (::gst_ai_shim::here.thread)
#define blockIdx (::gst_ai_shim::here.block)
#define blockDim (::gst_ai_shim::here.block_dim)
#define gridDim (::gst_ai_shim::here.grid_dim)

inline void __syncthreads() { ::gst_ai_shim::syncthreads(); }
inline void __threadfence() { ::gst_ai_shim::threadfence(); }
inline void __threadfence_block() { ::gst_ai_shim::threadfence(); }

// Integer min/max, as CUDA's device overloads.
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }

// Float -> int conversions: cvt.rni/rzi/rmi/rpi.s32.f32 saturate, and NaN converts to 0.
namespace gst_ai_shim {
inline int to_int(float r) {
    if (r != r) return 0;
    if (r >= 2147483648.0f) return INT_MAX;
    if (r < -2147483648.0f) return INT_MIN;
    return (int)r;
}
inline long long to_ll(float r) {
    if (r != r) return 0;
    if (r >= 9223372036854775808.0f) return LLONG_MAX;
    if (r < -9223372036854775808.0f) return LLONG_MIN;
    return (long long)r;
}
inline unsigned to_uint(float r) {
    if (r != r || r <= 0.0f) return 0;
    if (r >= 4294967296.0f) return UINT_MAX;
    return (unsigned)r;
}
}  // namespace gst_ai_shim
inline int __float2int_rn(float x) { return ::gst_ai_shim::to_int(nearbyintf(x)); }
inline int __float2int_rz(float x) { return ::gst_ai_shim::to_int(truncf(x)); }
inline int __float2int_rd(float x) { return ::gst_ai_shim::to_int(floorf(x)); }
inline int __float2int_ru(float x) { return ::gst_ai_shim::to_int(ceilf(x)); }
inline unsigned __float2uint_rn(float x) { return ::gst_ai_shim::to_uint(nearbyintf(x)); }
inline unsigned __float2uint_rz(float x) { return ::gst_ai_shim::to_uint(truncf(x)); }
inline long long __float2ll_rz(float x) { return ::gst_ai_shim::to_ll(truncf(x)); }
inline float __int2float_rn(int i) { return (float)i; }
inline float __ll2float_rn(long long i) { return (float)i; }
// Clamps to [0, 1]; NaN gives 0 (PTX cvt.sat).
inline float __saturatef(float x) { return x != x ? 0.0f : (x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x)); }
// Exactly rounded operations that the compiler never contracts: plain IEEE here.
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fsqrt_rn(float a) { return sqrtf(a); }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
// Fast approximations on the GPU; exact (C library) here, so NOT bit for bit with CUDA.
inline float __fdividef(float a, float b) { return a / b; }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __powf(float a, float b) { return powf(a, b); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }

template <typename T> inline T __ldg(const T* p) { return *p; }

// Reinterpretation of bits.
inline int __float_as_int(float x) { int i; std::memcpy(&i, &x, 4); return i; }
inline unsigned __float_as_uint(float x) { unsigned i; std::memcpy(&i, &x, 4); return i; }
inline float __int_as_float(int i) { float x; std::memcpy(&x, &i, 4); return x; }
inline float __uint_as_float(unsigned i) { float x; std::memcpy(&x, &i, 4); return x; }

// Atomics, through std::atomic_ref: sequentially consistent (CUDA's are relaxed, so the shim is
// stronger, never weaker). ThreadSanitizer sees them as atomics.
template <typename T> inline T atomicAdd(T* p, T v) { return std::atomic_ref<T>(*p).fetch_add(v); }
template <typename T> inline T atomicSub(T* p, T v) { return std::atomic_ref<T>(*p).fetch_sub(v); }
template <typename T> inline T atomicExch(T* p, T v) { return std::atomic_ref<T>(*p).exchange(v); }
template <typename T> inline T atomicMax(T* p, T v) {
    std::atomic_ref<T> a(*p);
    T old = a.load();
    while (old < v && !a.compare_exchange_weak(old, v)) {}
    return old;
}
template <typename T> inline T atomicMin(T* p, T v) {
    std::atomic_ref<T> a(*p);
    T old = a.load();
    while (old > v && !a.compare_exchange_weak(old, v)) {}
    return old;
}
template <typename T> inline T atomicCAS(T* p, T expected, T desired) {
    std::atomic_ref<T>(*p).compare_exchange_strong(expected, desired);
    return expected;
}

// Registration of a kernel with the launcher: its name, an adapter that calls it with arguments
// given as CUDA's launch API gives them (an array of pointers to each argument's bytes), the
// size of each argument (checked against what the caller passes), and whether it is block-level.
namespace gst_ai_shim {
using Adapter = void (*)(void** args);
void register_kernel(const char* name, Adapter adapter, const unsigned long* sizes, unsigned count, bool block_level);

template <typename T> inline T load(void* p) {
    T v;
    std::memcpy(static_cast<void*>(&v), p, sizeof(T));
    return v;
}
template <typename... A, unsigned long... I>
inline void call(void (*f)(A...), void** args, std::integer_sequence<unsigned long, I...>) {
    f(load<std::remove_cv_t<A>>(args[I])...);
}
template <typename... A> struct Signature {
    static constexpr unsigned long sizes[sizeof...(A) + 1] = {sizeof(A)..., 0};
    static constexpr unsigned count = sizeof...(A);
};
template <typename... A> Signature<A...> signature_of(void (*)(A...));

struct Registration {
    Registration(const char* name, Adapter adapter, const unsigned long* sizes, unsigned count, bool block_level) {
        register_kernel(name, adapter, sizes, count, block_level);
    }
};
}  // namespace gst_ai_shim

#define GST_AI_SHIM_KERNEL(name, block_level)                                                        \
    static ::gst_ai_shim::Registration gst_ai_shim_registration_##name(                              \
        #name,                                                                                       \
        [](void** args) {                                                                            \
            ::gst_ai_shim::call(&name, args,                                                         \
                                std::make_integer_sequence<unsigned long,                            \
                                                           decltype(::gst_ai_shim::signature_of(&name))::count>{}); \
        },                                                                                           \
        decltype(::gst_ai_shim::signature_of(&name))::sizes,                                         \
        decltype(::gst_ai_shim::signature_of(&name))::count, block_level);
