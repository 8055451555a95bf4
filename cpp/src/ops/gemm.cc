// Gemm (transA, transB, alpha, beta, optional C with unidirectional
// broadcast; fused activation from the compiler) and MatMul (numpy
// semantics: 1-D promotion, batch broadcasting). A constant B is packed once.
#include <cstring>
#include <utility>
#include <vector>

#include "ops/op.h"

namespace cnnrt {

ActParams read_fused_act(const Node& n);

namespace {

// "avx512::f32_gemm_14x32 (B packed at load)": the table's GEMM microkernel.
std::string gemm_name(const KernelTable& kt, bool packed_b, bool in_place) {
  return std::string(isa_name(kt.isa)) + "::f32_gemm_" + std::to_string(kt.gemm_mr) + "x" +
         std::to_string(kt.gemm_nr) + (!packed_b ? "" : in_place ? " (B packed at load, in place)" : " (B packed at load)");
}

// Constant B packed over its own bytes, so that a fully connected layer's
// weights are not held twice while loading (VGG-16's first: 392 MiB). Packed
// B is ceil(N/NR) panels of [K][NR]; where NR divides N it is exactly as
// large as B, and a permutation of B's NR-float blocks:
// - B given transposed (N x K, as PyTorch exports Linear): panel j is the
//   bytes of B's rows [j NR, (j+1) NR), so each is copied aside (NR x K
//   floats) and packed back over itself.
// - B as K x N (MatMul, Keras's Dense): B is a K x (N/NR) matrix of blocks
//   and the packed layout its transpose, done in place by following the
//   permutation's cycles (a bit per block marks the blocks placed).
// Scratch comes from alloc_buffer: out of memory is then a ModelLoadError
// that says so.
static void pack_b_in_place(const KernelTable& kt, int64_t K, int64_t N, bool trans, float* b) {
  const int64_t nr = kt.gemm_nr;
  if (trans) {
    const size_t bytes = static_cast<size_t>(nr * K) * sizeof(float);
    BufferPtr keep = alloc_buffer(bytes);
    float* rows = reinterpret_cast<float*>(keep.get());
    for (int64_t j = 0; j < N; j += nr) {
      float* panel = b + j * K;
      std::memcpy(rows, panel, bytes);
      kt.gemm_pack_b(K, nr, rows, K, true, panel);
    }
    return;
  }
  const int64_t cols = N / nr, blocks = K * cols;  // block (k, j) at k cols + j goes to j K + k
  if (K == 1 || cols == 1) return;                 // already in panel order
  const size_t bytes = static_cast<size_t>(nr) * sizeof(float);
  const size_t words = static_cast<size_t>((blocks + 63) / 64);
  BufferPtr keep = alloc_buffer(words * sizeof(uint64_t) + 2 * bytes);
  uint64_t* placed = reinterpret_cast<uint64_t*>(keep.get());
  std::memset(placed, 0, words * sizeof(uint64_t));
  float* carry = reinterpret_cast<float*>(placed + words);
  float* held = carry + nr;
  for (int64_t start = 1; start < blocks - 1; ++start) {  // the first and last blocks stay
    if (placed[start >> 6] >> (start & 63) & 1) continue;
    std::memcpy(carry, b + start * nr, bytes);
    int64_t at = start;
    do {
      const int64_t to = (at % cols) * K + at / cols;
      std::memcpy(held, b + to * nr, bytes);
      std::memcpy(b + to * nr, carry, bytes);
      std::swap(carry, held);
      placed[to >> 6] |= uint64_t(1) << (to & 63);
      at = to;
    } while (at != start);
  }
}

// Packs constant input 1, B (K x N, or N x K when trans), into `buf`: over
// B's own bytes where the op is its only reader and NR divides N. Returns
// whether it packed in place.
static bool pack_constant_b(CreateCtx& c, const KernelTable& kt, PackedBuf& buf, const char* tag, const Tensor& b,
                            int64_t K, int64_t N, bool trans) {
  const size_t packed = kt.gemm_packed_b_size(K, N);
  BufferPtr own = N % kt.gemm_nr == 0 ? c.adopt(1) : nullptr;  // after it, b has no bytes
  if (own) {
    if (float* dst = buf.prepare(c, tag, packed, std::move(own))) {
      pack_b_in_place(kt, K, N, trans, dst);
      return true;
    }
  } else if (float* dst = buf.prepare(c, tag, packed)) {
    kt.gemm_pack_b(K, N, b.ptr<float>(), b.shape[1], trans, dst);
  }
  return false;
}

class GemmOp : public Op {
 public:
  explicit GemmOp(CreateCtx& c) : kt_(c.kernels()) {
    const Node& n = c.node();
    ta_ = n.i("transA", 0) != 0;
    tb_ = n.i("transB", 0) != 0;
    alpha_ = n.f("alpha", 1.f);
    beta_ = n.f("beta", 1.f);
    act_ = read_fused_act(n);
    if (const Tensor* b = c.constant(1)) {
      if (b->dtype != DType::F32 || b->shape.size() != 2) c.fail("B must be a 2-D float32 matrix, got ", shape_str(b->shape));
      K_ = tb_ ? b->shape[1] : b->shape[0];
      N_ = tb_ ? b->shape[0] : b->shape[1];
      b_in_place_ = pack_constant_b(c, kt_, packed_b_, "gemm.b", *b, K_, N_, tb_);
      c.take(1);
    }
    // A constant bias row (C of shape [N] or [1, N]) becomes the epilogue's bias_n.
    if (const Tensor* cc = c.constant(2)) {
      if (cc->dtype == DType::F32 && !packed_b_.empty() && cc->numel() == N_ && N_ > 0 &&
          (cc->shape.size() == 1 || (cc->shape.size() == 2 && cc->shape[0] == 1))) {
        bias_n_.resize(N_);
        for (int64_t j = 0; j < N_; ++j) bias_n_[j] = beta_ * cc->ptr<float>()[j];
        c.take(2);
      }
    }
  }

