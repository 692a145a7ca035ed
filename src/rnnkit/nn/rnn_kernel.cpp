// The recurrent time loops of the GRU and the LSTM, compiled: one thread per direction, the gate
// arithmetic of a step fused into one pass over memory. Python (rnnkit/nn/fused.py) keeps everything
// that is one large matrix product (input projections, weight gradients); these functions are only the
// sequential part.
//
// Each direction reads its own time order: `steps[d][t][b]` is the position that direction d reads at
// its step t in row b (identity for the forward direction; the sequence reversed within its true
// length for the backward one). Inputs and outputs stay in natural order, so no copies are made to
// reverse sequences. Layouts (contiguous; T time, B batch, D directions, H hidden size, G gates: 3 for
// the GRU, 4 for the LSTM):
//   gi      (T, B, D * GH) float  input projections W_i x (bias b_i added here), gates in PyTorch's order
//                                 (GRU: r, z, n; LSTM: i, f, g, o)
//   steps   (D, T, B)      int64  positions read, as above
//   w_hh    (D, GH, H), b_ih and b_hh (D, GH)
//   states  (T, B, D * H)         h of every position, directions side by side (the layer's output)
//   saved   (D, T, B, V)          per step what the backward pass needs, h_prev last (see each cell)

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>

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

RNNKIT_INLINE float as_float(float x) { return x; }

// bfloat16 is the upper half of a float32: widening is a shift.
RNNKIT_INLINE float as_float(uint16_t bfloat16_bits) {
  return std::bit_cast<float>(static_cast<uint32_t>(bfloat16_bits) << 16);
}

// A cell is its row arithmetic and three widths, in units of H: gates, the state carried from step to
// step (h, plus c for the LSTM) and the values saved per row for the backward pass. The state is held in
// planes of (B, H), h first, so that h is one contiguous matrix for the step's product; a row's c lies
// `plane` floats after its h.
//
// step: one row of one step, state `prev` -> `next`; h also goes to `out` (the layer's output at this
// row's position). `b_i` and `b_h` are the input and recurrent biases (the input projection comes
// without its bias, which saves a pass over all of gi).
// back: one row of one step, backwards. dL/dh = carried h part (through the next step) + grad_out (this
// position's output). Writes the gradients of the gate pre-activations, input side (grad_gi) and
// recurrent side (grad_gh, the gradient of W_h h_prev + b_h), and the state's gradient except what
// flows through W_h (added by the caller as grad_gh @ W_h) into carried_next.
struct Gru {
  static constexpr int64_t gates = 3, state = 1, saved = 5;  // saved: r, z, n, W_hn h + b_hn, h_prev

  template <bool Train, typename In>
  static RNNKIT_INLINE void step(const In* __restrict__ gi, const float* __restrict__ gh,
                                 const float* __restrict__ b_i, const float* __restrict__ b_h,
                                 const float* __restrict__ prev, float* __restrict__ next, float* __restrict__ out,
                                 float* __restrict__ saved, int64_t size, int64_t /*plane*/) {
#pragma omp simd
    for (int64_t j = 0; j < size; ++j) {
      float r = sigmoid(as_float(gi[j]) + b_i[j] + gh[j] + b_h[j]);
      float z = sigmoid(as_float(gi[size + j]) + b_i[size + j] + gh[size + j] + b_h[size + j]);
      float ghn = gh[2 * size + j] + b_h[2 * size + j];
      float n = tanh_approx(as_float(gi[2 * size + j]) + b_i[2 * size + j] + r * ghn);
      float h = n + z * (prev[j] - n);
      next[j] = h;
      out[j] = h;
      if constexpr (Train) {
        saved[j] = r;
        saved[size + j] = z;
        saved[2 * size + j] = n;
        saved[3 * size + j] = ghn;
        saved[4 * size + j] = prev[j];
      }
    }
  }

  static RNNKIT_INLINE void back(const float* __restrict__ carried, const float* __restrict__ grad_out,
                                 const float* __restrict__ saved, float* __restrict__ grad_gi,
                                 float* __restrict__ grad_gh, float* __restrict__ carried_next, int64_t size,
                                 int64_t /*plane*/) {
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
      grad_gh[2 * size + j] = dn * r;  // n reads W_hn h + b_hn through r
      carried_next[j] = g * z;  // h_prev's direct share in h
    }
  }
};

