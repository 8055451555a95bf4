// Tensors: a dtype, a shape and a 64-byte aligned buffer. Plain data.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cnnrt/status.h"

namespace cnnrt {

// Codes are ONNX TensorProto.DataType values.
enum class DType : int32_t { F32 = 1, U8 = 2, I8 = 3, I32 = 6, I64 = 7, BOOL = 9, F64 = 11 };

size_t dtype_size(DType t);
const char* dtype_name(DType t);
bool dtype_supported(int32_t code);  // what the runtime computes with: F32, I64, BOOL

using Shape = std::vector<int64_t>;

// Product of dims, overflow-checked; dims must be >= 0.
int64_t checked_numel(const Shape& s);
std::string shape_str(const Shape& s);  // unknown (negative) dims print as '?'
std::string ints_str(const std::vector<int64_t>& v);  // every value as is

// Overflow-checked int64 arithmetic for shape math on untrusted graphs.
int64_t checked_mul(int64_t a, int64_t b);
int64_t checked_add(int64_t a, int64_t b);

struct AlignedFree {
  void operator()(void* p) const;
};
using BufferPtr = std::shared_ptr<uint8_t>;
BufferPtr alloc_buffer(size_t bytes);  // 64-byte aligned, zero-length ok
// Zero-filled, 64-byte aligned memory for a large buffer that lives as long
// as the session and is read on every run (packed weights): pages of its own
// (mmap on Linux: freed straight back to the OS, and never a heap hole that
// a later block of the same size cannot fill), 2 MiB aligned and marked for
// transparent huge pages where it spans one.
BufferPtr alloc_pages(size_t bytes);

struct Tensor {
  DType dtype = DType::F32;
  Shape shape;
  BufferPtr buf;  // owner; data points into it (or is null for empty)

  Tensor() = default;
  Tensor(DType t, Shape s);  // allocates
  int64_t numel() const { return checked_numel(shape); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype); }
  void* data() { return buf.get(); }
  const void* data() const { return buf.get(); }
  template <class T> T* ptr() { return reinterpret_cast<T*>(buf.get()); }
  template <class T> const T* ptr() const { return reinterpret_cast<const T*>(buf.get()); }
};

}  // namespace cnnrt