  Kernel plan(PlanCtx& ctx) const override {
    const TensorMeta& a = ctx.expect(0, DType::F32, 2, 2);
    const TensorMeta& b = ctx.expect(1, DType::F32, 2, 2);
    const int64_t M = ta_ ? a.shape[1] : a.shape[0], K = ta_ ? a.shape[0] : a.shape[1];
    const int64_t Kb = tb_ ? b.shape[1] : b.shape[0], N = tb_ ? b.shape[0] : b.shape[1];
    if (K != Kb) ctx.fail("A is ", shape_str(a.shape), (ta_ ? " (transposed)" : ""), " and B is ", shape_str(b.shape), (tb_ ? " (transposed)" : ""), ": inner dimensions ", K, " and ", Kb, " differ");
    Shape cshape;
    const bool use_c = ctx.has(2) && bias_n_.empty();
    if (use_c) {
      const TensorMeta& cm = ctx.expect(2, DType::F32, 0, 2);
      cshape = cm.shape;
      Shape c2 = cshape;
      while (c2.size() < 2) c2.insert(c2.begin(), 1);
      if ((c2[0] != 1 && c2[0] != M) || (c2[1] != 1 && c2[1] != N))
        ctx.fail("C has shape ", shape_str(cshape), ", which does not broadcast to [", M, ", ", N, "]");
      cshape = c2;
    }
    ctx.set_out(0, DType::F32, {M, N});
    const KernelTable* kt = &kt_;
    const GemmOp* self = this;
    const int threads = ctx.threads();
    return [kt, self, M, N, K, use_c, cshape, threads, lda = a.shape[1], ldb = b.shape[1]](const RunCtx& r) {
      GemmArgs g;
      g.M = M;
      g.N = N;
      g.K = K;
      g.a = r.i<float>(0);
      g.lda = lda;
      g.trans_a = self->ta_;
      if (!self->packed_b_.empty()) {
        g.b_packed = self->packed_b_.data();
      } else {
        g.b = r.i<float>(1);
        g.ldb = ldb;
        g.trans_b = self->tb_;
      }
      g.c = r.o<float>(0);
      g.ldc = N;
      g.ep.alpha = self->alpha_;
      g.ep.bias_n = self->bias_n_.empty() ? nullptr : self->bias_n_.data();
      g.threads = threads;
      if (!use_c) {
        g.ep.act = self->act_;
        kt->gemm(g);
        return;
      }
      kt->gemm(g);
      const float* c = r.i<float>(2);
      float* y = r.o<float>(0);
      const float beta = self->beta_;
      for (int64_t m = 0; m < M; ++m) {
        const float* crow = c + (cshape[0] == 1 ? 0 : m) * cshape[1];
        float* yrow = y + m * N;
        if (cshape[1] == 1)
          for (int64_t j = 0; j < N; ++j) yrow[j] += beta * crow[0];
        else
          for (int64_t j = 0; j < N; ++j) yrow[j] += beta * crow[j];
        if (self->act_.kind != Act::None) kt->act(yrow, yrow, N, self->act_);
      }
    };
  }