struct Lstm {
  static constexpr int64_t gates = 4, state = 2, saved = 7;  // saved: i, f, g, o, c_prev, tanh(c), h_prev

  template <bool Train, typename In>
  static RNNKIT_INLINE void step(const In* __restrict__ gi, const float* __restrict__ gh,
                                 const float* __restrict__ b_i, const float* __restrict__ b_h,
                                 const float* __restrict__ prev, float* __restrict__ next, float* __restrict__ out,
                                 float* __restrict__ saved, int64_t size, int64_t plane) {
#pragma omp simd
    for (int64_t j = 0; j < size; ++j) {
      float i = sigmoid(as_float(gi[j]) + b_i[j] + gh[j] + b_h[j]);
      float f = sigmoid(as_float(gi[size + j]) + b_i[size + j] + gh[size + j] + b_h[size + j]);
      float g = tanh_approx(as_float(gi[2 * size + j]) + b_i[2 * size + j] + gh[2 * size + j] + b_h[2 * size + j]);
      float o = sigmoid(as_float(gi[3 * size + j]) + b_i[3 * size + j] + gh[3 * size + j] + b_h[3 * size + j]);
      float c_prev = prev[plane + j];
      float c = f * c_prev + i * g;
      float tc = tanh_approx(c);
      float h = o * tc;
      next[j] = h;
      next[plane + j] = c;
      out[j] = h;
      if constexpr (Train) {
        saved[j] = i;
        saved[size + j] = f;
        saved[2 * size + j] = g;
        saved[3 * size + j] = o;
        saved[4 * size + j] = c_prev;
        saved[5 * size + j] = tc;
        saved[6 * size + j] = prev[j];
      }
    }
  }

  static RNNKIT_INLINE void back(const float* __restrict__ carried, const float* __restrict__ grad_out,
                                 const float* __restrict__ saved, float* __restrict__ grad_gi,
                                 float* __restrict__ grad_gh, float* __restrict__ carried_next, int64_t size,
                                 int64_t plane) {
#pragma omp simd
    for (int64_t j = 0; j < size; ++j) {
      float dh = carried[j] + grad_out[j];
      float i = saved[j], f = saved[size + j], g = saved[2 * size + j], o = saved[3 * size + j];
      float c_prev = saved[4 * size + j], tc = saved[5 * size + j];
      float dc = carried[plane + j] + dh * o * (1.0f - tc * tc);
      float di = dc * g * i * (1.0f - i);
      float df = dc * c_prev * f * (1.0f - f);
      float dg = dc * i * (1.0f - g * g);
      float d_o = dh * tc * o * (1.0f - o);
      grad_gi[j] = grad_gh[j] = di;
      grad_gi[size + j] = grad_gh[size + j] = df;
      grad_gi[2 * size + j] = grad_gh[2 * size + j] = dg;
      grad_gi[3 * size + j] = grad_gh[3 * size + j] = d_o;
      carried_next[j] = 0.0f;  // h_prev reaches h only through W_h
      carried_next[plane + j] = dc * f;
    }
  }
};

// The row functions compiled once per instruction set (target_clones cannot apply to templates, so
// each cell gets plain functions; Rows<Cell> names them for the loops below).
template <class Cell>
struct Rows;

