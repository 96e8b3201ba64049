#include "server/snapshot_job.h"

#include <utility>

#include "config/loader.h"

namespace vallum::server {

namespace {

proxy::SnapshotBuildOptions buildOptions(CompileInputs& inputs) {
  proxy::SnapshotBuildOptions build;
  build.generation = inputs.generation;
  build.metrics = inputs.metrics.get();
  auto health = std::make_shared<HealthById>(std::move(inputs.health));
  build.cluster_health = [health](const std::string& route_id, size_t endpoints) {
    upstream::ClusterHealthSharedPtr& shared = (*health)[route_id];
    if (!shared || shared->hosts.size() != endpoints) {
      shared = std::make_shared<upstream::ClusterHealth>();
      for (size_t i = 0; i < endpoints; ++i) {
        shared->hosts.push_back(std::make_shared<upstream::HostHealth>());
      }
    }
    return shared;
  };
  return build;
}

}  // namespace

LoadOutcome loadAndCompile(const std::string& path, CompileInputs inputs,
                           const std::atomic<bool>& cancel) {
  const auto start = std::chrono::steady_clock::now();
  LoadOutcome out;
  config::LoadOptions load_options;
  load_options.cancel = &cancel;
  config::LoadResult loaded = config::loadFile(path, config::processEnvironment(), load_options);
  out.diagnostics = std::move(loaded.diagnostics);
  if (loaded.options && !cancel.load(std::memory_order_relaxed)) {
    const auto compile_start = std::chrono::steady_clock::now();
    out.snapshot =
        proxy::buildSnapshot(std::move(*loaded.options), buildOptions(inputs), out.diagnostics);
    out.compile_elapsed = std::chrono::steady_clock::now() - compile_start;
  }
  out.elapsed = std::chrono::steady_clock::now() - start;
  return out;
}

LoadOutcome recompile(const config::Options& options, CompileInputs inputs) {
  const auto start = std::chrono::steady_clock::now();
  LoadOutcome out;
  out.snapshot = proxy::buildSnapshot(options, buildOptions(inputs), out.diagnostics);
  out.elapsed = std::chrono::steady_clock::now() - start;
  out.compile_elapsed = out.elapsed;
  return out;
}

}  // namespace vallum::server
