/*
 * C reference for the CFD kernel (kernels/cfd.py): the same arithmetic, loop order and periodic
 * halo fill, so that its cell-update rate can be held against the Numba kernel's.
 *
 * Scheme: periodic unit square, N x N cells, h = 1/N, (i, j) = (row, column); explicit Euler,
 * first-order upwind advection with velocity (u, v), central diffusion with nu, written with the
 * five coefficients of kernels.cfd.stencil_coefficients:
 *
 *     c'[i,j] = cc*c[i,j] + cs*c[i+1,j] + cn*c[i-1,j] + ce*c[i,j+1] + cw*c[i,j-1]
 *
 * evaluated left to right in that order (as the Numba kernel does). Both arrays are padded to
 * (N+2) x (N+2), row-major, with one halo layer; every step first copies the opposite edges into
 * the halo layer (corners untouched, as kernels.cfd.fill_periodic_halo), then updates rows
 * 1..N, columns 1..N (rows outer, columns inner), then swaps the arrays.
 *
 * Initial condition: sin(2*pi*t/N) with t = ((kx*i) mod N + (ky*j) mod N) mod N on the global
 * cell (i, j), i, j = 0..N-1, as kernels.cfd.fourier_mode.
 *
 * Memory: malloc plus madvise(MADV_HUGEPAGE) on arrays of 4 MiB or more, which is what NumPy does
 * for the arrays the Numba kernel works on; without it the C side runs on 4 KiB pages and loses
 * to TLB misses what it should not.
 *
 * Timing: both arrays are allocated and written (first touch) before the clock starts, then one
 * untimed warm-up step runs whose result is discarded (the arrays are not swapped after it, so the
 * field has advanced only by the timed steps). Each of `reps` repetitions times `steps` steps
 * with clock_gettime(CLOCK_MONOTONIC); the field is not reset between repetitions, so the final
 * field has advanced reps*steps steps.
 *
 * Usage: cfd_reference N STEPS [REPS [NU U V KX KY SAFETY [FIELD_OUT]]]
 *   defaults: REPS 1, NU 0.01, U 1.0, V 0.5, KX 1, KY 2, SAFETY 0.9 (the harness's defaults).
 *   FIELD_OUT: file that receives the final N x N interior as raw float64, row-major.
 * Prints one JSON object: n, steps, reps, seconds (the median repetition), rep_seconds,
 * updates_per_s (from the median), dt, coefficients, checksum (sum of squares of the final
 * interior), sum, compiler.
 */
#define _DEFAULT_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

typedef struct {
    double cc, cs, cn, ce, cw;
} coefficients;

static void fill_periodic_halo(double *c, long n) {
    const long w = n + 2;
    memcpy(&c[0 * w + 1], &c[n * w + 1], (size_t)n * sizeof(double));
    memcpy(&c[(n + 1) * w + 1], &c[1 * w + 1], (size_t)n * sizeof(double));
    for (long i = 1; i <= n; i++) {
        c[i * w + 0] = c[i * w + n];
        c[i * w + n + 1] = c[i * w + 1];
    }
}

static void update(const double *restrict c, double *restrict out, long n, coefficients k) {
    const long w = n + 2;
    for (long i = 1; i <= n; i++) {
        const double *up = c + (i - 1) * w;
        const double *mid = c + i * w;
        const double *down = c + (i + 1) * w;
        double *row = out + i * w;
        for (long j = 1; j <= n; j++) {
            row[j] = k.cc * mid[j] + k.cs * down[j] + k.cn * up[j] + k.ce * mid[j + 1]
                     + k.cw * mid[j - 1];
        }
    }
}

/* malloc, then the transparent-huge-page advice NumPy gives every allocation of 4 MiB or more
 * (numpy/_core/src/multiarray/alloc.c), so that both sides see the same page size. */
