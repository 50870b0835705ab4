/* Kernel emulator runtime (tests/kernel_emu): launches, the two execution modes, warp collectives,
 * barriers, per-block shared memory, and the CUDA runtime / cuBLAS calls of the backend's C files
 * on host memory. Semantics: docs/gpu.md, "The kernel emulator".
 *
 * Modes (XEMU_MODE): "fibers" (default) runs the blocks of a launch one after the other, each CUDA
 * thread a ucontext fiber, with a priority scheduler: the runnable thread of lowest linear index
 * runs until it blocks in a barrier or a warp collective (XEMU_ORDER=reverse: the highest index
 * first), so a thread runs as far ahead of the others as the barriers allow. "threads" runs every
 * CUDA thread as an OS thread, blocks of a launch in concurrent groups; it is forced under
 * ThreadSanitizer, whose happens-before analysis then sees only the kernels' own synchronisation
 * (mutex + condition variable per barrier, per warp for warp collectives). */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <vector>

#include "cublas_v2.h"
#include "cudnn.h"
#include "cuda_runtime.h"

#if defined(__SANITIZE_THREAD__)
#define XEMU_TSAN 1
#endif
#if defined(__SANITIZE_ADDRESS__)
#define XEMU_ASAN 1
#endif
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define XEMU_TSAN 1
#endif
#if __has_feature(address_sanitizer)
#define XEMU_ASAN 1
#endif
#endif

#ifdef XEMU_ASAN
extern "C" {
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old,
                                     size_t *size_old);
}
#endif

#ifdef XEMU_TSAN
/* The emulator's own bookkeeping (a thread's exit, the lookup of a block's __shared__ arrays) must
 * not create happens-before edges between CUDA threads that the kernel does not have:
 * ThreadSanitizer ignores the synchronisation and the accesses inside these brackets. */
extern "C" {
void AnnotateIgnoreReadsBegin(const char *f, int l);
void AnnotateIgnoreReadsEnd(const char *f, int l);
void AnnotateIgnoreWritesBegin(const char *f, int l);
void AnnotateIgnoreWritesEnd(const char *f, int l);
void AnnotateIgnoreSyncBegin(const char *f, int l);
void AnnotateIgnoreSyncEnd(const char *f, int l);
}
struct tsan_quiet {
    tsan_quiet() {
        AnnotateIgnoreReadsBegin(__FILE__, __LINE__);
        AnnotateIgnoreWritesBegin(__FILE__, __LINE__);
        AnnotateIgnoreSyncBegin(__FILE__, __LINE__);
    }
    ~tsan_quiet() {
        AnnotateIgnoreSyncEnd(__FILE__, __LINE__);
        AnnotateIgnoreWritesEnd(__FILE__, __LINE__);
        AnnotateIgnoreReadsEnd(__FILE__, __LINE__);
    }
};
#else
struct tsan_quiet {
    tsan_quiet() {}
    ~tsan_quiet() {}
};
#endif

struct CUevent_st {
    int recorded;
    int pending; /* records still in the held stream's queue */
};

