#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/diagnostics.h"
#include "config/options.h"
#include "metrics/registry.h"
#include "proxy/snapshot.h"
#include "upstream/host_health.h"

/// Loading and compiling a config off the control thread (server/background_loader.h runs it).
namespace vallum::server {

/// The shared health state of the running routes, by route id (health survives reloads).
using HealthById = std::unordered_map<std::string, upstream::ClusterHealthSharedPtr>;

/// What a job needs from the control thread, taken when the job starts; the job shares no
/// mutable state with the control thread.
struct CompileInputs {
  uint64_t generation = 0;
  /// Route counters are created through it (its methods lock; any thread).
  std::shared_ptr<metrics::Registry> metrics;
  /// The published snapshot's health state (immutable). A route whose id is in it with the
  /// same number of endpoints gets that state (the ClusterHealth objects are shared: their
  /// fields are atomics); another gets fresh state.
  std::shared_ptr<const HealthById> health;
};

/// What publishing a snapshot needs besides the snapshot, prepared on the loader thread so
/// that the control thread does not walk every route to build it.
struct PublishPlan {
  /// The snapshot's health state by route id (kept for the next compile).
  HealthById health;
  /// The snapshot's endpoint gauges, for metrics::Registry::setEndpoints().
  std::vector<metrics::EndpointView> endpoints;
};

/// Builds the PublishPlan of `snapshot`. Any thread.
PublishPlan preparePublish(const proxy::Snapshot& snapshot);

/// The result, handed to the control thread.
struct LoadOutcome {
  /// Null when the config is invalid or the load was cancelled.
  proxy::SnapshotConstSharedPtr snapshot;
  /// Set with the snapshot.
  PublishPlan plan;
  config::Diagnostics diagnostics;
  /// Wall time of the load and compile, and of the compile alone.
  std::chrono::steady_clock::duration elapsed{};
  std::chrono::steady_clock::duration compile_elapsed{};
};

/// Reads, validates and compiles the config file at `path` with the process environment, as
/// serving does (upstream names are resolved). `cancel` stops it early (the outcome then has
/// no snapshot). Any thread; the control thread runs it only at start-up.
LoadOutcome loadAndCompile(const std::string& path, CompileInputs inputs,
                           const std::atomic<bool>& cancel);

/// Compiles `options` again (resolving upstream names anew), for the DNS refresh. Any thread.
LoadOutcome recompile(const config::Options& options, CompileInputs inputs);

}  // namespace vallum::server
