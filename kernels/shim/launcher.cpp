// The CPU shim's launcher (docs/gpu.md, "The CPU shim"): finds a kernel registered by
// GST_AI_SHIM_KERNEL, checks the arguments' count and sizes against the kernel's signature, and
// walks the grid.
//
// Two ways to run a block:
// - "loop": the threads of a block one after another on one OS thread, blocks spread over a few
//   worker threads. Exact for kernels whose threads never wait for each other; a __syncthreads
//   reached in this mode stops the process with a message (a kernel that needs it must be
//   registered block-level).
// - "threads": every thread of the block is an OS thread; __syncthreads is a barrier that the
//   threads which returned from the kernel leave (as on Volta and later); blocks run one after
//   another, so the single static copy of __shared__ memory is the block's. Used for block-level
//   kernels (those whose source mentions __syncthreads or __shared__), and for every kernel when
//   built with GST_AI_SHIM_THREADS (the ThreadSanitizer build), so that a race between the
//   threads of a block is a race between OS threads that ThreadSanitizer reports.
//
// Entry points: gst_ai_shim_launch (C ABI, for the shared library the tests load) and, with
// GST_AI_SHIM_RUNNER, a main() that runs one launch described in a file (the sanitizer builds
// run as processes of their own).

#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

// After the standard headers: it defines macros (__shared__...) they must not see.
#include "cuda_shim.h"

namespace gst_ai_shim {

thread_local Coordinates here;

namespace {

struct Kernel {
    std::string name;
    Adapter adapter;
    const unsigned long* sizes;
    unsigned count;
    bool block_level;
};

std::vector<Kernel>& registry() {
    static std::vector<Kernel> kernels;
    return kernels;
}

// A barrier for the threads of one block. Threads that return from the kernel leave it, so the
// others' __syncthreads do not wait for them. A wait that lasts a minute is a deadlock (a
// __syncthreads some threads never reach): the process stops saying so.
struct BlockBarrier {
    std::mutex m;
    std::condition_variable cv;
    unsigned expected = 0, arrived = 0;
    unsigned long generation = 0;

