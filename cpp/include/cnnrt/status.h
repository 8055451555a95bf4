// Errors raised by the C++ runtime. Each maps to one Python exception class
// (cnnrt.ModelLoadError, cnnrt.UnsupportedOpError, cnnrt.InputError); the
// bindings translate them. Messages name the node / input and what was expected.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace cnnrt {

enum class ErrorKind { ModelLoad, Unsupported, Input, Internal };

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& msg) : std::runtime_error(msg), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

template <class... Args>
std::string cat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}

template <class... Args>
[[noreturn]] void fail(ErrorKind kind, Args&&... args) {
  throw Error(kind, cat(std::forward<Args>(args)...));
}

#define CNNRT_CHECK(cond, kind, ...)                   \
  do {                                                 \
    if (!(cond)) ::cnnrt::fail(kind, __VA_ARGS__);     \
  } while (0)

}  // namespace cnnrt
