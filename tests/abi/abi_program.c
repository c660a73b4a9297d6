/* An unmodified NCCL program: compiled against NVIDIA's nccl.h, linked to Prism's
 * libnccl.so.2, never touching CUDA (NULL streams, host buffers). Three ranks run as forked
 * processes and check allreduce, allgather, broadcast, reduce-scatter, a send/recv ring
 * and a split. Prints OK and exits 0 when every rank passes.
 *
 * Usage: abi_program [expected-library-path]   (checks that nccl* resolves to that file) */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <nccl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NRANKS 3
#define COUNT 4099
#define TIMEOUT_SECONDS 60

static int failed(int rank, const char* what, ncclResult_t result) {
  fprintf(stderr, "rank %d: %s returned %d (%s): %s\n", rank, what, (int)result,
          ncclGetErrorString(result), ncclGetLastError(NULL));
  return 1;
}

static int wrong(int rank, const char* what, long index, double got, double want) {
  fprintf(stderr, "rank %d: %s element %ld is %g, expected %g\n", rank, what, index, got, want);
  return 1;
}

/* Nonzero (after printing why) unless `result` is ncclSuccess. */
static int bad(int rank, const char* what, ncclResult_t result) {
  return result == ncclSuccess ? 0 : failed(rank, what, result);
}

static float fin[COUNT], fout[COUNT];
static int iin[COUNT], iout[COUNT * NRANKS];
static double dbuf[COUNT];
static long long lin[COUNT * NRANKS], lout[COUNT];

static int runRank(int rank, ncclUniqueId id) {
  ncclComm_t comm = NULL;
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER; /* NVIDIA's initializer, Prism's reader */
  config.blocking = 1;
  config.commName = "abi_program";
  if (bad(rank, "ncclCommInitRankConfig", ncclCommInitRankConfig(&comm, NRANKS, id, rank, &config)))
    return 1;
  int n = -1, me = -1;
  if (bad(rank, "ncclCommCount", ncclCommCount(comm, &n))) return 1;
  if (bad(rank, "ncclCommUserRank", ncclCommUserRank(comm, &me))) return 1;
  if (n != NRANKS || me != rank)
    return wrong(rank, "count/rank", 0, n * 100 + me, NRANKS * 100 + rank);

  for (long i = 0; i < COUNT; ++i) fin[i] = (float)(rank + (i % 7));
  if (bad(rank, "ncclAllReduce", ncclAllReduce(fin, fout, COUNT, ncclFloat, ncclSum, comm, NULL)))
    return 1;
  for (long i = 0; i < COUNT; ++i) {
    const float want = (float)(3 * (i % 7) + 3);
    if (fout[i] != want) return wrong(rank, "allreduce", i, fout[i], want);
  }

  for (long i = 0; i < COUNT; ++i) iin[i] = rank * 100000 + (int)i;
  if (bad(rank, "ncclAllGather", ncclAllGather(iin, iout, COUNT, ncclInt32, comm, NULL))) return 1;
  for (long i = 0; i < COUNT * NRANKS; ++i) {
    const int want = (int)(i / COUNT) * 100000 + (int)(i % COUNT);
    if (iout[i] != want) return wrong(rank, "allgather", i, iout[i], want);
  }

  for (long i = 0; i < COUNT; ++i) dbuf[i] = rank == 2 ? 0.25 * (double)i : -1.0;
  if (bad(rank, "ncclBcast", ncclBcast(dbuf, COUNT, ncclDouble, 2, comm, NULL))) return 1;
  for (long i = 0; i < COUNT; ++i) {
    if (dbuf[i] != 0.25 * (double)i) return wrong(rank, "broadcast", i, dbuf[i], 0.25 * (double)i);
  }

  for (long i = 0; i < COUNT * NRANKS; ++i) lin[i] = (long long)(i * (rank + 1));
  if (bad(rank, "ncclReduceScatter",
          ncclReduceScatter(lin, lout, COUNT, ncclInt64, ncclMax, comm, NULL)))
    return 1;
  for (long i = 0; i < COUNT; ++i) {
    const long long want = (long long)((rank * COUNT + i) * NRANKS);
    if (lout[i] != want) return wrong(rank, "reducescatter", i, (double)lout[i], (double)want);
  }

  if (bad(rank, "ncclGroupStart", ncclGroupStart())) return 1;
  if (bad(rank, "ncclSend", ncclSend(fin, COUNT, ncclFloat32, (rank + 1) % NRANKS, comm, NULL)))
    return 1;
  if (bad(rank, "ncclRecv",
          ncclRecv(fout, COUNT, ncclFloat32, (rank + NRANKS - 1) % NRANKS, comm, NULL)))
    return 1;
  if (bad(rank, "ncclGroupEnd", ncclGroupEnd())) return 1;
  for (long i = 0; i < COUNT; ++i) {
    const float want = (float)((rank + NRANKS - 1) % NRANKS + (i % 7));
    if (fout[i] != want) return wrong(rank, "send/recv ring", i, fout[i], want);
  }

  ncclComm_t half = NULL;
  if (bad(rank, "ncclCommSplit",
          ncclCommSplit(comm, rank == 1 ? NCCL_SPLIT_NOCOLOR : 0, rank, &half, NULL)))
    return 1;
  if (rank == 1) {
    if (half != NULL) return wrong(rank, "split NOCOLOR comm", 0, 1, 0);
  } else {
    int v = rank + 1, sum = 0;
    if (bad(rank, "ncclAllReduce", ncclAllReduce(&v, &sum, 1, ncclInt, ncclSum, half, NULL)))
      return 1;
    if (sum != 4) return wrong(rank, "split allreduce", 0, sum, 4);
    if (bad(rank, "ncclCommDestroy", ncclCommDestroy(half))) return 1;
  }
  if (bad(rank, "ncclCommFinalize", ncclCommFinalize(comm))) return 1;
  if (bad(rank, "ncclCommDestroy", ncclCommDestroy(comm))) return 1;
  return 0;
}