  std::string describe() const override { return gemm_name(kt_, !packed_b_.empty(), b_in_place_); }

 private:
  const KernelTable& kt_;
  bool ta_ = false, tb_ = false;
  float alpha_ = 1.f, beta_ = 1.f;
  int64_t K_ = 0, N_ = 0;
  ActParams act_;
  void export_packed(std::vector<PackedOut>& out) const override { packed_b_.export_to(out); }
  PackedBuf packed_b_;
  bool b_in_place_ = false;  // packed over the constant's own bytes (pack_constant_b)
  std::vector<float> bias_n_;
};

class MatMulOp : public Op {
 public:
  explicit MatMulOp(CreateCtx& c) : kt_(c.kernels()) {
    act_ = read_fused_act(c.node());
    if (const Tensor* b = c.constant(1)) {
      if (b->dtype == DType::F32 && b->shape.size() == 2) {
        K_ = b->shape[0];
        N_ = b->shape[1];
        b_in_place_ = pack_constant_b(c, kt_, packed_b_, "matmul.b", *b, K_, N_, false);
        c.take(1);
      }
    }
    if (const Tensor* bias = c.constant(2)) {  // fused by the compiler: [N]
      if (bias->dtype != DType::F32 || bias->shape.size() != 1) c.fail("fused bias must be a 1-D float32 vector");
      bias_.assign(bias->ptr<float>(), bias->ptr<float>() + bias->numel());
      c.take(2);
    }
  }

