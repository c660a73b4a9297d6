/* A program outside Prism's tree, built against an installed Prism only: two ranks as
 * threads of one process join one communicator through the NCCL API (ncclGetUniqueId,
 * ncclCommInitRank) and allreduce host buffers (Prism takes host pointers, NULL stream).
 * Prints OK and exits 0 when both ranks hold the expected sums. */
#include <nccl.h>
#include <pthread.h>
#include <stdio.h>

#define NRANKS 2
#define COUNT 1000

struct Rank {
  int rank;
  ncclUniqueId id;
  int failed;
};

static void* runRank(void* arg) {
  struct Rank* self = arg;
  static float send[NRANKS][COUNT], recv[NRANKS][COUNT];
  ncclComm_t comm = NULL;
  ncclResult_t result = ncclCommInitRank(&comm, NRANKS, self->id, self->rank);
  for (int i = 0; i < COUNT; ++i) send[self->rank][i] = (float)(self->rank + 1) * (float)i;
  if (result == ncclSuccess) {
    result =
        ncclAllReduce(send[self->rank], recv[self->rank], COUNT, ncclFloat32, ncclSum, comm, NULL);
  }
  if (result != ncclSuccess) {
    fprintf(stderr, "rank %d: %s: %s\n", self->rank, ncclGetErrorString(result),
            ncclGetLastError(comm));
    self->failed = 1;
  }
  for (int i = 0; i < COUNT && !self->failed; ++i) {
    if (recv[self->rank][i] != 3.0f * (float)i) {
      fprintf(stderr, "rank %d: element %d is %g, expected %g\n", self->rank, i,
              recv[self->rank][i], 3.0 * i);
      self->failed = 1;
    }
  }
  if (comm != NULL && ncclCommDestroy(comm) != ncclSuccess) self->failed = 1;
  return NULL;
}

int main(void) {
  struct Rank ranks[NRANKS];
  pthread_t threads[NRANKS];
  ncclUniqueId id;
  if (ncclGetUniqueId(&id) != ncclSuccess) return 1;
  for (int r = 0; r < NRANKS; ++r) {
    ranks[r] = (struct Rank){r, id, 0};
    if (pthread_create(&threads[r], NULL, runRank, &ranks[r]) != 0) return 1;
  }
  int failed = 0;
  for (int r = 0; r < NRANKS; ++r) {
    pthread_join(threads[r], NULL);
    failed |= ranks[r].failed;
  }
  int version = 0;
  ncclGetVersion(&version);
  printf("%s: %d-rank allreduce through the NCCL API %d\n", failed ? "FAIL" : "OK", NRANKS,
         version);
  return failed;
}