static double *allocate(size_t bytes) {
    double *p = malloc(bytes);
    if (p != NULL && bytes >= ((size_t)1 << 22)) {
#ifdef MADV_HUGEPAGE
        const size_t offset = 4096u - (size_t)p % 4096u;
        madvise((char *)p + offset, bytes - offset, MADV_HUGEPAGE);
#endif
    }
    return p;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int by_value(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static long parse_long(const char *text, const char *name) {
    char *end;
    long value = strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0') {
        fprintf(stderr, "cfd_reference: %s=%s is not an integer\n", name, text);
        exit(2);
    }
    return value;
}

static double parse_double(const char *text, const char *name) {
    char *end;
    double value = strtod(text, &end);
    if (*text == '\0' || *end != '\0') {
        fprintf(stderr, "cfd_reference: %s=%s is not a number\n", name, text);
        exit(2);
    }
    return value;
}

int main(int argc, char **argv) {
    if (argc < 3 || (argc > 4 && argc < 10) || argc > 11) {
        fprintf(stderr,
                "usage: %s N STEPS [REPS [NU U V KX KY SAFETY [FIELD_OUT]]]\n", argv[0]);
        return 2;
    }
    const long n = parse_long(argv[1], "N");
    const long steps = parse_long(argv[2], "STEPS");
    const long reps = argc > 3 ? parse_long(argv[3], "REPS") : 1;
    const double nu = argc > 4 ? parse_double(argv[4], "NU") : 0.01;
    const double u = argc > 4 ? parse_double(argv[5], "U") : 1.0;
    const double v = argc > 4 ? parse_double(argv[6], "V") : 0.5;
    const long kx = argc > 4 ? parse_long(argv[7], "KX") : 1;
    const long ky = argc > 4 ? parse_long(argv[8], "KY") : 2;
    const double safety = argc > 4 ? parse_double(argv[9], "SAFETY") : 0.9;
    const char *field_out = argc > 10 ? argv[10] : NULL;
    if (n < 1 || steps < 1 || reps < 1) {
        fprintf(stderr, "cfd_reference: N, STEPS and REPS must be >= 1 (got %ld, %ld, %ld)\n",
                n, steps, reps);
        return 2;
    }

    /* the same expressions as kernels.cfd.stable_dt and stencil_coefficients */
    const double h = 1.0 / (double)n;
    const double dt = safety / (4.0 * nu / (h * h) + (u + v) / h);
    const double d = dt * nu / (h * h);
    const double ax = dt * u / h;
    const double ay = dt * v / h;
    const coefficients k = {1.0 - 4.0 * d - ax - ay, d, d + ax, d, d + ay};

    const long w = n + 2;
    const size_t bytes = (size_t)w * (size_t)w * sizeof(double);
    double *c = allocate(bytes);
    double *out = allocate(bytes);
    double *rep_seconds = malloc((size_t)reps * sizeof(double));
    if (c == NULL || out == NULL || rep_seconds == NULL) {
        fprintf(stderr, "cfd_reference: cannot allocate two %zu-byte arrays\n", bytes);
        return 1;
    }
    memset(c, 0, bytes);
    memset(out, 0, bytes);
    for (long i = 0; i < n; i++) {
        for (long j = 0; j < n; j++) {
            const long turns = ((kx * i) % n + (ky * j) % n) % n;
            c[(i + 1) * w + (j + 1)] = sin(2.0 * M_PI * (double)turns / (double)n);
        }
    }

    /* warm-up: one step whose result is discarded (no swap) */
    fill_periodic_halo(c, n);
    update(c, out, n, k);

    for (long r = 0; r < reps; r++) {
        const double t0 = now();
        for (long s = 0; s < steps; s++) {
            fill_periodic_halo(c, n);
            update(c, out, n, k);
            double *t = c;
            c = out;
            out = t;
        }
        rep_seconds[r] = now() - t0;
    }

    double checksum = 0.0, sum = 0.0;
    for (long i = 1; i <= n; i++) {
        for (long j = 1; j <= n; j++) {
            const double x = c[i * w + j];
            sum += x;
            checksum += x * x;
        }
    }
    if (field_out != NULL) {
        FILE *f = fopen(field_out, "wb");
        if (f == NULL) {
            fprintf(stderr, "cfd_reference: cannot open %s for writing\n", field_out);
            return 1;
        }
        for (long i = 1; i <= n; i++) {
            if (fwrite(&c[i * w + 1], sizeof(double), (size_t)n, f) != (size_t)n) {
                fprintf(stderr, "cfd_reference: short write to %s\n", field_out);
                return 1;
            }
        }
        fclose(f);
    }

    double *sorted = malloc((size_t)reps * sizeof(double));
    memcpy(sorted, rep_seconds, (size_t)reps * sizeof(double));
    qsort(sorted, (size_t)reps, sizeof(double), by_value);
    const double median = reps % 2 ? sorted[reps / 2]
                                   : 0.5 * (sorted[reps / 2 - 1] + sorted[reps / 2]);

    printf("{\"n\": %ld, \"steps\": %ld, \"reps\": %ld, \"seconds\": %.9g, \"rep_seconds\": [",
           n, steps, reps, median);
    for (long r = 0; r < reps; r++) {
        printf("%s%.9g", r ? ", " : "", rep_seconds[r]);
    }
    printf("], \"updates_per_s\": %.9g, \"dt\": %.17g, "
           "\"coefficients\": [%.17g, %.17g, %.17g, %.17g, %.17g], "
           "\"checksum\": %.17g, \"sum\": %.17g, \"compiler\": \"gcc %s\"}\n",
           (double)n * (double)n * (double)steps / median, dt, k.cc, k.cs, k.cn, k.ce, k.cw,
           checksum, sum, __VERSION__);
    free(sorted);
    free(rep_seconds);
    free(c);
    free(out);
    return 0;
}