namespace xemu {

static thread_local const view *cur = nullptr;

const view *current(void) {
    if (!cur) report(__FILE__, __LINE__, "a CUDA builtin variable read outside a kernel");
    return cur;
}

namespace {

enum mode_t_ { FIBERS, THREADS };

struct config {
    mode_t_ mode = FIBERS;
    bool reverse = false;
    bool quiet = false;
    config() {
        const char *m = getenv("XEMU_MODE"), *o = getenv("XEMU_ORDER");
        if (m && !strcmp(m, "threads")) mode = THREADS;
        if (o && !strcmp(o, "reverse")) reverse = true;
#ifdef XEMU_TSAN
        mode = THREADS;
#endif
    }
};
config &cfg() {
    static config c;
    return c;
}

struct block;

struct warp {
    unsigned present = 0, live = 0;            /* lanes that exist / have not returned */
    unsigned gen = 0, arrived = 0, expect = 0; /* the collective in progress */
    op_kind kind = OP_SYNCWARP;
    const char *file = nullptr;
    int line = 0;
    uint64_t slot[2][32];
    std::mutex m;
    std::condition_variable cv;
};

enum tstate { READY, WAITING, DONE };

struct thread_ {
    view v;
    int linear = 0, lane = 0;
    warp *w = nullptr;
    block *b = nullptr;
    /* fibers */
    tstate state = READY;
    bool started = false;
    const void *waiting_on = nullptr;
    const char *wait_file = nullptr;
    int wait_line = 0;
    const char *wait_what = nullptr;
    ucontext_t uc;
    char *stack = nullptr;
};

struct block {
    const launch_cfg *L = nullptr;
    void (*body)(void *) = nullptr;
    void *arg = nullptr;
    int nthreads = 0;
    std::vector<thread_> t;
    std::vector<warp> w;
    int live = 0, exited = 0, arrived = 0;
    unsigned gen = 0;
    const char *bfile = nullptr;
    int bline = 0;
    std::vector<std::pair<const shared_tag *, void *>> shared;
    size_t shared_bytes = 0;
    void *dyn = nullptr;
    std::mutex m;
    std::condition_variable cv;
    /* fibers */
    ucontext_t sched;
    int hint = 0; /* lowest scheduling position that may be ready */
#ifdef XEMU_ASAN
    void *sched_fake = nullptr;
    const void *sched_bottom = nullptr;
    size_t sched_size = 0;
#endif
};

thread_local thread_ *me = nullptr;

bool threads_mode() {
    return cfg().mode == THREADS;
}

const size_t STACK = 256 * 1024;

/* stacks for one block's fibers, reused by the next block */
std::vector<char *> &stack_pool() {
    static std::vector<char *> p;
    return p;
}
char *get_stack(size_t i) {
    auto &p = stack_pool();
    while (p.size() <= i) {
        void *s = mmap(nullptr, STACK, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (s == MAP_FAILED) {
            fprintf(stderr, "xemu: cannot map a fiber stack: %s\n", strerror(errno));
            abort();
        }
        mprotect(s, 4096, PROT_NONE); /* guard page */
        p.push_back((char *)s);
    }
    return p[i];
}

int pos_of(const block *b, int linear) {
    return cfg().reverse ? b->nthreads - 1 - linear : linear;
}
int linear_of(const block *b, int pos) {
    return cfg().reverse ? b->nthreads - 1 - pos : pos;
}

/* fibers: give the CPU back to the scheduler until woken */
void fiber_wait(thread_ *t, const void *obj, const char *file, int line, const char *what) {
    t->state = WAITING;
    t->waiting_on = obj;
    t->wait_file = file;
    t->wait_line = line;
    t->wait_what = what;
#ifdef XEMU_ASAN
    void *fake = nullptr;
    __sanitizer_start_switch_fiber(&fake, t->b->sched_bottom, t->b->sched_size);
#endif
    swapcontext(&t->uc, &t->b->sched);
#ifdef XEMU_ASAN
    __sanitizer_finish_switch_fiber(fake, &t->b->sched_bottom, &t->b->sched_size);
#endif
    cur = &t->v;
    me = t;
}

void fiber_wake(block *b, const void *obj) {
    for (auto &t : b->t)
        if (t.state == WAITING && t.waiting_on == obj) {
            t.state = READY;
            t.waiting_on = nullptr;
            int p = pos_of(b, t.linear);
            if (p < b->hint) b->hint = p;
        }
}

void fiber_wake_warp(block *b, warp *w) {
    int base = (int)(w - b->w.data()) * 32;
    for (int l = 0; l < 32 && base + l < b->nthreads; l++) {
        thread_ &t = b->t[base + l];
        if (t.state == WAITING && t.waiting_on == w) {
            t.state = READY;
            t.waiting_on = nullptr;
            int p = pos_of(b, t.linear);
            if (p < b->hint) b->hint = p;
        }
    }
}

void thread_exit(thread_ *t);

void run_thread(thread_ *t) {
    me = t;
    cur = &t->v;
    t->b->body(t->b->arg);
    thread_exit(t);
}

void fiber_entry() {
    thread_ *t = me;
#ifdef XEMU_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &t->b->sched_bottom, &t->b->sched_size);
#endif
    run_thread(t);
    t->state = DONE;
#ifdef XEMU_ASAN
    __sanitizer_start_switch_fiber(nullptr, t->b->sched_bottom, t->b->sched_size);
#endif
    /* uc_link returns to the scheduler */
}

void run_block_fibers(block *b) {
    int n = b->nthreads;
    for (int i = 0; i < n; i++)
        b->t[i].stack = get_stack((size_t)i);
    b->hint = 0;
    for (;;) {
        int pick = -1;
        for (int p = b->hint; p < n; p++) {
            thread_ &t = b->t[linear_of(b, p)];
            if (t.state == READY) {
                pick = p;
                break;
            }
        }
        if (pick < 0) {
            int done = 0;
            for (auto &t : b->t)
                done += t.state == DONE;
            if (done == n) break;
            /* nobody can run, somebody waits: a deadlock */
            fprintf(stderr, "xemu: deadlock in kernel %s (launched at %s:%d), block (%u,%u,%u):\n",
                    b->L->kernel, b->L->file, b->L->line, b->t[0].v.block.x, b->t[0].v.block.y,
                    b->t[0].v.block.z);
            int shown = 0;
            for (auto &t : b->t)
                if (t.state == WAITING && shown++ < 8)
                    fprintf(stderr, "  thread (%u,%u,%u) waits in %s at %s:%d\n", t.v.thread.x,
                            t.v.thread.y, t.v.thread.z, t.wait_what, t.wait_file, t.wait_line);
            report(b->L->file, b->L->line, "deadlock (threads wait for each other)");
        }
        b->hint = pick;
        thread_ *t = &b->t[linear_of(b, pick)];
        if (!t->started) {
            t->started = true;
            getcontext(&t->uc);
            t->uc.uc_stack.ss_sp = t->stack + 4096;
            t->uc.uc_stack.ss_size = STACK - 4096;
            t->uc.uc_link = &b->sched;
            makecontext(&t->uc, fiber_entry, 0);
        }
        me = t;
        cur = &t->v;
#ifdef XEMU_ASAN
        void *fake = nullptr;
        __sanitizer_start_switch_fiber(&fake, t->stack + 4096, STACK - 4096);
#endif
        swapcontext(&b->sched, &t->uc);
#ifdef XEMU_ASAN
        __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
        me = nullptr;
        cur = nullptr;
    }
}

void *thread_main(void *p) {
    run_thread((thread_ *)p);
    return nullptr;
}

void init_block(block *b, const launch_cfg *L, void (*body)(void *), void *arg, uint3 bid) {
    b->L = L;
    b->body = body;
    b->arg = arg;
    b->nthreads = (int)(L->block.x * L->block.y * L->block.z);
    b->t.resize((size_t)b->nthreads);
    b->w = std::vector<warp>((size_t)(b->nthreads + 31) / 32);
    b->live = b->nthreads;
    for (int i = 0; i < b->nthreads; i++) {
        thread_ &t = b->t[(size_t)i];
        t.linear = i;
        t.lane = i % 32;
        t.w = &b->w[(size_t)i / 32];
        t.b = b;
        t.v.thread = uint3{(unsigned)i % L->block.x, (unsigned)(i / L->block.x) % L->block.y,
                           (unsigned)(i / (L->block.x * L->block.y))};
        t.v.block = bid;
        t.v.bdim = L->block;
        t.v.gdim = L->grid;
        t.w->present |= 1u << t.lane;
    }
    for (auto &w : b->w)
        w.live = w.present;
    if (L->smem) {
        b->dyn = aligned_alloc(16, (L->smem + 15) / 16 * 16);
        memset(b->dyn, 0xff, L->smem);
    }
}

void free_block(block *b) {
    for (auto &s : b->shared)
        free(s.second);
    b->shared.clear();
    free(b->dyn);
    b->dyn = nullptr;
}

std::mutex &dev_mutex() {
    static std::mutex m;
    return m;
}
std::map<uintptr_t, size_t> &dev_map() {
    static std::map<uintptr_t, size_t> m;
    return m;
}
unsigned long g_launches = 0;
thread_local cudaError_t last_error = cudaSuccess;

/* the held stream (cuda_runtime_api.h, xemu_hold): queued copies and event records */
struct queued_op {
    void *dst;
    const void *src;
    size_t bytes;
    CUevent_st *ev; /* an event record when not null */
};
std::vector<queued_op> &queue_() {
    static std::vector<queued_op> q;
    return q;
}
bool g_held = false;
unsigned long g_host_waits = 0;

cudaError_t fail(cudaError_t e) {
    last_error = e;
    return e;
}

} /* namespace */

void run_queue(size_t n) {
    auto &q = queue_();
    n = std::min(n, q.size());
    for (size_t i = 0; i < n; i++) {
        if (q[i].ev)
            q[i].ev->pending--;
        else
            memmove(q[i].dst, q[i].src, q[i].bytes); /* the source as it is now */
    }
    q.erase(q.begin(), q.begin() + (std::ptrdiff_t)n);
}
void drain() {
    if (!queue_().empty()) run_queue(queue_().size());
}
/* the host waits for the device: counted while held, and the device catches up */
void host_wait() {
    if (g_held) g_host_waits++;
    drain();
}

void report(const char *file, int line, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    thread_ *t = me;
    if (t)
        fprintf(stderr,
                "%s:%d: xemu error: %s\n  in kernel %s launched at %s:%d, block (%u,%u,%u) thread "
                "(%u,%u,%u) (warp %d lane %d)\n",
                file, line, msg, t->b->L->kernel, t->b->L->file, t->b->L->line, t->v.block.x,
                t->v.block.y, t->v.block.z, t->v.thread.x, t->v.thread.y, t->v.thread.z,
                t->linear / 32, t->lane);
    else
        fprintf(stderr, "%s:%d: xemu error: %s\n", file, line, msg);
    fflush(stderr);
    fflush(stdout);
    if (getenv("XEMU_ABORT")) abort(); /* for a debugger or a core file */
    _exit(86);
}

uint64_t warp_op(const char *file, int line, op_kind k, unsigned mask, uint64_t v, int arg,
                 int width, const char *what) {
    thread_ *t = me;
    if (!t) report(file, line, "%s outside a kernel", what);
    warp *w = t->w;
    unsigned bit = 1u << t->lane;
    if (width <= 0 || width > 32 || (width & (width - 1)))
        report(file, line, "%s: width %d is not a power of two in [1, 32]", what, width);
    std::unique_lock<std::mutex> lk(w->m, std::defer_lock);
    if (threads_mode()) lk.lock();
    if (!(mask & bit))
        report(file, line, "%s: the calling lane %d is not in mask 0x%08x", what, t->lane, mask);
    if (mask & ~w->present)
        report(file, line, "%s: mask 0x%08x names lanes that do not exist (warp has 0x%08x)", what,
               mask, w->present);
    if (mask & ~w->live)
        report(file, line,
               "%s: mask 0x%08x names lanes that have returned (running: 0x%08x): a partial-mask "
               "collective",
               what, mask, w->live);
    if (w->arrived == 0) {
        w->expect = mask;
        w->kind = k;
        w->file = file;
        w->line = line;
    } else if (w->expect != mask || w->kind != k || w->file != file || w->line != line) {
        report(file, line,
               "divergent warp collective: %s with mask 0x%08x here, while lanes 0x%08x wait at "
               "%s:%d with mask 0x%08x",
               what, mask, w->arrived, w->file, w->line, w->expect);
    }
    unsigned g = w->gen;
    w->slot[g & 1][t->lane] = v;
    w->arrived |= bit;
    if (w->arrived == w->expect) {
        w->arrived = 0;
        w->gen++;
        if (threads_mode())
            w->cv.notify_all();
        else
            fiber_wake_warp(t->b, w);
    } else if (threads_mode()) {
        w->cv.wait(lk, [&] { return w->gen != g; });
    } else {
        while (w->gen == g)
            fiber_wait(t, w, file, line, what);
    }
    uint64_t *s = w->slot[g & 1];
    if (k == OP_SYNCWARP) return 0;
    if (k == OP_BALLOT) {
        unsigned r = 0;
        for (int l = 0; l < 32; l++)
            if ((mask >> l & 1) && s[l]) r |= 1u << l;
        return r;
    }
    int seg = t->lane & ~(width - 1), src;
    switch (k) {
    case OP_SHFL:
        src = seg + (arg & (width - 1));
        break;
    case OP_SHFL_UP:
        src = t->lane - arg < seg ? t->lane : t->lane - arg;
        break;
    case OP_SHFL_DOWN:
        src = t->lane + arg >= seg + width ? t->lane : t->lane + arg;
        break;
    default:
        src = t->lane ^ arg;
        if (src < seg || src >= seg + width || src > 31) src = t->lane;
        break;
    }
    if (!(mask >> src & 1))
        report(file, line, "%s: lane %d reads lane %d, which is not in mask 0x%08x", what, t->lane,
               src, mask);
    return s[src];
}

void syncthreads(const char *file, int line) {
    thread_ *t = me;
    if (!t) report(file, line, "__syncthreads outside a kernel");
    block *b = t->b;
    std::unique_lock<std::mutex> lk(b->m, std::defer_lock);
    if (threads_mode()) lk.lock();
    if (b->exited)
        report(file, line, "__syncthreads reached after %d thread(s) of the block returned",
               b->exited);
    if (b->arrived == 0) {
        b->bfile = file;
        b->bline = line;
    } else if (b->bfile != file || b->bline != line) {
        report(file, line, "divergent __syncthreads: here, while %d thread(s) wait at %s:%d",
               b->arrived, b->bfile, b->bline);
    }
    unsigned g = b->gen;
    if (++b->arrived == b->live) {
        b->arrived = 0;
        b->gen++;
        if (threads_mode())
            b->cv.notify_all();
        else
            fiber_wake(b, b);
    } else if (threads_mode()) {
        b->cv.wait(lk, [&] { return b->gen != g; });
    } else {
        while (b->gen == g)
            fiber_wait(t, b, file, line, "__syncthreads");
    }
}

namespace {
void thread_exit(thread_ *t) {
    tsan_quiet q;
    warp *w = t->w;
    block *b = t->b;
    {
        std::unique_lock<std::mutex> lk(w->m, std::defer_lock);
        if (threads_mode()) lk.lock();
        w->live &= ~(1u << t->lane);
        if (w->arrived && (w->expect >> t->lane & 1))
            report(w->file, w->line,
                   "lane %d returned while lanes 0x%08x wait for it in this warp collective",
                   t->lane, w->arrived);
    }
    std::unique_lock<std::mutex> lk(b->m, std::defer_lock);
    if (threads_mode()) lk.lock();
    b->live--;
    b->exited++;
    if (b->arrived)
        report(b->bfile, b->bline,
               "a thread returned while %d thread(s) wait at this __syncthreads", b->arrived);
}
} /* namespace */

void *shared_block(const shared_tag *tag, size_t bytes, size_t align, const char *name) {
    thread_ *t = me;
    if (!t) report(__FILE__, __LINE__, "__shared__ %s outside a kernel", name);
    block *b = t->b;
    tsan_quiet q;
    std::unique_lock<std::mutex> lk(b->m, std::defer_lock);
    if (threads_mode()) lk.lock();
    for (auto &s : b->shared)
        if (s.first == tag) return s.second;
    b->shared_bytes += bytes;
    if (b->shared_bytes + b->L->smem > 48 * 1024)
        report(b->L->file, b->L->line,
               "more than 48 KiB of shared memory per block (%zu static + %zu dynamic)",
               b->shared_bytes, b->L->smem);
    if (align < 16) align = 16;
    void *p = aligned_alloc(align, (bytes + align - 1) / align * align);
    memset(p, 0xff, bytes); /* poison: NaN as float or double */
    b->shared.emplace_back(tag, p);
    return p;
}

void *dynamic_shared(void) {
    thread_ *t = me;
    if (!t) report(__FILE__, __LINE__, "extern __shared__ outside a kernel");
    return t->b->dyn;
}

cudaError_t launch(const launch_cfg &L, void (*body)(void *), void *arg) {
    const dim3 &g = L.grid, &bk = L.block;
    unsigned long long nt = (unsigned long long)bk.x * bk.y * bk.z;
    if (!g.x || !g.y || !g.z || !nt || nt > 1024 || bk.x > 1024 || bk.y > 1024 || bk.z > 64 ||
        g.y > 65535 || g.z > 65535 || g.x > 2147483647u || L.smem > 48 * 1024) {
        if (!cfg().quiet)
            fprintf(stderr,
                    "%s:%d: xemu: launch of %s with grid (%u,%u,%u) block (%u,%u,%u) smem %zu: "
                    "invalid configuration\n",
                    L.file, L.line, L.kernel, g.x, g.y, g.z, bk.x, bk.y, bk.z, L.smem);
        return fail(cudaErrorInvalidConfiguration);
    }
    if (me) report(L.file, L.line, "kernel launch from inside a kernel");
    drain(); /* stream order: the queued copies ran before this kernel */
    g_launches++;
    size_t nblocks = (size_t)g.x * g.y * g.z;
    auto bid_of = [&](size_t i) {
        return uint3{(unsigned)(i % g.x), (unsigned)(i / g.x % g.y),
                     (unsigned)(i / ((size_t)g.x * g.y))};
    };
    if (!threads_mode()) {
        for (size_t i = 0; i < nblocks; i++) {
            block b;
            init_block(&b, &L, body, arg, bid_of(i));
            run_block_fibers(&b);
            free_block(&b);
        }
        return cudaSuccess;
    }
    /* threads: groups of concurrent blocks, at most ~1024 OS threads at a time */
    size_t group = std::max<size_t>(2, 1024 / nt);
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, 1 << 20);
    for (size_t i0 = 0; i0 < nblocks; i0 += group) {
        size_t nb = std::min(group, nblocks - i0);
        std::vector<block> blocks(nb);
        std::vector<pthread_t> ids;
        for (size_t j = 0; j < nb; j++)
            init_block(&blocks[j], &L, body, arg, bid_of(i0 + j));
        for (size_t j = 0; j < nb; j++)
            for (auto &t : blocks[j].t) {
                pthread_t id;
                int e = pthread_create(&id, &at, thread_main, &t);
                if (e) {
                    fprintf(stderr, "xemu: pthread_create: %s\n", strerror(e));
                    abort();
                }
                ids.push_back(id);
            }
        for (auto id : ids)
            pthread_join(id, nullptr);
        for (auto &b : blocks)
            free_block(&b);
    }
    pthread_attr_destroy(&at);
    return cudaSuccess;
}

} /* namespace xemu */

