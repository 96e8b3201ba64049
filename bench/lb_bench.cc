// Load-balancer pick cost: ns per chooseHost() for every policy with 5 and 500
// endpoints, equal weights and weights 1..4. Run: build/release/bench/lb_bench
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "common/random.h"
#include "upstream/lb/load_balancer.h"

namespace {

using namespace vallum;
using namespace vallum::upstream::lb;

struct Fixture {
  Fixture(Policy policy, int64_t count, bool weighted) : active(size_t(count)) {
    std::vector<LbHost> hosts;
    for (int64_t i = 0; i < count; ++i) {
      LbHost host;
      host.index = uint32_t(i);
      host.weight = weighted ? uint32_t(1 + i % 4) : 1;
      host.hash_key = "10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ":8080";
      active[size_t(i)] = uint32_t(i % 3);  // some load for LEAST_REQUEST
      host.active_requests = &active[size_t(i)];
      hosts.push_back(std::move(host));
    }
    lb = createLoadBalancer(policy, PolicyConfig{}, std::move(hosts), 12345);
    for (uint64_t i = 0; i < kHashes; ++i) {
      hashes.push_back(random.next());
    }
  }
  static constexpr uint64_t kHashes = 4096;
  std::vector<std::atomic<uint32_t>> active;
  LoadBalancerPtr lb;
  FastRandom random{42};
  std::vector<uint64_t> hashes;
};

// state.range(0): endpoints; range(1): weighted (0/1); range(2): with a request hash (0/1).
void pickLoop(benchmark::State& state, Policy policy) {
  Fixture fixture(policy, state.range(0), state.range(1) != 0);
  const bool with_hash = state.range(2) != 0;
  uint64_t i = 0;
  for (auto _ : state) {
    LbContext context;
    context.random = &fixture.random;
    if (with_hash) {
      context.hash = fixture.hashes[i++ & (Fixture::kHashes - 1)];
    }
    benchmark::DoNotOptimize(fixture.lb->chooseHost(context));
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
}

void BM_RoundRobin(benchmark::State& state) { pickLoop(state, Policy::RoundRobin); }
void BM_LeastRequest(benchmark::State& state) { pickLoop(state, Policy::LeastRequest); }
void BM_Random(benchmark::State& state) { pickLoop(state, Policy::Random); }
void BM_RingHash(benchmark::State& state) { pickLoop(state, Policy::RingHash); }
void BM_Maglev(benchmark::State& state) { pickLoop(state, Policy::Maglev); }

// {endpoints, weighted, hash}
BENCHMARK(BM_RoundRobin)
    ->ArgNames({"endpoints", "weighted", "hash"})
    ->Args({5, 0, 0})
    ->Args({500, 0, 0})
    ->Args({5, 1, 0})
    ->Args({500, 1, 0});
BENCHMARK(BM_LeastRequest)
    ->ArgNames({"endpoints", "weighted", "hash"})
    ->Args({5, 0, 0})
    ->Args({500, 0, 0})
    ->Args({5, 1, 0})
    ->Args({500, 1, 0});
BENCHMARK(BM_Random)
    ->ArgNames({"endpoints", "weighted", "hash"})
    ->Args({5, 0, 0})
    ->Args({500, 0, 0})
    ->Args({5, 1, 0})
    ->Args({500, 1, 0});
BENCHMARK(BM_RingHash)
    ->ArgNames({"endpoints", "weighted", "hash"})
    ->Args({5, 0, 1})
    ->Args({500, 0, 1})
    ->Args({5, 1, 1})
    ->Args({500, 1, 1})
    ->Args({5, 0, 0})
    ->Args({500, 0, 0});
BENCHMARK(BM_Maglev)
    ->ArgNames({"endpoints", "weighted", "hash"})
    ->Args({5, 0, 1})
    ->Args({500, 0, 1})
    ->Args({5, 1, 1})
    ->Args({500, 1, 1})
    ->Args({5, 0, 0})
    ->Args({500, 0, 0});

// Building a balancer (on every host-set change, per worker): the cost of the ring / table.
void BM_Build(benchmark::State& state) {
  const auto policy = static_cast<Policy>(state.range(0));
  std::vector<LbHost> hosts;
  for (int64_t i = 0; i < state.range(1); ++i) {
    LbHost host;
    host.index = uint32_t(i);
    host.hash_key = "10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ":8080";
    hosts.push_back(std::move(host));
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(createLoadBalancer(policy, PolicyConfig{}, hosts, 1));
  }
  state.SetLabel(std::string(policyName(policy)));
}
BENCHMARK(BM_Build)
    ->ArgNames({"policy", "endpoints"})
    ->Args({int(Policy::RingHash), 5})
    ->Args({int(Policy::RingHash), 500})
    ->Args({int(Policy::Maglev), 5})
    ->Args({int(Policy::Maglev), 500})
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