/* The file that defines ncclGetVersion in this process must be `expected`. */
static int checkResolvedLibrary(const char* expected) {
  Dl_info info;
  void* symbol = dlsym(RTLD_DEFAULT, "ncclGetVersion");
  if (symbol == NULL || dladdr(symbol, &info) == 0 || info.dli_fname == NULL) {
    fprintf(stderr, "cannot locate the library that defines ncclGetVersion\n");
    return 1;
  }
  char have[PATH_MAX], want[PATH_MAX];
  if (realpath(info.dli_fname, have) == NULL || realpath(expected, want) == NULL ||
      strcmp(have, want) != 0) {
    fprintf(stderr, "ncclGetVersion comes from %s, expected %s\n", info.dli_fname, expected);
    return 1;
  }
  return 0;
}

int main(int argc, char** argv) {
  const int rank = -1;
  if (argc > 1 && checkResolvedLibrary(argv[1]) != 0) return 1;
  int version = 0;
  if (bad(rank, "ncclGetVersion", ncclGetVersion(&version))) return 1;
  if (version < 22800) return wrong(rank, "ncclGetVersion", 0, version, 22800);
  ncclUniqueId id;
  if (bad(rank, "ncclGetUniqueId", ncclGetUniqueId(&id))) return 1;

  pid_t pids[NRANKS];
  fflush(NULL);
  for (int r = 0; r < NRANKS; ++r) {
    pids[r] = fork();
    if (pids[r] == 0) _exit(runRank(r, id));
    if (pids[r] < 0) {
      perror("fork");
      return 1;
    }
  }
  int failures = 0, done = 0, finished[NRANKS] = {0};
  const time_t deadline = time(NULL) + TIMEOUT_SECONDS;
  while (done < NRANKS) {
    for (int r = 0; r < NRANKS; ++r) {
      int status = 0;
      if (finished[r] || waitpid(pids[r], &status, WNOHANG) != pids[r]) continue;
      finished[r] = 1;
      ++done;
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "rank %d ended with status 0x%x\n", r, status);
        ++failures;
      }
    }
    if (done < NRANKS && time(NULL) > deadline) {
      for (int r = 0; r < NRANKS; ++r) {
        if (finished[r]) continue;
        fprintf(stderr, "rank %d did not finish within %d s\n", r, TIMEOUT_SECONDS);
        kill(pids[r], SIGKILL);
        waitpid(pids[r], NULL, 0);
        ++failures;
      }
      break;
    }
    struct timespec nap = {0, 5 * 1000 * 1000};
    nanosleep(&nap, NULL);
  }
  if (failures != 0) {
    printf("FAIL: %d of %d ranks failed\n", failures, NRANKS);
    return 1;
  }
  printf("OK: %d ranks (processes) passed on Prism's libnccl.so.2, NCCL API %d\n", NRANKS, version);
  return 0;
}
