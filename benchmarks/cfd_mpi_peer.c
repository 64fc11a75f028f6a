/*
 * C MPI peer of the CFD workload (harness/workloads/cfd.py, variant `blocking`): the same scheme,
 * decomposition and communication pattern, written the way an MPI C code would be, so that the
 * harness's strong efficiency can be held against it on the same grid in the same sitting.
 *
 * Scheme (kernels/cfd.py): periodic unit square, N x N cells, explicit Euler, upwind advection,
 * central diffusion, as five coefficients:
 *     c'[i,j] = cc*c[i,j] + cs*c[i+1,j] + cn*c[i-1,j] + ce*c[i,j+1] + cw*c[i,j-1]
 * Decomposition: MPI_Dims_create on 2 dimensions, MPI_Cart_create periodic, block rows and
 * columns (the first N mod P blocks one larger, as harness/decomposition/blocks.py). Each rank
 * holds its block with one halo layer, (rows+2) x (cols+2), row-major.
 * Per step: non-blocking halo exchange (MPI_Irecv x 4, MPI_Isend x 4 — rows contiguous,
 * columns as an MPI_Type_vector — then MPI_Waitall), the update of the whole block, swap; every
 * RESIDUAL_EVERY-th step the update also takes max |c' - c| and an MPI_Allreduce(MAX) follows,
 * as the harness does.
 *
 * Timing: the field is set to the initial mode (untimed), one warm-up repetition runs, then each
 * of REPS repetitions resets the field (untimed), MPI_Barrier, MPI_Wtime, STEPS steps,
 * MPI_Wtime; the repetition's time is the MAX over ranks. Verification: after the last
 * repetition, max over the grid of |c - exact| / |G|^STEPS with the closed form of the discrete
 * scheme (amplitude |G|^s, phase s*arg G, as CFDCase.expected), and the L2 norm of the field.
 *
 * Usage: cfd_mpi_peer N STEPS REPS [NU U V KX KY SAFETY RESIDUAL_EVERY]
 * Rank 0 prints one JSON object: n, steps, reps, ranks, dims, seconds (median repetition),
 * rep_seconds, error, l2.
 */
#define _DEFAULT_SOURCE
#include <complex.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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

static void block(long n, int parts, int index, long *start, long *count) {
    long base = n / parts, extra = n % parts;
    *start = index * base + (index < extra ? index : extra);
    *count = base + (index < extra ? 1 : 0);
}