/* ---- cuBLAS (column-major loops, double accumulation) ------------------------------------- */
template <class T>
static void gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, double alpha,
                 const T *A, int lda, const T *B, int ldb, double beta, T *C, int ldc) {
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            double s = 0.0;
            for (int l = 0; l < k; l++) {
                double a = ta == CUBLAS_OP_N ? A[i + (size_t)l * lda] : A[l + (size_t)i * lda];
                double b = tb == CUBLAS_OP_N ? B[l + (size_t)j * ldb] : B[j + (size_t)l * ldb];
                s += a * b;
            }
            T *c = &C[i + (size_t)j * ldc];
            /* beta == 0: C is not read (it may hold anything), as cuBLAS specifies */
            *c = (T)(beta == 0.0 ? alpha * s : alpha * s + beta * (double)*c);
        }
}

/* ---- the CUDA runtime API on host memory ------------------------------------------------- */
using namespace xemu;

extern "C" {

unsigned long xemu_launch_count(void) {
    return g_launches;
}

int xemu_is_device(const void *p, size_t bytes) {
    std::lock_guard<std::mutex> lk(dev_mutex());
    auto &m = dev_map();
    uintptr_t a = (uintptr_t)p;
    auto it = m.upper_bound(a);
    if (it == m.begin()) return 0;
    --it;
    return a >= it->first && a + bytes <= it->first + it->second;
}

cudaError_t cudaGetLastError(void) {
    cudaError_t e = last_error;
    last_error = cudaSuccess;
    return e;
}
cudaError_t cudaPeekAtLastError(void) {
    return last_error;
}

const char *cudaGetErrorName(cudaError_t e) {
    switch (e) {
    case cudaSuccess:
        return "cudaSuccess";
    case cudaErrorInvalidValue:
        return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation:
        return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration:
        return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer:
        return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection:
        return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorLaunchFailure:
        return "cudaErrorLaunchFailure";
    case cudaErrorNotReady:
        return "cudaErrorNotReady";
    default:
        return "cudaErrorUnknown";
    }
}
const char *cudaGetErrorString(cudaError_t e) {
    switch (e) {
    case cudaSuccess:
        return "no error";
    case cudaErrorInvalidValue:
        return "invalid argument";
    case cudaErrorMemoryAllocation:
        return "out of memory";
    case cudaErrorInvalidConfiguration:
        return "invalid configuration argument";
    case cudaErrorInvalidDevicePointer:
        return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection:
        return "invalid copy direction for memcpy";
    case cudaErrorLaunchFailure:
        return "unspecified launch failure";
    case cudaErrorNotReady:
        return "device not ready";
    default:
        return "unknown error";
    }
}

/* XEMU_DEVICE_MEMORY caps the emulated device memory (bytes), so out-of-memory paths can run */
static size_t device_cap() {
    static size_t cap = [] {
        const char *v = getenv("XEMU_DEVICE_MEMORY");
        return v ? (size_t)strtoull(v, nullptr, 10) : (size_t)16 << 30;
    }();
    return cap;
}
static size_t g_dev_used = 0;

cudaError_t cudaMalloc(void **p, size_t bytes) {
    *p = nullptr;
    std::lock_guard<std::mutex> lk(dev_mutex());
    size_t r = (bytes + 255) / 256 * 256;
    if (!r) r = 256;
    if (r > device_cap() - g_dev_used) return fail(cudaErrorMemoryAllocation);
    void *q = aligned_alloc(256, r);
    if (!q) return fail(cudaErrorMemoryAllocation);
    memset(q, 0xff, r);
    dev_map()[(uintptr_t)q] = bytes ? bytes : 1;
    g_dev_used += r;
    *p = q;
    return cudaSuccess;
}

cudaError_t cudaFree(void *p) {
    if (!p) return cudaSuccess;
    std::lock_guard<std::mutex> lk(dev_mutex());
    auto it = dev_map().find((uintptr_t)p);
    if (it == dev_map().end()) return fail(cudaErrorInvalidDevicePointer);
    g_dev_used -= (it->second + 255) / 256 * 256;
    dev_map().erase(it);
    free(p);
    return cudaSuccess;
}

/* pinned host allocations (cudaHostAlloc / cudaMallocHost): start -> size */
static std::map<uintptr_t, size_t> &pinned_map() {
    static std::map<uintptr_t, size_t> m;
    return m;
}
static bool is_pinned(const void *p, size_t bytes) {
    std::lock_guard<std::mutex> lk(dev_mutex());
    auto &m = pinned_map();
    uintptr_t a = (uintptr_t)p;
    auto it = m.upper_bound(a);
    if (it == m.begin()) return false;
    --it;
    return a >= it->first && a + bytes <= it->first + it->second;
}

cudaError_t cudaMallocHost(void **p, size_t bytes) {
    *p = aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
    if (!*p) return fail(cudaErrorMemoryAllocation);
    std::lock_guard<std::mutex> lk(dev_mutex());
    pinned_map()[(uintptr_t)*p] = bytes ? bytes : 1;
    return cudaSuccess;
}
cudaError_t cudaHostAlloc(void **p, size_t bytes, unsigned flags) {
    (void)flags;
    return cudaMallocHost(p, bytes);
}
cudaError_t cudaFreeHost(void *p) {
    if (!p) return cudaSuccess;
    host_wait(); /* the real runtime synchronises here too */
    {
        std::lock_guard<std::mutex> lk(dev_mutex());
        if (!pinned_map().erase((uintptr_t)p)) return fail(cudaErrorInvalidValue);
    }
    free(p);
    return cudaSuccess;
}

/* async: whether the call is a stream operation (else the host waits for the device first) */
static cudaError_t copy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind,
                        bool async = false) {
    if (!bytes) return cudaSuccess;
    bool dd = xemu_is_device(dst, bytes), sd = xemu_is_device(src, bytes);
    bool ok = kind == cudaMemcpyDefault || (kind == cudaMemcpyHostToDevice && dd && !sd) ||
              (kind == cudaMemcpyDeviceToHost && sd && !dd) ||
              (kind == cudaMemcpyDeviceToDevice && sd && dd) ||
              (kind == cudaMemcpyHostToHost && !sd && !dd);
    if (!ok) return fail(cudaErrorInvalidValue);
    if (g_held && async && dd && !sd && is_pinned(src, bytes)) {
        queue_().push_back({dst, src, bytes, nullptr}); /* runs later, reads src then */
        return cudaSuccess;
    }
    if (!async || (dd && !sd))
        host_wait(); /* synchronous, or staged from pageable memory after a stream sync */
    else
        drain();
    memmove(dst, src, bytes);
    return cudaSuccess;
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind) {
    return copy(dst, src, bytes, kind);
}
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t s) {
    (void)s;
    return copy(dst, src, bytes, kind, true);
}
cudaError_t cudaMemcpy2DAsync(void *dst, size_t dpitch, const void *src, size_t spitch,
                              size_t width, size_t height, cudaMemcpyKind kind, cudaStream_t s) {
    (void)s;
    if (width > dpitch || width > spitch) return fail(cudaErrorInvalidValue);
    for (size_t r = 0; r < height; r++) {
        cudaError_t e =
            copy((char *)dst + r * dpitch, (const char *)src + r * spitch, width, kind, true);
        if (e != cudaSuccess) return e;
    }
    return cudaSuccess;
}

