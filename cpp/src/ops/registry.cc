// Op types register themselves from their own files (CNNRT_REGISTER_OP);
// the module is linked from object files, so every registration is kept.
#include <map>

#include "ops/op.h"

namespace cnnrt {

namespace {
std::map<std::string, OpFactory>& table() {
  static std::map<std::string, OpFactory> t;
  return t;
}
}  // namespace

bool register_op(const char* op_type, OpFactory factory) {
  table()[op_type] = factory;
  return true;
}

OpFactory find_op(const std::string& op_type) {
  auto it = table().find(op_type);
  return it == table().end() ? nullptr : it->second;
}

std::vector<std::string> registered_ops() {
  std::vector<std::string> r;
  for (const auto& kv : table()) r.push_back(kv.first);
  return r;
}

}  // namespace cnnrt