static void mode(double *c, long rows, long cols, long r0, long c0, long n, long kx, long ky,
                 double amplitude, double phase) {
    const long w = cols + 2;
    for (long i = 0; i < rows; i++)
        for (long j = 0; j < cols; j++) {
            long turns = ((kx * (r0 + i)) % n + (ky * (c0 + j)) % n) % n;
            c[(i + 1) * w + j + 1] = amplitude * sin(2.0 * M_PI * (double)turns / (double)n + phase);
        }
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc < 4) {
        if (size >= 0) fprintf(stderr, "usage: cfd_mpi_peer N STEPS REPS [NU U V KX KY SAFETY RESIDUAL_EVERY]\n");
        MPI_Finalize();
        return 2;
    }
    const long n = atol(argv[1]), steps = atol(argv[2]);
    const int reps = atoi(argv[3]);
    const double nu = argc > 4 ? atof(argv[4]) : 0.01, u = argc > 5 ? atof(argv[5]) : 1.0,
                 v = argc > 6 ? atof(argv[6]) : 0.5;
    const long kx = argc > 7 ? atol(argv[7]) : 1, ky = argc > 8 ? atol(argv[8]) : 2;
    const double safety = argc > 9 ? atof(argv[9]) : 0.9;
    const long every = argc > 10 ? atol(argv[10]) : 10;

    int dims[2] = {0, 0}, periods[2] = {1, 1}, coords[2];
    MPI_Dims_create(size, 2, dims);
    MPI_Comm cart;
    MPI_Cart_create(MPI_COMM_WORLD, 2, dims, periods, 0, &cart);
    MPI_Comm_rank(cart, &rank);
    MPI_Cart_coords(cart, rank, 2, coords);
    int north, south, west, east;
    MPI_Cart_shift(cart, 0, 1, &north, &south);
    MPI_Cart_shift(cart, 1, 1, &west, &east);
    long r0, rows, c0, cols;
    block(n, dims[0], coords[0], &r0, &rows);
    block(n, dims[1], coords[1], &c0, &cols);
    const long w = cols + 2;
    MPI_Datatype column;
    MPI_Type_vector((int)rows, 1, (int)w, MPI_DOUBLE, &column);
    MPI_Type_commit(&column);

    const double h = 1.0 / (double)n;
    const double dt = safety / (4.0 * nu / (h * h) + (u + v) / h);
    const double d = dt * nu / (h * h), ax = dt * u / h, ay = dt * v / h;
    const double cc = 1.0 - 4.0 * d - ax - ay, cs = d, cn = d + ax, ce = d, cw = d + ay;
    const size_t bytes = (size_t)(rows + 2) * (size_t)w * sizeof(double);
    double *a = allocate(bytes), *b = allocate(bytes);
    double *rep_seconds = malloc((size_t)(reps + 1) * sizeof(double));
    if (a == NULL || b == NULL || rep_seconds == NULL) {
        fprintf(stderr, "cfd_mpi_peer: cannot allocate two %zu-byte arrays\n", bytes);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    memset(a, 0, bytes);
    memset(b, 0, bytes);
    double *c = a, *out = b;

    for (int rep = -1; rep < reps; rep++) { /* rep -1: the warm-up */
        c = a;
        out = b;
        mode(c, rows, cols, r0, c0, n, kx, ky, 1.0, 0.0);
        MPI_Barrier(cart);
        const double t0 = MPI_Wtime();
        for (long step = 1; step <= steps; step++) {
            MPI_Request req[8];
            MPI_Irecv(&c[0 * w + 1], (int)cols, MPI_DOUBLE, north, 0, cart, &req[0]);
            MPI_Irecv(&c[(rows + 1) * w + 1], (int)cols, MPI_DOUBLE, south, 1, cart, &req[1]);
            MPI_Irecv(&c[1 * w + 0], 1, column, west, 2, cart, &req[2]);
            MPI_Irecv(&c[1 * w + cols + 1], 1, column, east, 3, cart, &req[3]);
            MPI_Isend(&c[rows * w + 1], (int)cols, MPI_DOUBLE, south, 0, cart, &req[4]);
            MPI_Isend(&c[1 * w + 1], (int)cols, MPI_DOUBLE, north, 1, cart, &req[5]);
            MPI_Isend(&c[1 * w + cols], 1, column, east, 2, cart, &req[6]);
            MPI_Isend(&c[1 * w + 1], 1, column, west, 3, cart, &req[7]);
            MPI_Waitall(8, req, MPI_STATUSES_IGNORE);
            const int residual = every > 0 && step % every == 0;
            double res = 0.0;
            for (long i = 1; i <= rows; i++) {
                const double *restrict nr = &c[(i - 1) * w + 1], *restrict ce_ = &c[i * w + 1],
                             *restrict sr = &c[(i + 1) * w + 1], *restrict er = &c[i * w + 2],
                             *restrict wr = &c[i * w];
                double *restrict o = &out[i * w + 1];
                if (residual) {
                    for (long j = 0; j < cols; j++) {
                        double x = cc * ce_[j] + cs * sr[j] + cn * nr[j] + ce * er[j] + cw * wr[j];
                        o[j] = x;
                        res = fmax(res, fabs(x - ce_[j]));
                    }
                } else {
                    for (long j = 0; j < cols; j++)
                        o[j] = cc * ce_[j] + cs * sr[j] + cn * nr[j] + ce * er[j] + cw * wr[j];
                }
            }
            double *t = c;
            c = out;
            out = t;
            if (residual) MPI_Allreduce(MPI_IN_PLACE, &res, 1, MPI_DOUBLE, MPI_MAX, cart);
        }
        double elapsed = MPI_Wtime() - t0;
        MPI_Allreduce(MPI_IN_PLACE, &elapsed, 1, MPI_DOUBLE, MPI_MAX, cart);
        rep_seconds[rep + 1] = elapsed;
    }

    /* closed form of the discrete scheme after `steps` steps (CFDCase.expected) */
    const double complex g = 1.0 + dt * (nu * (2.0 * cos(2.0 * M_PI * kx / n) +
                                               2.0 * cos(2.0 * M_PI * ky / n) - 4.0) / (h * h)
                                         - u * (1.0 - cexp(-I * 2.0 * M_PI * kx / n)) / h
                                         - v * (1.0 - cexp(-I * 2.0 * M_PI * ky / n)) / h);
    const double amplitude = pow(cabs(g), (double)steps);
    const double phase = remainder((double)steps * carg(g), 2.0 * M_PI);
    mode(out, rows, cols, r0, c0, n, kx, ky, amplitude, phase);
    double err = 0.0, sq = 0.0;
    for (long i = 1; i <= rows; i++)
        for (long j = 1; j <= cols; j++) {
            err = fmax(err, fabs(c[i * w + j] - out[i * w + j]));
            sq += c[i * w + j] * c[i * w + j];
        }
    MPI_Allreduce(MPI_IN_PLACE, &err, 1, MPI_DOUBLE, MPI_MAX, cart);
    MPI_Allreduce(MPI_IN_PLACE, &sq, 1, MPI_DOUBLE, MPI_SUM, cart);
    if (rank == 0) {
        double *sorted = malloc((size_t)reps * sizeof(double));
        memcpy(sorted, rep_seconds + 1, (size_t)reps * sizeof(double));
        qsort(sorted, (size_t)reps, sizeof(double), cmp);
        const double median = reps % 2 ? sorted[reps / 2]
                                       : 0.5 * (sorted[reps / 2 - 1] + sorted[reps / 2]);
        printf("{\"n\": %ld, \"steps\": %ld, \"reps\": %d, \"ranks\": %d, \"dims\": [%d, %d], "
               "\"seconds\": %.9g, \"rep_seconds\": [", n, steps, reps, size, dims[0], dims[1],
               median);
        for (int r = 0; r < reps; r++) printf("%s%.9g", r ? ", " : "", rep_seconds[r + 1]);
        printf("], \"error\": %.6g, \"l2\": %.17g}\n", err / amplitude, sqrt(sq));
        free(sorted);
    }
    MPI_Type_free(&column);
    MPI_Comm_free(&cart);
    free(a);
    free(b);
    free(rep_seconds);
    MPI_Finalize();
    return 0;
}
