#include "cnnrt/graph.h"

#include <vector>

namespace cnnrt {

int64_t Node::i(const std::string& k, int64_t def) const {
  auto it = attrs.find(k);
  if (it == attrs.end()) return def;
  if (it->second.kind == Attr::Int) return it->second.i;
  if (it->second.kind == Attr::Float) return static_cast<int64_t>(it->second.f);
  fail(ErrorKind::ModelLoad, where(), ": attribute '", k, "' must be an int");
}

float Node::f(const std::string& k, float def) const {
  auto it = attrs.find(k);
  if (it == attrs.end()) return def;
  if (it->second.kind == Attr::Float) return it->second.f;
  if (it->second.kind == Attr::Int) return static_cast<float>(it->second.i);
  fail(ErrorKind::ModelLoad, where(), ": attribute '", k, "' must be a float");
}

std::vector<int64_t> Node::ints(const std::string& k, std::vector<int64_t> def) const {
  auto it = attrs.find(k);
  if (it == attrs.end()) return def;
  if (it->second.kind == Attr::Ints) return it->second.ints;
  if (it->second.kind == Attr::Floats && it->second.floats.empty()) return {};
  if (it->second.kind == Attr::Int) return {it->second.i};
  fail(ErrorKind::ModelLoad, where(), ": attribute '", k, "' must be a list of ints");
}

std::vector<float> Node::floats(const std::string& k, std::vector<float> def) const {
  auto it = attrs.find(k);
  if (it == attrs.end()) return def;
  if (it->second.kind == Attr::Floats) return it->second.floats;
  if (it->second.kind == Attr::Ints) {
    std::vector<float> r;
    for (auto v : it->second.ints) r.push_back(static_cast<float>(v));
    return r;
  }
  if (it->second.kind == Attr::Float) return {it->second.f};
  fail(ErrorKind::ModelLoad, where(), ": attribute '", k, "' must be a list of floats");
}

std::string Node::s(const std::string& k, const std::string& def) const {
  auto it = attrs.find(k);
  if (it == attrs.end()) return def;
  if (it->second.kind == Attr::String) return it->second.s;
  fail(ErrorKind::ModelLoad, where(), ": attribute '", k, "' must be a string");
}

std::string Node::where() const { return cat("node '", name, "' (", op, ")"); }

void Graph::validate() const {
  const int nv = static_cast<int>(values.size());
  std::vector<char> defined(nv, 0);
  auto check_id = [&](int id, const std::string& what) {
    if (id < 0 || id >= nv) fail(ErrorKind::ModelLoad, "graph '", name, "': ", what, " refers to value id ", id, " out of range [0, ", nv, ")");
  };
  for (int id : inputs) {
    check_id(id, "graph input");
    if (defined[id]) fail(ErrorKind::ModelLoad, "graph input '", values[id].name, "' listed twice");
    defined[id] = 1;
  }
  for (const auto& kv : constants) {
    check_id(kv.first, "constant");
    if (defined[kv.first]) fail(ErrorKind::ModelLoad, "value '", values[kv.first].name, "' is both a graph input and a constant");
    if (kv.second.dtype != values[kv.first].dtype)
      fail(ErrorKind::ModelLoad, "constant '", values[kv.first].name, "' has dtype ", dtype_name(kv.second.dtype),
           " but is declared ", dtype_name(values[kv.first].dtype));
    defined[kv.first] = 1;
  }
  for (const auto& n : nodes) {
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      int id = n.inputs[k];
      if (id < 0) continue;
      check_id(id, n.where() + " input");
      if (!defined[id])
        fail(ErrorKind::ModelLoad, n.where(), ": input ", k, " '", values[id].name, "' is not produced by any earlier node, graph input or initializer");
    }
    for (int id : n.outputs) {
      if (id < 0) continue;
      check_id(id, n.where() + " output");
      if (defined[id]) fail(ErrorKind::ModelLoad, n.where(), ": output '", values[id].name, "' is already produced elsewhere");
      defined[id] = 1;
    }
  }
  for (int id : outputs) {
    check_id(id, "graph output");
    if (!defined[id]) fail(ErrorKind::ModelLoad, "graph output '", values[id].name, "' is never produced");
  }
}

}  // namespace cnnrt
