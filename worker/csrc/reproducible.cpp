// libtorch's process-wide reproducibility switches that tch 0.24 does not bind: deterministic
// algorithms (torch.use_deterministic_algorithms), deterministic cuDNN without autotuning, and the
// float32 precision of matmuls, convolutions and RNNs on every backend (IEEE: no TF32, no BF16);
// and, below, the heap policy of the worker's allocator. Compiled by worker/build.rs against the
// headers of the libtorch the worker links; called through `src/torch_ffi.rs`.
#include <ATen/Context.h>
#include <torch/csrc/jit/python/update_graph_executor_opt.h>

#include <malloc.h>

#include <cstdio>
#include <exception>

namespace {

const at::Float32Backend kBackends[] = {
    at::Float32Backend::GENERIC, at::Float32Backend::CUDA, at::Float32Backend::MKLDNN};
const at::Float32Op kOps[] = {
    at::Float32Op::ALL, at::Float32Op::CONV, at::Float32Op::RNN, at::Float32Op::MATMUL};

// Whether libtorch has a precision setting for (backend, op): GENERIC only has ALL.
bool has_setting(at::Float32Backend backend, at::Float32Op op) {
  return backend != at::Float32Backend::GENERIC || op == at::Float32Op::ALL;
}

}  // namespace

extern "C" {

// Sets the switches; `tf32` allows TF32 for CUDA matmuls, convolutions and RNNs (the kernel's
// environment says whether it may). Returns 0, or 1 with libtorch's message in `err`.
int verity_torch_reproducible(int deterministic, int tf32, char* err, size_t err_len) {
  try {
    auto& ctx = at::globalContext();
    ctx.setDeterministicAlgorithms(deterministic != 0, /*warn_only=*/false);
    ctx.setDeterministicCuDNN(deterministic != 0);
    ctx.setBenchmarkCuDNN(false);
    // The older matmul-only setting, kept in step with the per-backend table below (libtorch has
    // both, and torch.get_float32_matmul_precision() reports this one).
    ctx.setFloat32MatmulPrecision(tf32 != 0 ? "high" : "highest");
    for (auto backend : kBackends) {
      for (auto op : kOps) {
        if (!has_setting(backend, op)) continue;
        const bool cuda_op = backend == at::Float32Backend::CUDA && op != at::Float32Op::ALL;
        ctx.setFloat32Precision(backend, op,
                                tf32 != 0 && cuda_op ? at::Float32Precision::TF32
                                                     : at::Float32Precision::IEEE);
      }
    }
    return 0;
  } catch (const std::exception& e) {
    std::snprintf(err, err_len, "%s", e.what());
    return 1;
  }
}

// 1 when deterministic algorithms are on.
int verity_torch_deterministic() {
  return at::globalContext().deterministicAlgorithms() ? 1 : 0;
}

// 1 when any backend may compute a float32 matmul, convolution or RNN in reduced precision.
int verity_torch_reduced_precision() {
  auto& ctx = at::globalContext();
  for (auto backend : kBackends) {
    for (auto op : kOps) {
      if (has_setting(backend, op) &&
          ctx.float32Precision(backend, op) != at::Float32Precision::IEEE) {
        return 1;
      }
    }
  }
  return 0;
}

// 1 when TorchScript's graph-executor optimisations are on for the calling thread (tch sets this
// per-thread switch but cannot read it).
int verity_torch_graph_optimized() {
  return torch::jit::getGraphExecutorOptimize() ? 1 : 0;
}

// Keeps freed tensor memory in the process heap instead of returning it to the kernel: allocations
// up to 32 MiB (glibc's largest mmap threshold) come from the heap, and the heap's top is trimmed
// only beyond 1 GiB free. glibc's defaults (mmap from 128 KiB, a threshold that moves) make every
// step of a training loop map, fault in and unmap its activations again: 20-25 % of a char
// transformer step on CPU (docs/benchmarks.md). Returns 1 when both settings took.
int verity_malloc_keep_freed() {
  const int mmap_ok = mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  const int trim_ok = mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
  return mmap_ok == 1 && trim_ok == 1 ? 1 : 0;
}

}  // extern "C"
