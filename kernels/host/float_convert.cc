// Out-of-line entry points for the conversions; the bodies live in float_convert_inl.h so
// the reduce loops can inline them.
#include "kernels/host/float_convert.h"

#include "kernels/host/float_convert_inl.h"

namespace prism::kernels {

float halfToFloat(uint16_t h) { return inl::halfToFloat(h); }
uint16_t floatToHalf(float f) { return inl::floatToHalf(f); }
float bf16ToFloat(uint16_t b) { return inl::bf16ToFloat(b); }
uint16_t floatToBf16(float f) { return inl::floatToBf16(f); }
float e4m3ToFloat(uint8_t v) { return inl::e4m3ToFloat(v); }
uint8_t floatToE4m3(float f) { return inl::floatToE4m3(f); }
float e5m2ToFloat(uint8_t v) { return inl::e5m2ToFloat(v); }
uint8_t floatToE5m2(float f) { return inl::floatToE5m2(f); }

}  // namespace prism::kernels
