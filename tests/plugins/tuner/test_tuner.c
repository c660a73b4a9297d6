/* An independent NCCL tuner plugin for Prism's tests, written against the public ABI header
 * (prism/nccl_tuner_abi.h) alone, as an outside plugin is. It forces the table entry that
 * the environment names, by setting it to 0:
 *   PRISMTEST_TUNER_ALGO   tree, ring, collnet_direct, collnet_chain, nvls, nvls_tree or pat;
 *                          a comma list is taken in turn, one entry per call; unset: it
 *                          leaves the table alone (no opinion)
 *   PRISMTEST_TUNER_PROTO  ll, ll128 or simple (the default)
 * It sets the entry whatever the table held there, so that an entry the host library
 * marked unusable (NCCL_ALGO_PROTO_IGNORE) can be forced too, as a careless tuner might.
 * Variants, chosen by compile definitions (CMakeLists.txt):
 *   PRISMTEST_TUNER_VERSION     5, 3 or 2: the one ncclTunerPlugin_vN table exported;
 *                               version 2 answers through *algorithm and *protocol
 *   PRISMTEST_TUNER_NO_SYMBOL   exports no tuner table at all
 *   PRISMTEST_TUNER_INIT_FAILS  init returns ncclInternalError */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "prism/nccl_tuner_abi.h"

#define EXPORT __attribute__((visibility("default")))
#define MAX_CHOICES 8
/* Helpers some variants leave unused. */
#define HELPER static __attribute__((unused))

struct Context {
  int algorithms[MAX_CHOICES]; /* the forced entries, used in turn */
  int count;                   /* 0: no opinion */
  int protocol;
  unsigned long calls;
};

HELPER int algorithmNamed(const char* name, size_t length) {
  static const char* const names[NCCL_NUM_ALGORITHMS_V5] = {
      "tree", "ring", "collnet_direct", "collnet_chain", "nvls", "nvls_tree", "pat"};
  for (int a = 0; a < NCCL_NUM_ALGORITHMS_V5; ++a) {
    if (strlen(names[a]) == length && strncasecmp(names[a], name, length) == 0) return a;
  }
  return NCCL_ALGO_UNDEF;
}

HELPER int protocolFromEnv(void) {
  const char* name = getenv("PRISMTEST_TUNER_PROTO");
  if (name == NULL || strcasecmp(name, "simple") == 0) return NCCL_PROTO_SIMPLE;
  if (strcasecmp(name, "ll") == 0) return NCCL_PROTO_LL;
  if (strcasecmp(name, "ll128") == 0) return NCCL_PROTO_LL128;
  return NCCL_PROTO_SIMPLE;
}

HELPER ncclResult_t makeContext(size_t nRanks, size_t nNodes, ncclDebugLogger_t logFunction,
                                void** context) {
#ifdef PRISMTEST_TUNER_INIT_FAILS
  if (logFunction != NULL) {
    logFunction(NCCL_LOG_INFO, NCCL_TUNING, __FILE__, __LINE__,
                "prismtest tuner: init fails on purpose (%zu ranks)", nRanks);
  }
  return ncclInternalError;
#else
  struct Context* ctx = calloc(1, sizeof(*ctx));
  if (ctx == NULL) return ncclSystemError;
  const char* list = getenv("PRISMTEST_TUNER_ALGO");
  while (list != NULL && *list != '\0' && ctx->count < MAX_CHOICES) {
    const char* comma = strchr(list, ',');
    size_t length = comma != NULL ? (size_t)(comma - list) : strlen(list);
    int algorithm = algorithmNamed(list, length);
    if (algorithm != NCCL_ALGO_UNDEF) ctx->algorithms[ctx->count++] = algorithm;
    list = comma != NULL ? comma + 1 : NULL;
  }
  ctx->protocol = protocolFromEnv();
  if (logFunction != NULL) {
    logFunction(NCCL_LOG_INFO, NCCL_TUNING, __FILE__, __LINE__,
                "prismtest tuner: %d forced choice(s) for %zu ranks on %zu nodes", ctx->count,
                nRanks, nNodes);
  }
  *context = ctx;
  return ncclSuccess;
#endif
}