#define RNNKIT_ROWS(Cell)                                                                                        \
  RNNKIT_VECTOR_CLONES void Cell##_step(const float* gi, const float* gh, const float* b_i, const float* b_h,     \
                                        const float* prev, float* next, float* out, int64_t size,                \
                                        int64_t plane) {                                                         \
    Cell::step<false>(gi, gh, b_i, b_h, prev, next, out, nullptr, size, plane);                                  \
  }                                                                                                              \
  /* Prediction with bfloat16 input projections (half the memory traffic; computed on AMX where present). */    \
  RNNKIT_VECTOR_CLONES void Cell##_step_bf16(const uint16_t* gi, const float* gh, const float* b_i,              \
                                             const float* b_h, const float* prev, float* next, float* out,       \
                                             int64_t size, int64_t plane) {                                      \
    Cell::step<false>(gi, gh, b_i, b_h, prev, next, out, nullptr, size, plane);                                  \
  }                                                                                                              \
  RNNKIT_VECTOR_CLONES void Cell##_step_saving(const float* gi, const float* gh, const float* b_i,               \
                                               const float* b_h, const float* prev, float* next, float* out,     \
                                               float* saved, int64_t size, int64_t plane) {                      \
    Cell::step<true>(gi, gh, b_i, b_h, prev, next, out, saved, size, plane);                                     \
  }                                                                                                              \
  RNNKIT_VECTOR_CLONES void Cell##_back(const float* carried, const float* grad_out, const float* saved,         \
                                        float* grad_gi, float* grad_gh, float* carried_next, int64_t size,       \
                                        int64_t plane) {                                                         \
    Cell::back(carried, grad_out, saved, grad_gi, grad_gh, carried_next, size, plane);                           \
  }                                                                                                              \
  template <>                                                                                                    \
  struct Rows<Cell> {                                                                                            \
    static constexpr auto step = Cell##_step;                                                                    \
    static constexpr auto step_bf16 = Cell##_step_bf16;                                                          \
    static constexpr auto step_saving = Cell##_step_saving;                                                      \
    static constexpr auto back = Cell##_back;                                                                    \
  };

RNNKIT_ROWS(Gru)
RNNKIT_ROWS(Lstm)

// Runs f(begin, end) over the directions: two directions on two threads; one direction in the calling
// thread outside any parallel region, so that each step's matrix product may use every thread.
template <class F>
void for_each_direction(int64_t dirs, const F& f) {
  if (dirs == 1) {
    f(0, 1);
  } else {
    at::parallel_for(0, dirs, 1, f);
  }
}

struct Shape {
  int64_t dirs, time, batch, size;
};

Shape check_inputs(const at::Tensor& gi, const at::Tensor& steps, const at::Tensor& w_hh, const at::Tensor& b_ih,
                   const at::Tensor& b_hh, int64_t gates) {
  TORCH_CHECK(w_hh.dim() == 3 && w_hh.scalar_type() == at::kFloat && w_hh.is_contiguous(), "w_hh: float32 (D, GH, H)");
  const Shape s{w_hh.size(0), gi.size(0), gi.size(1), w_hh.size(2)};
  const int64_t width = gates * s.size;
  TORCH_CHECK(w_hh.size(1) == width, "w_hh: (D, GH, H)");
  TORCH_CHECK(gi.dim() == 3 && (gi.scalar_type() == at::kFloat || gi.scalar_type() == at::kBFloat16) &&
                  gi.is_contiguous() && gi.size(2) == s.dirs * width,
              "gi: contiguous float32 or bfloat16 (T, B, D * GH)");
  TORCH_CHECK(steps.scalar_type() == at::kLong && steps.is_contiguous() &&
                  steps.sizes() == at::IntArrayRef({s.dirs, s.time, s.batch}),
              "steps: contiguous int64 (D, T, B)");
  TORCH_CHECK(b_ih.sizes() == at::IntArrayRef({s.dirs, width}) && b_ih.is_contiguous(), "b_ih: (D, GH)");
  TORCH_CHECK(b_hh.sizes() == at::IntArrayRef({s.dirs, width}) && b_hh.is_contiguous(), "b_hh: (D, GH)");
  const int64_t* p = steps.data_ptr<int64_t>();
  TORCH_CHECK(std::all_of(p, p + steps.numel(), [&](int64_t v) { return v >= 0 && v < s.time; }),
              "steps: positions must lie in [0, T)");
  return s;
}

