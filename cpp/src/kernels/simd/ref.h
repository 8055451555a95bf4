// Scalar "vector" API for the reference path: one lane. Included inside
// namespace cnnrt::kernels::ref { namespace { ... } } only.
constexpr int kVec = 1;
typedef float vf;
static inline vf vzero() { return 0.f; }
static inline vf vload(const float* p) { return *p; }
static inline void vstore(float* p, vf v) { *p = v; }
static inline vf vset1(float x) { return x; }
static inline vf vfma(vf a, vf b, vf c) { return a * b + c; }
static inline vf vadd(vf a, vf b) { return a + b; }