/* The entry this call forces, or NCCL_ALGO_UNDEF. */
HELPER int nextAlgorithm(struct Context* ctx) {
  if (ctx->count == 0) return NCCL_ALGO_UNDEF;
  return ctx->algorithms[ctx->calls++ % (unsigned long)ctx->count];
}

HELPER ncclResult_t forceEntry(void* context, float** collCostTable, int numAlgo, int numProto) {
  struct Context* ctx = context;
  int algorithm = nextAlgorithm(ctx);
  if (algorithm == NCCL_ALGO_UNDEF || algorithm >= numAlgo || ctx->protocol >= numProto) {
    return ncclSuccess;
  }
  /* The host library passes float[numAlgo][numProto], cast to float**. */
  float* table = (float*)collCostTable;
  table[algorithm * numProto + ctx->protocol] = 0.0f;
  return ncclSuccess;
}

HELPER ncclResult_t destroyContext(void* context) {
  free(context);
  return ncclSuccess;
}

#if !defined(PRISMTEST_TUNER_NO_SYMBOL) && PRISMTEST_TUNER_VERSION == 5
static ncclResult_t initV5(void** context, uint64_t commId, size_t nRanks, size_t nNodes,
                           ncclDebugLogger_t logFunction, ncclNvlDomainInfo_v5_t* nvlDomainInfo,
                           ncclTunerConstants_v5_t* constants) {
  (void)commId;
  (void)nvlDomainInfo;
  (void)constants;
  return makeContext(nRanks, nNodes, logFunction, context);
}

static ncclResult_t getCollInfoV5(void* context, ncclFunc_t collType, size_t nBytes, int numPipeOps,
                                  float** collCostTable, int numAlgo, int numProto, int regBuff,
                                  int* nChannels) {
  (void)collType;
  (void)nBytes;
  (void)numPipeOps;
  (void)regBuff;
  (void)nChannels;
  return forceEntry(context, collCostTable, numAlgo, numProto);
}

EXPORT const ncclTuner_v5_t ncclTunerPlugin_v5 = {"prismtest", initV5, getCollInfoV5,
                                                  destroyContext};
#endif

#if !defined(PRISMTEST_TUNER_NO_SYMBOL) && PRISMTEST_TUNER_VERSION == 3
static ncclResult_t initV3(size_t nRanks, size_t nNodes, ncclDebugLogger_t logFunction,
                           void** context) {
  return makeContext(nRanks, nNodes, logFunction, context);
}

static ncclResult_t getCollInfoV3(void* context, ncclFunc_t collType, size_t nBytes, int numPipeOps,
                                  float** collCostTable, int numAlgo, int numProto,
                                  int* nChannels) {
  (void)collType;
  (void)nBytes;
  (void)numPipeOps;
  (void)nChannels;
  return forceEntry(context, collCostTable, numAlgo, numProto);
}

EXPORT const ncclTuner_v3_t ncclTunerPlugin_v3 = {"prismtest3", initV3, getCollInfoV3,
                                                  destroyContext};
#endif

#if !defined(PRISMTEST_TUNER_NO_SYMBOL) && PRISMTEST_TUNER_VERSION == 2
static ncclResult_t initV2(size_t nRanks, size_t nNodes, ncclDebugLogger_t logFunction,
                           void** context) {
  return makeContext(nRanks, nNodes, logFunction, context);
}

static ncclResult_t getCollInfoV2(void* context, ncclFunc_t collType, size_t nBytes,
                                  int collNetSupport, int nvlsSupport, int numPipeOps,
                                  int* algorithm, int* protocol, int* nChannels) {
  (void)collType;
  (void)nBytes;
  (void)collNetSupport;
  (void)nvlsSupport;
  (void)numPipeOps;
  (void)nChannels;
  struct Context* ctx = context;
  int chosen = nextAlgorithm(ctx);
  if (chosen != NCCL_ALGO_UNDEF) {
    *algorithm = chosen;
    *protocol = ctx->protocol;
  }
  return ncclSuccess;
}

EXPORT const ncclTuner_v2_t ncclTunerPlugin_v2 = {"prismtest2", initV2, getCollInfoV2,
                                                  destroyContext};
#endif