    void release_locked() {
        arrived = 0;
        generation++;
        cv.notify_all();
    }
    void wait(const char* what) {
        std::unique_lock<std::mutex> lock(m);
        unsigned long gen = generation;
        if (++arrived == expected) {
            release_locked();
            return;
        }
        if (!cv.wait_for(lock, std::chrono::seconds(60), [&] { return generation != gen; })) {
            std::fprintf(stderr, "gst-ai shim: deadlock in %s (a __syncthreads that not every live thread of the block reaches)\n", what);
            std::abort();
        }
    }
    void leave() {
        std::lock_guard<std::mutex> lock(m);
        expected--;
        if (arrived > 0 && arrived == expected) release_locked();
    }
    void reset(unsigned n) {
        std::lock_guard<std::mutex> lock(m);
        expected = n;
        arrived = 0;
    }
};

thread_local BlockBarrier* block_barrier = nullptr;
thread_local const char* running = nullptr;

std::mutex block_level_launches;

unsigned long long count_of(dim3 d) { return (unsigned long long)d.x * d.y * d.z; }

uint3 unflatten(unsigned long long i, dim3 d) {
    return {(unsigned)(i % d.x), (unsigned)((i / d.x) % d.y), (unsigned)(i / ((unsigned long long)d.x * d.y))};
}

void run_loop(const Kernel& k, dim3 grid, dim3 block, void** args) {
    unsigned long long blocks = count_of(grid), threads = count_of(block);
    unsigned workers = std::thread::hardware_concurrency();
    if (workers == 0) workers = 1;
    if (workers > blocks) workers = (unsigned)blocks;
    std::atomic<unsigned long long> next{0};
    auto work = [&] {
        here.block_dim = block;
        here.grid_dim = grid;
        block_barrier = nullptr;
        running = k.name.c_str();
        for (unsigned long long b; (b = next.fetch_add(1)) < blocks;) {
            here.block = unflatten(b, grid);
            for (unsigned long long t = 0; t < threads; t++) {
                here.thread = unflatten(t, block);
                k.adapter(args);
            }
        }
        running = nullptr;
    };
    std::vector<std::thread> pool;
    for (unsigned i = 1; i < workers; i++) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
}

struct ThreadsLaunch {
    const Kernel* k;
    dim3 grid, block;
    void** args;
    BlockBarrier sync;  // __syncthreads
    BlockBarrier end;   // every thread has finished the block
};

struct ThreadStart {
    ThreadsLaunch* launch;
    unsigned long long index;
};

void* block_thread(void* p) {
    ThreadStart* s = static_cast<ThreadStart*>(p);
    ThreadsLaunch& l = *s->launch;
    here.block_dim = l.block;
    here.grid_dim = l.grid;
    here.thread = unflatten(s->index, l.block);
    block_barrier = &l.sync;
    running = l.k->name.c_str();
    unsigned long long blocks = count_of(l.grid), threads = count_of(l.block);
    for (unsigned long long b = 0; b < blocks; b++) {
        here.block = unflatten(b, l.grid);
        l.k->adapter(l.args);
        l.sync.leave();
        // The last thread to finish the block re-arms __syncthreads for the next one before
        // any thread can start it.
        {
            std::unique_lock<std::mutex> lock(l.end.m);
            unsigned long gen = l.end.generation;
            if (++l.end.arrived == l.end.expected) {
                l.sync.reset((unsigned)threads);
                l.end.release_locked();
            } else {
                l.end.cv.wait(lock, [&] { return l.end.generation != gen; });
            }
        }
    }
    block_barrier = nullptr;
    running = nullptr;
    return nullptr;
}

void run_threads(const Kernel& k, dim3 grid, dim3 block, void** args) {
    std::lock_guard<std::mutex> one_at_a_time(block_level_launches);
    unsigned long long threads = count_of(block);
    ThreadsLaunch l;
    l.k = &k;
    l.grid = grid;
    l.block = block;
    l.args = args;
    l.sync.reset((unsigned)threads);
    l.end.reset((unsigned)threads);
    std::vector<ThreadStart> starts(threads);
    std::vector<pthread_t> ids(threads);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 1 << 20);
    unsigned long long started = 0;
    for (; started < threads; started++) {
        starts[started] = {&l, started};
        if (pthread_create(&ids[started], &attr, block_thread, &starts[started]) != 0) break;
    }
    pthread_attr_destroy(&attr);
    if (started < threads) {
        // Cannot happen short of exhausting the process's threads; the started ones would wait
        // for the rest forever, so stop here.
        std::fprintf(stderr, "gst-ai shim: cannot start thread %llu of %llu for %s\n", started, threads, k.name.c_str());
        std::abort();
    }
    for (auto id : ids) pthread_join(id, nullptr);
}

}  // namespace

void register_kernel(const char* name, Adapter adapter, const unsigned long* sizes, unsigned count, bool block_level) {
    registry().push_back({name, adapter, sizes, count, block_level});
}

void syncthreads() {
    if (block_barrier == nullptr) {
        std::fprintf(stderr,
                     "gst-ai shim: %s called __syncthreads but runs in loop mode: its source must mention "
                     "__syncthreads or __shared__ in the kernel's own body to be run as a block-level kernel\n",
                     running ? running : "a kernel");
        std::abort();
    }
    block_barrier->wait(running ? running : "a kernel");
}

// ThreadSanitizer does not model fences (and warns about them): a no-op in that build.
#ifdef __SANITIZE_THREAD__
void threadfence() {}
#else
void threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
#endif

}  // namespace gst_ai_shim

