/* The peer side of perf/compare_mpi.sh: times MPI collectives the way prism-bench times
 * Prism's (nccl-tests columns and busbw factors), so the two can run side by side.
 * Float32 sum on buffers allocated once at the largest size; time per call is the mean
 * over -n iterations after -w warm-ups, averaged over ranks; the first warm-up result of
 * each size is checked against exact integer-valued data.
 *   mpirun -np 2 mpi_bench allreduce|allgather|reducescatter|broadcast|alltoall
 *          [-b BYTES] [-e BYTES] [-f FACTOR] [-n ITERS] [-w WARMUP]
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { ALLREDUCE, ALLGATHER, REDUCESCATTER, BROADCAST, ALLTOALL } Coll;

static size_t parseSize(const char* s) {
  char* end = NULL;
  double v = strtod(s, &end);
  if (*end == 'K' || *end == 'k') v *= 1024.0;
  if (*end == 'M' || *end == 'm') v *= 1024.0 * 1024.0;
  if (*end == 'G' || *end == 'g') v *= 1024.0 * 1024.0 * 1024.0;
  return (size_t)v;
}

/* Bytes each rank's send and receive buffers need for `bytes` (nccl-tests' size). */
static void bufferBytes(Coll c, size_t bytes, int n, size_t* send, size_t* recv) {
  *send = *recv = bytes;
  if (c == ALLGATHER) *send = bytes / n;
  if (c == REDUCESCATTER) *recv = bytes / n;
}

/* Elements per call for a size in bytes: a multiple of n where the size is split in n. */
static size_t elements(Coll c, size_t bytes, int n) {
  size_t count = bytes / sizeof(float);
  if (c == ALLGATHER || c == REDUCESCATTER || c == ALLTOALL) count -= count % n;
  return count;
}

static double busFactor(Coll c, int n) {
  if (c == ALLREDUCE) return 2.0 * (n - 1) / n;
  if (c == BROADCAST) return 1.0;
  return (double)(n - 1) / n;
}

static void call(Coll c, float* send, float* recv, size_t count, int n) {
  switch (c) {
    case ALLREDUCE:
      MPI_Allreduce(send, recv, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      break;
    case ALLGATHER:
      MPI_Allgather(send, (int)(count / n), MPI_FLOAT, recv, (int)(count / n), MPI_FLOAT,
                    MPI_COMM_WORLD);
      break;
    case REDUCESCATTER:
      MPI_Reduce_scatter_block(send, recv, (int)(count / n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      break;
    case BROADCAST:
      MPI_Bcast(recv, (int)count, MPI_FLOAT, 0, MPI_COMM_WORLD);
      break;
    case ALLTOALL:
      MPI_Alltoall(send, (int)(count / n), MPI_FLOAT, recv, (int)(count / n), MPI_FLOAT,
                   MPI_COMM_WORLD);
      break;
  }
}

/* Wrong elements of rank `rank`'s output after one call on data send[i] = rank + i % 7. */
static long wrong(Coll c, const float* recv, size_t count, int rank, int n) {
  long bad = 0;
  size_t block = count / n;
  size_t elems = c == REDUCESCATTER ? block : count;
  for (size_t i = 0; i < elems; ++i) {
    double want = 0;
    if (c == ALLREDUCE) want = n * (n - 1) / 2.0 + n * (double)(i % 7);
    if (c == REDUCESCATTER) want = n * (n - 1) / 2.0 + n * (double)((rank * block + i) % 7);
    if (c == ALLGATHER) want = (double)(i / block) + (double)((i % block) % 7);
    if (c == BROADCAST) want = (double)(i % 7);
    if (c == ALLTOALL) want = (double)(i / block) + (double)((rank * block + i % block) % 7);
    if (recv[i] != (float)want) ++bad;
  }
  return bad;
}

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, n = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  const char* names[] = {"allreduce", "allgather", "reducescatter", "broadcast", "alltoall"};
  int coll = -1;
  size_t minBytes = 32u << 20, maxBytes = 32u << 20, factor = 2;
  int iters = 20, warmup = 5;
  for (int i = 1; i < argc; ++i) {
    for (int k = 0; k < 5; ++k)
      if (strcmp(argv[i], names[k]) == 0) coll = k;
    if (i + 1 < argc) {
      if (!strcmp(argv[i], "-b"))
        minBytes = parseSize(argv[++i]);
      else if (!strcmp(argv[i], "-e"))
        maxBytes = parseSize(argv[++i]);
      else if (!strcmp(argv[i], "-f"))
        factor = parseSize(argv[++i]);
      else if (!strcmp(argv[i], "-n"))
        iters = atoi(argv[++i]);
      else if (!strcmp(argv[i], "-w"))
        warmup = atoi(argv[++i]);
    }
  }
  if (coll < 0 || factor < 2 || iters < 1 || warmup < 1) {
    if (rank == 0) fprintf(stderr, "usage: mpi_bench COLLECTIVE [-b -e -f -n -w]\n");
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  Coll c = (Coll)coll;
  size_t sendMax, recvMax;
  bufferBytes(c, maxBytes, n, &sendMax, &recvMax);
  float* send = malloc(sendMax + 64);
  float* recv = malloc(recvMax + 64);
  if (rank == 0) {
    printf("# mpi_bench %s: %d ranks, float sum\n", names[c], n);
    printf("#%12s %12s %8s %10s %8s %8s %6s\n", "size", "count", "type", "time(us)", "algbw",
           "busbw", "#wrong");
  }
  /* As nccl-tests and prism-bench: warm-up calls at the largest size, then the smallest,
   * before the sweep, and again before each size. */
  for (int pass = 0; pass < 2; ++pass) {
    size_t count = elements(c, pass == 0 ? maxBytes : minBytes, n);
    for (int i = 0; count > 0 && i < warmup; ++i) call(c, send, recv, count, n);
  }
  long totalWrong = 0;
  for (size_t bytes = minBytes; bytes <= maxBytes; bytes *= factor) {
    size_t count = elements(c, bytes, n);
    if (count == 0) continue;
    size_t sendBytes, recvBytes;
    bufferBytes(c, count * sizeof(float), n, &sendBytes, &recvBytes);
    for (size_t i = 0; i < sendBytes / sizeof(float); ++i) send[i] = (float)(rank + i % 7);
    if (c == BROADCAST)
      for (size_t i = 0; i < count; ++i) recv[i] = rank == 0 ? (float)(i % 7) : -1.0f;
    call(c, send, recv, count, n);
    long bad = wrong(c, recv, count, rank, n);
    for (int i = 1; i < warmup; ++i) call(c, send, recv, count, n);
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    for (int i = 0; i < iters; ++i) call(c, send, recv, count, n);
    double us = (MPI_Wtime() - t0) * 1e6 / iters, sum = 0;
    long badAll = 0;
    MPI_Reduce(&us, &sum, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    MPI_Reduce(&bad, &badAll, 1, MPI_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
    if (rank == 0) {
      double mean = sum / n, algbw = count * sizeof(float) / mean / 1e3;
      printf(" %12zu %12zu %8s %10.2f %8.2f %8.2f %6ld\n", count * sizeof(float), count, "float",
             mean, algbw, algbw * busFactor(c, n), badAll);
      totalWrong += badAll;
    }
  }
  free(send);
  free(recv);
  MPI_Finalize();
  return totalWrong == 0 ? 0 : 1;
}