cudaError_t cudaMemset(void *dst, int v, size_t bytes) {
    if (bytes && !xemu_is_device(dst, bytes)) return fail(cudaErrorInvalidValue);
    drain();
    memset(dst, v, bytes);
    return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void *dst, int v, size_t bytes, cudaStream_t s) {
    (void)s;
    return cudaMemset(dst, v, bytes);
}
cudaError_t cudaStreamSynchronize(cudaStream_t s) {
    (void)s;
    host_wait();
    return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize(void) {
    host_wait();
    return cudaSuccess;
}

void xemu_hold(int on) {
    drain();
    g_held = on != 0;
}
void xemu_progress(size_t n) {
    run_queue(n);
}
size_t xemu_queued(void) {
    return queue_().size();
}
unsigned long xemu_host_waits(void) {
    return g_host_waits;
}
cudaError_t cudaMemGetInfo(size_t *fr, size_t *tot) {
    std::lock_guard<std::mutex> lk(dev_mutex());
    *tot = device_cap();
    *fr = device_cap() - g_dev_used;
    return cudaSuccess;
}

cudaError_t cudaPointerGetAttributes(cudaPointerAttributes *a, const void *p) {
    memset(a, 0, sizeof *a);
    if (xemu_is_device(p, 1)) {
        a->type = cudaMemoryTypeDevice;
        a->devicePointer = (void *)p;
    } else {
        a->type = cudaMemoryTypeUnregistered;
        a->hostPointer = (void *)p;
    }
    return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t *e) {
    *e = new CUevent_st{0, 0};
    return cudaSuccess;
}
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned flags) {
    (void)flags;
    return cudaEventCreate(e);
}
cudaError_t cudaEventQuery(cudaEvent_t e) {
    if (!e) return fail(cudaErrorInvalidResourceHandle);
    if (!e->pending) return cudaSuccess;
    static const bool sets = getenv("XEMU_NOTREADY_SETS_ERROR") != nullptr;
    return sets ? fail(cudaErrorNotReady) : cudaErrorNotReady;
}
cudaError_t cudaEventDestroy(cudaEvent_t e) {
    delete e;
    return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
    (void)s;
    e->recorded = 1;
    if (xemu::g_held) {
        e->pending++;
        xemu::queue_().push_back({nullptr, nullptr, 0, e});
    }
    return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t e) {
    (void)e;
    xemu::host_wait();
    return cudaSuccess;
}
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b) {
    *ms = 0.0f;
    return a->recorded && b->recorded ? cudaSuccess : fail(cudaErrorInvalidValue);
}

