// The lowered graph the Python compiler hands to the runtime: plain data,
// no Python objects, so it can later be written to and read from a file.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "cnnrt/tensor.h"

namespace cnnrt {

struct Attr {
  enum Kind { Int, Float, Ints, Floats, String } kind = Int;
  int64_t i = 0;
  float f = 0.f;
  std::vector<int64_t> ints;
  std::vector<float> floats;
  std::string s;
};

struct Node {
  std::string op;
  std::string name;
  std::vector<int> inputs;   // value ids; -1 = optional input absent
  std::vector<int> outputs;  // value ids; -1 = optional output not requested
  std::map<std::string, Attr> attrs;

  bool has(const std::string& k) const { return attrs.count(k) != 0; }
  int64_t i(const std::string& k, int64_t def) const;
  float f(const std::string& k, float def) const;
  std::vector<int64_t> ints(const std::string& k, std::vector<int64_t> def = {}) const;
  std::vector<float> floats(const std::string& k, std::vector<float> def = {}) const;
  std::string s(const std::string& k, const std::string& def = "") const;
  int num_inputs() const { return static_cast<int>(inputs.size()); }
  bool has_input(int idx) const { return idx < num_inputs() && inputs[idx] >= 0; }
  std::string where() const;  // "node 'name' (Op)"
};

struct ValueInfo {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;        // declared shape; -1 = unknown/symbolic dim
  bool has_shape = false;
};

struct Graph {
  std::string name;
  std::vector<ValueInfo> values;
  std::vector<Node> nodes;  // topologically sorted
  std::vector<int> inputs;
  std::vector<int> outputs;
  std::unordered_map<int, Tensor> constants;
  // Constants whose buffers the runtime owns and may overwrite (an op that is
  // their only reader packs into them in place: CreateCtx::adopt). Not the
  // views on a .cnnrt file's read-only mapping.
  std::unordered_set<int> writable_constants;

  // Re-checks what the compiler promised: ids in range, each value produced
  // once, every node input defined before use. Throws ModelLoadError.
  void validate() const;
};

}  // namespace cnnrt
