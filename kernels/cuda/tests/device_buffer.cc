#include "kernels/cuda/tests/device_buffer.h"

#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace prism::kernels::testing {
namespace {

void checkCuda(cudaError_t err, const char* what) {
  if (err != cudaSuccess) {
    throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
  }
}

/// Exponent and mantissa widths of a floating type; {0, 0} for integers.
struct FloatShape {
  int expBits;
  int mantBits;
};

FloatShape floatShape(DataType type) {
  switch (type) {
    case DataType::Float16:
      return {5, 10};
    case DataType::Float32:
      return {8, 23};
    case DataType::Float64:
      return {11, 52};
    case DataType::Bfloat16:
      return {8, 7};
    case DataType::Float8e4m3:
      return {4, 3};
    case DataType::Float8e5m2:
      return {5, 2};
    default:
      return {0, 0};
  }
}

uint64_t loadElement(const uint8_t* p, size_t size) {
  uint64_t v = 0;
  std::memcpy(&v, p, size);  // little-endian
  return v;
}

void storeElement(uint8_t* p, size_t size, uint64_t v) { std::memcpy(p, &v, size); }

/// A special-class pattern: exponent zero, one, all ones or all ones minus one, with a
/// mantissa that is zero, all ones or random, and a random sign.
uint64_t specialPattern(FloatShape s, std::mt19937_64& rng) {
  uint64_t mantMask = (uint64_t{1} << s.mantBits) - 1;
  uint64_t expTop = (uint64_t{1} << s.expBits) - 1;
  uint64_t exps[] = {0, 1, expTop, expTop - 1};
  uint64_t exp = exps[rng() % 4];
  uint64_t mant = rng() & mantMask;
  switch (rng() % 4) {
    case 0:
      mant = 0;
      break;
    case 1:
      mant = mantMask;
      break;
    default:
      break;
  }
  uint64_t sign = rng() & 1;
  return (sign << (s.expBits + s.mantBits)) | (exp << s.mantBits) | mant;
}

}  // namespace

std::string cudaUnavailableReason() {
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) return std::string("no CUDA device: ") + cudaGetErrorString(err);
  if (count == 0) return "no CUDA device: device count is 0";
  return "";
}

DeviceBuffer::DeviceBuffer(size_t bytes) : bytes_(bytes) {
  checkCuda(cudaMalloc(&ptr_, bytes > 0 ? bytes : 1), "cudaMalloc");
}

DeviceBuffer::~DeviceBuffer() { cudaFree(ptr_); }

void DeviceBuffer::upload(size_t offset, const std::vector<uint8_t>& bytes) {
  checkCuda(cudaMemcpy(at(offset), bytes.data(), bytes.size(), cudaMemcpyHostToDevice),
            "cudaMemcpy H2D");
}

std::vector<uint8_t> DeviceBuffer::download(size_t offset, size_t bytes) const {
  std::vector<uint8_t> out(bytes);
  checkCuda(cudaMemcpy(out.data(), at(offset), bytes, cudaMemcpyDeviceToHost), "cudaMemcpy D2H");
  return out;
}

void DeviceBuffer::fill(uint8_t value) { checkCuda(cudaMemset(ptr_, value, bytes_), "cudaMemset"); }

void syncDevice() { checkCuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

std::vector<uint8_t> randomElements(DataType type, size_t count, std::mt19937_64& rng) {
  size_t size = dataTypeSize(type);
  FloatShape shape = floatShape(type);
  std::vector<uint8_t> out(count * size);
  for (size_t i = 0; i < count; ++i) {
    uint64_t v = rng();
    if (shape.expBits > 0 && rng() % 4 == 0) v = specialPattern(shape, rng);
    storeElement(&out[i * size], size, v);
  }
  return out;
}

std::vector<uint8_t> relatedElements(DataType type, const std::vector<uint8_t>& other,
                                     std::mt19937_64& rng) {
  size_t size = dataTypeSize(type);
  FloatShape shape = floatShape(type);
  size_t count = other.size() / size;
  std::vector<uint8_t> out = randomElements(type, count, rng);
  if (shape.expBits == 0) return out;
  uint64_t mantMask = (uint64_t{1} << shape.mantBits) - 1;
  uint64_t signBit = uint64_t{1} << (shape.expBits + shape.mantBits);
  for (size_t i = 0; i < count; ++i) {
    if (rng() % 3 != 0) continue;
    uint64_t v = loadElement(&other[i * size], size);
    // Same exponent, new mantissa, random sign: a + b cancels or carries.
    v = (v & ~mantMask) ^ (rng() & mantMask);
    if (rng() & 1) v ^= signBit;
    storeElement(&out[i * size], size, v);
  }
  return out;
}

std::string compareElements(DataType type, const std::vector<uint8_t>& got,
                            const std::vector<uint8_t>& want, const std::vector<uint8_t>& alt) {
  if (got.size() != want.size()) return "size differs";
  size_t size = dataTypeSize(type);
  std::string report;
  size_t bad = 0;
  for (size_t i = 0; i < got.size(); i += size) {
    if (std::memcmp(&got[i], &want[i], size) == 0) continue;
    if (!alt.empty() && std::memcmp(&got[i], &alt[i], size) == 0) continue;
    if (++bad <= 5) {
      char line[160];
      std::snprintf(
          line, sizeof line, "  element %zu: device %0*llx, host %0*llx\n", i / size,
          static_cast<int>(2 * size), static_cast<unsigned long long>(loadElement(&got[i], size)),
          static_cast<int>(2 * size), static_cast<unsigned long long>(loadElement(&want[i], size)));
      report += line;
    }
  }
  if (bad == 0) return "";
  return std::to_string(bad) + " of " + std::to_string(got.size() / size) + " elements differ:\n" +
         report;
}

}  // namespace prism::kernels::testing