cublasStatus_t cublasSetMathMode(cublasHandle_t h, cublasMath_t mode) {
    (void)h, (void)mode;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                            int n, int k, const void *alpha, const void *A, cudaDataType at,
                            int lda, const void *B, cudaDataType bt, int ldb, const void *beta,
                            void *C, cudaDataType ct, int ldc, cublasComputeType_t compute,
                            cublasGemmAlgo_t algo) {
    (void)h, (void)compute, (void)algo;
    if (at != CUDA_R_32F || bt != CUDA_R_32F || ct != CUDA_R_32F)
        return CUBLAS_STATUS_NOT_SUPPORTED;
    gemm<float>(ta, tb, m, n, k, *(const float *)alpha, (const float *)A, lda, (const float *)B,
                ldb, *(const float *)beta, (float *)C, ldc);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                           int n, int k, const double *alpha, const double *A, int lda,
                           const double *B, int ldb, const double *beta, double *C, int ldc) {
    (void)h;
    gemm<double>(ta, tb, m, n, k, *alpha, A, lda, B, ldb, *beta, C, ldc);
    return CUBLAS_STATUS_SUCCESS;
}

const char *cublasGetStatusString(cublasStatus_t s) {
    return s == CUBLAS_STATUS_SUCCESS ? "success" : "cuBLAS error (emulated)";
}
const char *cublasGetStatusName(cublasStatus_t s) {
    return s == CUBLAS_STATUS_SUCCESS ? "CUBLAS_STATUS_SUCCESS" : "CUBLAS_STATUS_NOT_SUPPORTED";
}
const char *cudnnGetErrorString(cudnnStatus_t s) {
    return s == CUDNN_STATUS_SUCCESS ? "CUDNN_STATUS_SUCCESS" : "CUDNN_STATUS_NOT_SUPPORTED";
}
void cudnnGetLastErrorString(char *buf, size_t max) {
    if (max) buf[0] = 0;
}

} /* extern "C" */
