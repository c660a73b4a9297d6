// Conversions between float and the narrow floating formats, round to nearest even.
#pragma once

#include <cstdint>

namespace prism::kernels {

float halfToFloat(uint16_t h);
uint16_t floatToHalf(float f);
float bf16ToFloat(uint16_t b);
uint16_t floatToBf16(float f);
/// OCP FP8 E4M3 ("FN": no infinities, max 448, NaN = 0x7f/0xff). Saturates to +-448.
float e4m3ToFloat(uint8_t v);
uint8_t floatToE4m3(float f);
/// OCP FP8 E5M2 (IEEE-like, has infinities). Finite inputs saturate to +-57344.
float e5m2ToFloat(uint8_t v);
uint8_t floatToE5m2(float f);

}  // namespace prism::kernels