// Returns the states, when `train` the per-step values the backward pass needs (else a tensor with no
// elements), and the state after the last step, (D, S, B, H) in planes (S: 1 for the GRU, h and c
// for the LSTM). The loop starts from `initial` (the same shape) or from zeros. gi may be bfloat16 for
// prediction; states are float32 either way.
template <class Cell>
std::tuple<at::Tensor, at::Tensor, at::Tensor> forward(const at::Tensor& gi, const at::Tensor& steps,
                                                       const at::Tensor& w_hh, const at::Tensor& b_ih,
                                                       const at::Tensor& b_hh, const std::optional<at::Tensor>& initial,
                                                       bool train) {
  const auto [dirs, time, batch, size] = check_inputs(gi, steps, w_hh, b_ih, b_hh, Cell::gates);
  const int64_t width = Cell::gates * size, saved_width = Cell::saved * size, plane = batch * size;
  const bool bf16 = gi.scalar_type() == at::kBFloat16;
  TORCH_CHECK(!(bf16 && train), "gi: bfloat16 is for prediction only");
  const auto options = w_hh.options();
  TORCH_CHECK(!initial || (initial->scalar_type() == at::kFloat && initial->is_contiguous() &&
                           initial->sizes() == at::IntArrayRef({dirs, Cell::state, batch, size})),
              "initial: contiguous float32 (D, S, B, H)");
  at::Tensor states = at::empty({time, batch, dirs * size}, options);
  at::Tensor saved = at::empty({train ? dirs : 0, time, batch, saved_width}, options);
  at::Tensor final = at::empty({dirs, Cell::state, batch, size}, options);
  for_each_direction(dirs, [&](int64_t begin, int64_t end) {
    // Plain kernels: no autograd recording (the caller's autograd.Function owns the graph). Thread-local,
    // so it is set in each worker thread.
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    at::Tensor gh = at::empty({batch, width}, options);
    at::Tensor state = at::empty({Cell::state, batch, size}, options), state_next = at::empty_like(state);
    const char* gi_data = static_cast<const char*>(gi.data_ptr());
    const int64_t gi_item = gi.element_size();
    float* states_data = states.data_ptr<float>();
    for (int64_t d = begin; d < end; ++d) {
      // MKL is faster on (H, GH) row-major than on its transpose view, but the copy only pays over many steps
      // (a sampler calls with one step at a time).
      const at::Tensor w_t = time >= 8 ? w_hh[d].t().contiguous() : w_hh[d].t();
      const float* b_i = b_ih[d].data_ptr<float>();
      const float* b_h = b_hh[d].data_ptr<float>();
      const int64_t* pos = steps[d].data_ptr<int64_t>();
      if (initial) {
        state.copy_((*initial)[d]);
      } else {
        state.zero_();
      }
      for (int64_t t = 0; t < time; ++t) {
        at::mm_out(gh, state[0], w_t);  // the h plane
        const float* gh_data = gh.data_ptr<float>();
        const float* state_data = state.data_ptr<float>();
        float* next_data = state_next.data_ptr<float>();
        float* step_saved = train ? saved[d][t].data_ptr<float>() : nullptr;
        for (int64_t b = 0; b < batch; ++b) {
          const int64_t row = pos[t * batch + b] * batch + b;
          const char* gi_row = gi_data + (row * dirs + d) * width * gi_item;
          const float* gh_row = gh_data + b * width;
          const float* prev = state_data + b * size;
          float* next = next_data + b * size;
          float* out = states_data + (row * dirs + d) * size;
          if (train) {
            Rows<Cell>::step_saving(reinterpret_cast<const float*>(gi_row), gh_row, b_i, b_h, prev, next, out,
                                    step_saved + b * saved_width, size, plane);
          } else if (bf16) {
            Rows<Cell>::step_bf16(reinterpret_cast<const uint16_t*>(gi_row), gh_row, b_i, b_h, prev, next, out, size,
                                  plane);
          } else {
            Rows<Cell>::step(reinterpret_cast<const float*>(gi_row), gh_row, b_i, b_h, prev, next, out, size, plane);
          }
        }
        std::swap(state, state_next);
      }
      final[d].copy_(state);
    }
  });
  return {states, saved, final};
}

