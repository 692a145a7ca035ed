// The GRU's time loop, compiled: one thread per direction, the gate arithmetic of a step fused into
// one pass over memory. Python (rnnkit/gru.py) keeps everything that is one large matrix product
// (input projections, weight gradients); these two functions are only the sequential part.
//
// Each direction reads its own time order: `steps[d][t][b]` is the position that direction d reads at
// its step t in row b (identity for the forward direction; the sequence reversed within its true
// length for the backward one). Inputs and outputs stay in natural order, so no copies are made to
// reverse sequences. Layouts (contiguous; T time, B batch, D directions, H hidden size):
//   gi      (T, B, D * 3H) float  input projections W_i x (bias b_i added here), gates in order r, z, n
//   steps   (D, T, B)      int64  positions read, as above
//   w_hh    (D, 3H, H), b_ih and b_hh (D, 3H)
//   states  (T, B, D * H)         h of every position, directions side by side (the layer's output)
//   saved   (D, T, B, 5H)         per step: r, z, n, W_hn h + b_hn and h_prev, for the backward pass

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace {

// target_clones: one build runs the AVX-512 loop where the CPU has it and a plain one elsewhere.
#define RNNKIT_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
// Helpers must be inlined into each clone to be compiled (and vectorized) for its instruction set.
#define RNNKIT_INLINE inline __attribute__((always_inline))

// exp without a library call, so that the gate loops vectorize: Cephes' expf (range reduction to
// [-ln2/2, ln2/2], degree-6 polynomial, scale by 2^k), relative error ~2e-7. NaN stays NaN.
RNNKIT_INLINE float exp_approx(float x) {
  x = std::min(std::max(x, -87.0f), 88.0f);
  float k = std::floor(x * 1.44269504088896341f + 0.5f);
  float r = x - k * 0.693359375f + k * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  float y = p * r * r + r + 1.0f;
  return y * std::bit_cast<float>((static_cast<int32_t>(k) + 127) << 23);
}

RNNKIT_INLINE float sigmoid(float x) { return 1.0f / (1.0f + exp_approx(-x)); }

RNNKIT_INLINE float tanh_approx(float x) { return 2.0f * sigmoid(2.0f * x) - 1.0f; }

// One row of one step: h_next = GRU(h_prev), also written to `out` (the layer's output at this row's
// position). `b_i` and `b_h` are the input and recurrent biases (the input projection comes without
// its bias, which saves a pass over all of gi). With `saved`, also stores r, z, n, W_hn h + b_hn
// and h_prev for the backward pass.
RNNKIT_INLINE float as_float(float x) { return x; }

// bfloat16 is the upper half of a float32: widening is a shift.
RNNKIT_INLINE float as_float(uint16_t bfloat16_bits) {
  return std::bit_cast<float>(static_cast<uint32_t>(bfloat16_bits) << 16);
}

template <bool Train, typename In>
RNNKIT_INLINE void gru_row(const In* __restrict__ gi, const float* __restrict__ gh, const float* __restrict__ b_i,
                           const float* __restrict__ b_h, const float* __restrict__ h_prev, float* __restrict__ h_next,
                           float* __restrict__ out, float* __restrict__ saved, int64_t size) {
#pragma omp simd
  for (int64_t j = 0; j < size; ++j) {
    float r = sigmoid(as_float(gi[j]) + b_i[j] + gh[j] + b_h[j]);
    float z = sigmoid(as_float(gi[size + j]) + b_i[size + j] + gh[size + j] + b_h[size + j]);
    float ghn = gh[2 * size + j] + b_h[2 * size + j];
    float n = tanh_approx(as_float(gi[2 * size + j]) + b_i[2 * size + j] + r * ghn);
    float h = n + z * (h_prev[j] - n);
    h_next[j] = h;
    out[j] = h;
    if constexpr (Train) {
      saved[j] = r;
      saved[size + j] = z;
      saved[2 * size + j] = n;
      saved[3 * size + j] = ghn;
      saved[4 * size + j] = h_prev[j];
    }
  }
}

RNNKIT_VECTOR_CLONES
void forward_row(const float* gi, const float* gh, const float* b_i, const float* b_h, const float* h_prev,
                 float* h_next, float* out, int64_t size) {
  gru_row<false>(gi, gh, b_i, b_h, h_prev, h_next, out, nullptr, size);
}

// Prediction with bfloat16 input projections (half the memory traffic; computed on AMX where present).
RNNKIT_VECTOR_CLONES
void forward_row_bf16(const uint16_t* gi, const float* gh, const float* b_i, const float* b_h, const float* h_prev,
                      float* h_next, float* out, int64_t size) {
  gru_row<false>(gi, gh, b_i, b_h, h_prev, h_next, out, nullptr, size);
}

RNNKIT_VECTOR_CLONES
void forward_row_saving(const float* gi, const float* gh, const float* b_i, const float* b_h, const float* h_prev,
                        float* h_next, float* out, float* saved, int64_t size) {
  gru_row<true>(gi, gh, b_i, b_h, h_prev, h_next, out, saved, size);
}

// One row of one step, backwards. dL/dh = carried (through the next step) + grad_out (this position's
// output). Writes the gradients of the pre-activations, input side (grad_gi: r, z, n) and recurrent
// side (grad_gh: r, z, r * dn), and dL/dh * z, h_prev's direct share, into carried_next.
RNNKIT_VECTOR_CLONES
void backward_row(const float* __restrict__ carried, const float* __restrict__ grad_out,
                  const float* __restrict__ saved, float* __restrict__ grad_gi, float* __restrict__ grad_gh,
                  float* __restrict__ carried_next, int64_t size) {
#pragma omp simd
  for (int64_t j = 0; j < size; ++j) {
    float g = carried[j] + grad_out[j];
    float r = saved[j], z = saved[size + j], n = saved[2 * size + j], ghn = saved[3 * size + j];
    float h_prev = saved[4 * size + j];
    float dn = g * (1.0f - z) * (1.0f - n * n);
    float dr = dn * ghn * r * (1.0f - r);
    float dz = g * (h_prev - n) * z * (1.0f - z);
    grad_gi[j] = dr;
    grad_gh[j] = dr;
    grad_gi[size + j] = dz;
    grad_gh[size + j] = dz;
    grad_gi[2 * size + j] = dn;
    grad_gh[2 * size + j] = dn * r;
    carried_next[j] = g * z;
  }
}

struct Shape {
  int64_t dirs, time, batch, size;
};

Shape check_inputs(const at::Tensor& gi, const at::Tensor& steps, const at::Tensor& w_hh, const at::Tensor& b_ih,
                   const at::Tensor& b_hh) {
  TORCH_CHECK(w_hh.dim() == 3 && w_hh.scalar_type() == at::kFloat && w_hh.is_contiguous(), "w_hh: float32 (D, 3H, H)");
  const Shape s{w_hh.size(0), gi.size(0), gi.size(1), w_hh.size(2)};
  TORCH_CHECK(w_hh.size(1) == 3 * s.size, "w_hh: (D, 3H, H)");
  TORCH_CHECK(gi.dim() == 3 && (gi.scalar_type() == at::kFloat || gi.scalar_type() == at::kBFloat16) &&
                  gi.is_contiguous() && gi.size(2) == s.dirs * 3 * s.size,
              "gi: contiguous float32 or bfloat16 (T, B, D * 3H)");
  TORCH_CHECK(steps.scalar_type() == at::kLong && steps.is_contiguous() &&
                  steps.sizes() == at::IntArrayRef({s.dirs, s.time, s.batch}),
              "steps: contiguous int64 (D, T, B)");
  TORCH_CHECK(b_ih.sizes() == at::IntArrayRef({s.dirs, 3 * s.size}) && b_ih.is_contiguous(), "b_ih: (D, 3H)");
  TORCH_CHECK(b_hh.sizes() == at::IntArrayRef({s.dirs, 3 * s.size}) && b_hh.is_contiguous(), "b_hh: (D, 3H)");
  const int64_t* p = steps.data_ptr<int64_t>();
  TORCH_CHECK(std::all_of(p, p + steps.numel(), [&](int64_t v) { return v >= 0 && v < s.time; }),
              "steps: positions must lie in [0, T)");
  return s;
}

}  // namespace

