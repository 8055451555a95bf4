#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <vector>

#include "cnnrt/tensor.h"

namespace cnnrt::bindings {
DType dtype_of(const pybind11::array& a);
pybind11::dtype np_dtype(DType t);
Tensor tensor_from_array(const pybind11::array& a);
// A kernel hook's output: a new array of `shape`, or the caller's `out` (a
// writeable C-contiguous float32 array of exactly that shape, e.g. one that
// ends right before a PROT_NONE page: the guard-page kernel tests).
pybind11::array_t<float, pybind11::array::c_style | pybind11::array::forcecast> out_array(
    const pybind11::object& out, const std::vector<pybind11::ssize_t>& shape, const char* hook);
}  // namespace cnnrt::bindings

void register_kernels(pybind11::module_& m);
void register_kernels_nhwc(pybind11::module_& kernels);