// Returns the gradients of the input projections (T, B, D * GH, natural order, like gi), of the
// recurrent pre-activations W_h h_prev + b_h (D, T, B, GH, in each direction's step order, like saved)
// and of the initial state (D, S, B, H); the weight gradients are one product over all steps, left to
// the caller. `grad_final` (D, S, B, H), the gradient of the final state, may be absent (zero).
template <class Cell>
std::tuple<at::Tensor, at::Tensor, at::Tensor> backward(const at::Tensor& grad_states, const at::Tensor& steps,
                                                        const at::Tensor& saved, const at::Tensor& w_hh,
                                                        const std::optional<at::Tensor>& grad_final) {
  const int64_t dirs = saved.size(0), time = saved.size(1), batch = saved.size(2);
  const int64_t size = saved.size(3) / Cell::saved;
  const int64_t width = Cell::gates * size, saved_width = Cell::saved * size, plane = batch * size;
  TORCH_CHECK(grad_states.sizes() == at::IntArrayRef({time, batch, dirs * size}), "grad_states: (T, B, D * H)");
  TORCH_CHECK(w_hh.sizes() == at::IntArrayRef({dirs, width, size}) && w_hh.is_contiguous(), "w_hh: (D, GH, H)");
  TORCH_CHECK(!grad_final || (grad_final->scalar_type() == at::kFloat && grad_final->is_contiguous() &&
                              grad_final->sizes() == at::IntArrayRef({dirs, Cell::state, batch, size})),
              "grad_final: contiguous float32 (D, S, B, H)");
  const at::Tensor grad_out = grad_states.contiguous();
  at::Tensor grad_gi = at::empty({time, batch, dirs * width}, saved.options());
  at::Tensor grad_gh = at::empty({dirs, time, batch, width}, saved.options());
  at::Tensor grad_initial = at::empty({dirs, Cell::state, batch, size}, saved.options());
  for_each_direction(dirs, [&](int64_t begin, int64_t end) {
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    at::Tensor carried = at::empty({Cell::state, batch, size}, saved.options()), carried_next = at::empty_like(carried);
    const float* grad_out_data = grad_out.data_ptr<float>();
    float* grad_gi_data = grad_gi.data_ptr<float>();
    for (int64_t d = begin; d < end; ++d) {
      const int64_t* pos = steps[d].data_ptr<int64_t>();
      if (grad_final) {
        carried.copy_((*grad_final)[d]);
      } else {
        carried.zero_();
      }
      for (int64_t t = time - 1; t >= 0; --t) {
        const float* step_saved = saved[d][t].data_ptr<float>();
        at::Tensor step_gh = grad_gh[d][t];
        float* step_gh_data = step_gh.data_ptr<float>();
        const float* carried_data = carried.data_ptr<float>();
        float* carried_next_data = carried_next.data_ptr<float>();
        for (int64_t b = 0; b < batch; ++b) {
          const int64_t row = pos[t * batch + b] * batch + b;
          Rows<Cell>::back(carried_data + b * size, grad_out_data + (row * dirs + d) * size,
                           step_saved + b * saved_width, grad_gi_data + (row * dirs + d) * width,
                           step_gh_data + b * width, carried_next_data + b * size, size, plane);
        }
        carried_next[0].addmm_(step_gh, w_hh[d]);  // the h plane
        std::swap(carried, carried_next);
      }
      grad_initial[d].copy_(carried);
    }
  });
  return {grad_gi, grad_gh, grad_initial};
}

}  // namespace

TORCH_LIBRARY(rnnkit, m) {
  m.def("gru_forward(Tensor gi, Tensor steps, Tensor w_hh, Tensor b_ih, Tensor b_hh, Tensor? initial, bool train)"
        " -> (Tensor, Tensor, Tensor)");
  m.def("gru_backward(Tensor grad_states, Tensor steps, Tensor saved, Tensor w_hh, Tensor? grad_final)"
        " -> (Tensor, Tensor, Tensor)");
  m.def("lstm_forward(Tensor gi, Tensor steps, Tensor w_hh, Tensor b_ih, Tensor b_hh, Tensor? initial, bool train)"
        " -> (Tensor, Tensor, Tensor)");
  m.def("lstm_backward(Tensor grad_states, Tensor steps, Tensor saved, Tensor w_hh, Tensor? grad_final)"
        " -> (Tensor, Tensor, Tensor)");
}

TORCH_LIBRARY_IMPL(rnnkit, CPU, m) {
  m.impl("gru_forward", &forward<Gru>);
  m.impl("gru_backward", &backward<Gru>);
  m.impl("lstm_forward", &forward<Lstm>);
  m.impl("lstm_backward", &backward<Lstm>);
}