// Launches kernel `name` over grid x block with `count` arguments: args[i] points at argument
// i's bytes, sizes[i] is how many. Returns 0, or -1 with a message in err.
extern "C" int gst_ai_shim_launch(const char* name, const unsigned* grid, const unsigned* block, void** args,
                                  const unsigned long* sizes, unsigned count, char* err, unsigned long err_len) {
    using namespace gst_ai_shim;
    std::string message;
    const Kernel* k = nullptr;
    for (const Kernel& candidate : registry())
        if (candidate.name == name) k = &candidate;
    dim3 g(grid[0], grid[1], grid[2]), b(block[0], block[1], block[2]);
    if (k == nullptr) {
        message = std::string("no kernel ") + name;
    } else if (count != k->count) {
        message = std::string("kernel ") + name + " takes " + std::to_string(k->count) + " arguments, " +
                  std::to_string(count) + " given";
    } else {
        for (unsigned i = 0; i < count && message.empty(); i++)
            if (sizes[i] != k->sizes[i])
                message = std::string("kernel ") + name + ": argument " + std::to_string(i) + " is " +
                          std::to_string(k->sizes[i]) + " bytes, " + std::to_string(sizes[i]) + " given";
    }
    if (message.empty() && (count_of(g) == 0 || count_of(b) == 0 || count_of(b) > 1024))
        message = std::string("kernel ") + name + ": invalid launch (an empty grid or block, or more than 1024 threads a block)";
    if (message.empty()) {
#ifdef GST_AI_SHIM_THREADS
        bool threads = true;
#else
        bool threads = k->block_level;
#endif
        if (threads)
            run_threads(*k, g, b, args);
        else
            run_loop(*k, g, b, args);
    }
    if (message.empty()) return 0;
    if (err_len > 0) {
        std::snprintf(err, err_len, "%s", message.c_str());
    }
    return -1;
}

#ifdef GST_AI_SHIM_RUNNER
// One launch described in a file (written by gst_ai_kernels::cuda::shim): the kernel's name, grid,
// block, and each argument, a value or a buffer. Every buffer and value gets an allocation of
// exactly its size, so AddressSanitizer reports any access beyond it. After the launch the
// buffers go to the response file, in order.
namespace {
bool read_exact(std::FILE* f, void* p, unsigned long long n) { return n == 0 || std::fread(p, 1, n, f) == n; }
}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s REQUEST RESPONSE\n", argv[0]);
        return 2;
    }
    std::FILE* in = std::fopen(argv[1], "rb");
    if (!in) {
        std::perror(argv[1]);
        return 2;
    }
    unsigned name_len = 0, grid[3], block[3], count = 0;
    if (!read_exact(in, &name_len, 4) || name_len > 4096) return 3;
    std::string name(name_len, '\0');
    if (!read_exact(in, name.data(), name_len) || !read_exact(in, grid, 12) || !read_exact(in, block, 12) ||
        !read_exact(in, &count, 4) || count > 256)
        return 3;
    std::vector<void*> bytes(count), pointers(count), args(count);
    std::vector<unsigned long> sizes(count);
    std::vector<unsigned long long> lengths(count);
    std::vector<unsigned char> is_buffer(count);
    for (unsigned i = 0; i < count; i++) {
        if (!read_exact(in, &is_buffer[i], 1) || !read_exact(in, &lengths[i], 8)) return 3;
        bytes[i] = std::malloc(lengths[i]);
        if (lengths[i] > 0 && !bytes[i]) return 4;
        if (!read_exact(in, bytes[i], lengths[i])) return 3;
        if (is_buffer[i]) {
            // The kernel's argument is the buffer's address.
            pointers[i] = bytes[i];
            args[i] = &pointers[i];
            sizes[i] = sizeof(void*);
        } else {
            args[i] = bytes[i];
            sizes[i] = (unsigned long)lengths[i];
        }
    }
    std::fclose(in);
    char err[1024] = {0};
    if (gst_ai_shim_launch(name.c_str(), grid, block, args.data(), sizes.data(), count, err, sizeof err) != 0) {
        std::fprintf(stderr, "gst-ai shim: %s\n", err);
        return 5;
    }
    std::FILE* out = std::fopen(argv[2], "wb");
    if (!out) {
        std::perror(argv[2]);
        return 2;
    }
    for (unsigned i = 0; i < count; i++) {
        if (is_buffer[i] && lengths[i] > 0 && std::fwrite(bytes[i], 1, lengths[i], out) != lengths[i]) return 6;
        std::free(bytes[i]);
    }
    return std::fclose(out) == 0 ? 0 : 6;
}
#endif