// Returns states and, when `train`, the per-step values the backward pass needs (else a tensor with
// no elements). gi may be bfloat16 for prediction; states are float32 either way.
std::tuple<at::Tensor, at::Tensor> gru_forward(const at::Tensor& gi, const at::Tensor& steps, const at::Tensor& w_hh,
                                               const at::Tensor& b_ih, const at::Tensor& b_hh, bool train) {
  const auto [dirs, time, batch, size] = check_inputs(gi, steps, w_hh, b_ih, b_hh);
  const bool bf16 = gi.scalar_type() == at::kBFloat16;
  TORCH_CHECK(!(bf16 && train), "gi: bfloat16 is for prediction only");
  const auto options = w_hh.options();
  at::Tensor states = at::empty({time, batch, dirs * size}, options);
  at::Tensor saved = at::empty({train ? dirs : 0, time, batch, 5 * size}, options);
  at::parallel_for(0, dirs, 1, [&](int64_t begin, int64_t end) {
    // Plain kernels: no autograd recording (the caller's autograd.Function owns the graph). Thread-local,
    // so it is set in each worker thread.
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    at::Tensor gh = at::empty({batch, 3 * size}, options);
    at::Tensor h = at::empty({batch, size}, options), h_next = at::empty({batch, size}, options);
    const char* gi_data = static_cast<const char*>(gi.data_ptr());
    const int64_t gi_item = gi.element_size();
    float* states_data = states.data_ptr<float>();
    for (int64_t d = begin; d < end; ++d) {
      const at::Tensor w_t = w_hh[d].t().contiguous();  // MKL is faster on (H, 3H) row-major than on its transpose view
      const float* b_i = b_ih[d].data_ptr<float>();
      const float* b_h = b_hh[d].data_ptr<float>();
      const int64_t* pos = steps[d].data_ptr<int64_t>();
      h.zero_();
      for (int64_t t = 0; t < time; ++t) {
        at::mm_out(gh, h, w_t);
        const float* gh_data = gh.data_ptr<float>();
        const float* h_data = h.data_ptr<float>();
        float* h_next_data = h_next.data_ptr<float>();
        float* step_saved = train ? saved[d][t].data_ptr<float>() : nullptr;
        for (int64_t b = 0; b < batch; ++b) {
          const int64_t row = pos[t * batch + b] * batch + b;
          const char* gi_row = gi_data + (row * dirs + d) * 3 * size * gi_item;
          const float* gh_row = gh_data + b * 3 * size;
          const float* h_row = h_data + b * size;
          float* h_next_row = h_next_data + b * size;
          float* out = states_data + (row * dirs + d) * size;
          if (train) {
            forward_row_saving(reinterpret_cast<const float*>(gi_row), gh_row, b_i, b_h, h_row,
                               h_next_row, out, step_saved + b * 5 * size, size);
          } else if (bf16) {
            forward_row_bf16(reinterpret_cast<const uint16_t*>(gi_row), gh_row, b_i, b_h, h_row,
                             h_next_row, out, size);
          } else {
            forward_row(reinterpret_cast<const float*>(gi_row), gh_row, b_i, b_h, h_row, h_next_row,
                        out, size);
          }
        }
        std::swap(h, h_next);
      }
    }
  });
  return {states, saved};
}

