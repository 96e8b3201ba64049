#include "server/snapshot_job.h"

#include <utility>

#include "config/loader.h"

namespace vallum::server {

namespace {

proxy::SnapshotBuildOptions buildOptions(CompileInputs& inputs) {
  proxy::SnapshotBuildOptions build;
  build.generation = inputs.generation;
  build.metrics = inputs.metrics.get();
  std::shared_ptr<const HealthById> base = inputs.health;
  if (!base) {
    base = std::make_shared<const HealthById>();
  }
  // New state for ids the base does not have (or with another endpoint count), shared by
  // routes of this snapshot that have the same id.
  auto fresh = std::make_shared<HealthById>();
  build.cluster_health = [base, fresh](const std::string& route_id, size_t endpoints) {
    auto kept = base->find(route_id);
    if (kept != base->end() && kept->second && kept->second->hosts.size() == endpoints) {
      return kept->second;
    }
    upstream::ClusterHealthSharedPtr& shared = (*fresh)[route_id];
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

PublishPlan preparePublish(const proxy::Snapshot& snapshot) {
  PublishPlan plan;
  plan.health.reserve(snapshot.routes.size());
  for (const proxy::RouteRuntime& route : snapshot.routes) {
    plan.health[route.id] = route.cluster.health;
    for (size_t i = 0; i < route.cluster.endpoints.size(); ++i) {
      const upstream::HostHealthSharedPtr& host = route.cluster.health->hosts[i];
      metrics::EndpointView view;
      view.route = route.log_name;
      view.endpoint = route.cluster.endpoints[i].authority;
      view.owner = host;
      view.active_healthy = &host->active_healthy;
      view.ejected = &host->ejected;
      view.active_requests = &host->active_requests;
      view.connect_failures = &host->connect_failures;
      plan.endpoints.push_back(std::move(view));
    }
  }
  return plan;
}

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
    if (out.snapshot) {
      out.plan = preparePublish(*out.snapshot);
    }
    out.compile_elapsed = std::chrono::steady_clock::now() - compile_start;
  }
  out.elapsed = std::chrono::steady_clock::now() - start;
  return out;
}

LoadOutcome recompile(const config::Options& options, CompileInputs inputs) {
  const auto start = std::chrono::steady_clock::now();
  LoadOutcome out;
  out.snapshot = proxy::buildSnapshot(options, buildOptions(inputs), out.diagnostics);
  if (out.snapshot) {
    out.plan = preparePublish(*out.snapshot);
  }
  out.elapsed = std::chrono::steady_clock::now() - start;
  out.compile_elapsed = out.elapsed;
  return out;
}

}  // namespace vallum::server
