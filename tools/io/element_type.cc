// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "tools/io/element_type.h"

namespace tqsearch::io {

size_t element_size(ElementType t) {
  switch (t) {
    case ElementType::kFloat32: return 4;
    case ElementType::kFloat16: return 2;
    case ElementType::kFloat64: return 8;
    case ElementType::kUint8: return 1;
    case ElementType::kInt8: return 1;
    case ElementType::kInt32: return 4;
    case ElementType::kInt64: return 8;
  }
  return 0;
}

std::string_view element_type_name(ElementType t) {
  switch (t) {
    case ElementType::kFloat32: return "float32";
    case ElementType::kFloat16: return "float16";
    case ElementType::kFloat64: return "float64";
    case ElementType::kUint8: return "uint8";
    case ElementType::kInt8: return "int8";
    case ElementType::kInt32: return "int32";
    case ElementType::kInt64: return "int64";
  }
  return "unknown";
}

bool is_integer(ElementType t) {
  return t == ElementType::kUint8 || t == ElementType::kInt8 || t == ElementType::kInt32 ||
         t == ElementType::kInt64;
}

bool is_floating(ElementType t) { return !is_integer(t); }

}  // namespace tqsearch::io