  Kernel plan(PlanCtx& ctx) const override {
    Shape a = ctx.expect(0, DType::F32, 1).shape;
    Shape b = ctx.expect(1, DType::F32, 1).shape;
    const bool a1 = a.size() == 1, b1 = b.size() == 1;
    if (a1) a.insert(a.begin(), 1);
    if (b1) b.push_back(1);
    const int64_t M = a[a.size() - 2], K = a[a.size() - 1], Kb = b[b.size() - 2], N = b[b.size() - 1];
    if (K != Kb) ctx.fail("A is ", shape_str(ctx.in(0).shape), " and B is ", shape_str(ctx.in(1).shape), ": inner dimensions ", K, " and ", Kb, " differ");
    Shape ba(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
    Shape batch = broadcast_shapes(ba, bb, ctx);
    Shape out = batch;
    if (!a1) out.push_back(M);
    if (!b1) out.push_back(N);
    ctx.set_out(0, DType::F32, out);
    if (!bias_.empty() && static_cast<int64_t>(bias_.size()) != N) ctx.fail("fused bias has ", bias_.size(), " elements, expected ", N);
    // B without batch dims (a weight matrix): A's batch rows are contiguous
    // and the output rows follow them, so the whole product is one GEMM of
    // nb * M rows (one packing pass and one thread split instead of nb).
    const int64_t nb = checked_numel(batch);
    const KernelTable* kt = &kt_;
    const MatMulOp* self = this;
    const int threads = ctx.threads();
    const bool prepacked = !packed_b_.empty() && K == K_ && N == N_;
    if (bb.empty()) {
      const int64_t rows = checked_mul(nb, M);
      return [kt, self, rows, N, K, threads, prepacked](const RunCtx& r) {
        if (rows == 0 || N == 0) return;
        GemmArgs g;
        g.M = rows;
        g.N = N;
        g.K = K;
        g.a = r.i<float>(0);
        g.lda = K;
        if (prepacked) {
          g.b_packed = self->packed_b_.data();
        } else {
          g.b = r.i<float>(1);
          g.ldb = N;
        }
        g.c = r.o<float>(0);
        g.ldc = N;
        g.ep.bias_n = self->bias_.empty() ? nullptr : self->bias_.data();
        g.ep.act = self->act_;
        g.threads = threads;
        kt->gemm(g);
      };
    }
    // Batch offsets for A and B (broadcast dims repeat the same matrix).
    std::vector<int64_t> offa(nb), offb(nb);
    {
      const size_t r = batch.size();
      std::vector<int64_t> idx(r, 0);
      for (int64_t t = 0; t < nb; ++t) {
        int64_t oa = 0, ob = 0, sa = 1, sb = 1;
        for (size_t k = r; k-- > 0;) {
          const size_t da = k + ba.size() - r, db = k + bb.size() - r;
          if (k + ba.size() >= r) {
            const int64_t dim = ba[da];
            oa += (dim == 1 ? 0 : idx[k]) * sa;
            sa *= dim;
          }
          if (k + bb.size() >= r) {
            const int64_t dim = bb[db];
            ob += (dim == 1 ? 0 : idx[k]) * sb;
            sb *= dim;
          }
        }
        offa[t] = oa * M * K;
        offb[t] = ob * K * N;
        for (size_t k = r; k-- > 0;) {
          if (++idx[k] < batch[k]) break;
          idx[k] = 0;
        }
      }
    }
    return [kt, self, M, N, K, offa, offb, threads, prepacked](const RunCtx& r) {
      for (size_t t = 0; t < offa.size(); ++t) {
        GemmArgs g;
        g.M = M;
        g.N = N;
        g.K = K;
        g.a = r.i<float>(0) + offa[t];
        g.lda = K;
        if (prepacked) {
          g.b_packed = self->packed_b_.data();
        } else {
          g.b = r.i<float>(1) + offb[t];
          g.ldb = N;
        }
        g.c = r.o<float>(0) + static_cast<int64_t>(t) * M * N;
        g.ldc = N;
        g.ep.bias_n = self->bias_.empty() ? nullptr : self->bias_.data();
        g.ep.act = self->act_;
        g.threads = threads;
        kt->gemm(g);
      }
    };
  }

  std::string describe() const override { return gemm_name(kt_, !packed_b_.empty(), b_in_place_); }

 private:
  const KernelTable& kt_;
  int64_t K_ = 0, N_ = 0;
  ActParams act_;
  void export_packed(std::vector<PackedOut>& out) const override { packed_b_.export_to(out); }
  PackedBuf packed_b_;
  bool b_in_place_ = false;  // packed over the constant's own bytes (pack_constant_b)
  std::vector<float> bias_;
};

std::unique_ptr<Op> create_gemm(CreateCtx& c) { return std::make_unique<GemmOp>(c); }
std::unique_ptr<Op> create_matmul(CreateCtx& c) { return std::make_unique<MatMulOp>(c); }
CNNRT_REGISTER_OP("Gemm", create_gemm);
CNNRT_REGISTER_OP("MatMul", create_matmul);

}  // namespace
}  // namespace cnnrt