// Returns the gradients of the input projections (T, B, D * 3H, natural order, like gi) and of the
// recurrent pre-activations W_h h_prev + b_h (D, T, B, 3H, in each direction's step order, like saved);
// the weight gradients are one product over all steps, left to the caller.
std::tuple<at::Tensor, at::Tensor> gru_backward(const at::Tensor& grad_states, const at::Tensor& steps,
                                                const at::Tensor& saved, const at::Tensor& w_hh) {
  const int64_t dirs = saved.size(0), time = saved.size(1), batch = saved.size(2), size = saved.size(3) / 5;
  TORCH_CHECK(grad_states.sizes() == at::IntArrayRef({time, batch, dirs * size}), "grad_states: (T, B, D * H)");
  const at::Tensor grad_out = grad_states.contiguous();
  at::Tensor grad_gi = at::empty({time, batch, dirs * 3 * size}, saved.options());
  at::Tensor grad_gh = at::empty({dirs, time, batch, 3 * size}, saved.options());
  at::parallel_for(0, dirs, 1, [&](int64_t begin, int64_t end) {
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    at::Tensor carried = at::empty({batch, size}, saved.options()), carried_next = at::empty_like(carried);
    const float* grad_out_data = grad_out.data_ptr<float>();
    float* grad_gi_data = grad_gi.data_ptr<float>();
    for (int64_t d = begin; d < end; ++d) {
      const int64_t* pos = steps[d].data_ptr<int64_t>();
      carried.zero_();
      for (int64_t t = time - 1; t >= 0; --t) {
        const float* step_saved = saved[d][t].data_ptr<float>();
        at::Tensor step_gh = grad_gh[d][t];
        float* step_gh_data = step_gh.data_ptr<float>();
        const float* carried_data = carried.data_ptr<float>();
        float* carried_next_data = carried_next.data_ptr<float>();
        for (int64_t b = 0; b < batch; ++b) {
          const int64_t row = pos[t * batch + b] * batch + b;
          backward_row(carried_data + b * size, grad_out_data + (row * dirs + d) * size, step_saved + b * 5 * size,
                       grad_gi_data + (row * dirs + d) * 3 * size, step_gh_data + b * 3 * size,
                       carried_next_data + b * size, size);
        }
        carried_next.addmm_(step_gh, w_hh[d]);
        std::swap(carried, carried_next);
      }
    }
  });
  return {grad_gi, grad_gh};
}

TORCH_LIBRARY(rnnkit, m) {
  m.def("gru_forward(Tensor gi, Tensor steps, Tensor w_hh, Tensor b_ih, Tensor b_hh, bool train) -> (Tensor, Tensor)");
  m.def("gru_backward(Tensor grad_states, Tensor steps, Tensor saved, Tensor w_hh) -> (Tensor, Tensor)");
}

TORCH_LIBRARY_IMPL(rnnkit, CPU, m) {
  m.impl("gru_forward", &gru_forward);
  m.impl("gru_backward", &gru_backward);
}
