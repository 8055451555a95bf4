#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "cnnrt/tensor.h"

namespace cnnrt::bindings {
DType dtype_of(const pybind11::array& a);
pybind11::dtype np_dtype(DType t);
Tensor tensor_from_array(const pybind11::array& a);
}  // namespace cnnrt::bindings

void register_kernels(pybind11::module_& m);
void register_kernels_nhwc(pybind11::module_& kernels);
