#include "upstream/lb/least_request.h"

#include <algorithm>
#include <cmath>

#include "upstream/lb/heap.h"

namespace vallum::upstream::lb {

namespace {

// Stands in for hosts given without an active-request counter.
const std::atomic<uint32_t> kNoActiveRequests{0};

}  // namespace

LeastRequestLoadBalancer::LeastRequestLoadBalancer(const PolicyConfig& config,
                                                   const std::vector<LbHost>& hosts)
    : choice_count_(std::max<uint32_t>(2, config.choice_count)) {
  hosts_.reserve(hosts.size());
  bool equal = true;
  for (const LbHost& host : hosts) {
    const uint32_t weight = std::max<uint32_t>(1, host.weight);
    hosts_.push_back(
        Host{host.active_requests ? host.active_requests : &kNoActiveRequests, host.index, weight});
    equal = equal && weight == hosts_.front().weight;
  }
  if (hosts_.size() < 2 || (equal && !config.active_request_bias_set)) {
    return;
  }
  bias_ = config.active_request_bias;
  if (std::isnan(bias_) || bias_ < 0) {
    bias_ = 1.0;
  }
  mode_ = bias_ == 1.0   ? Mode::WeightedBiasOne
          : bias_ == 0.0 ? Mode::WeightedBiasZero
                         : Mode::WeightedPow;
  heap_.reserve(hosts_.size());
  for (size_t i = 0; i < hosts_.size(); ++i) {
    heap_.push_back(Entry{1.0 / dynamicWeight(hosts_[i]), next_order_++, uint32_t(i)});
  }
  std::make_heap(heap_.begin(), heap_.end(),
                 [](const Entry& a, const Entry& b) { return before(b, a); });
}

double LeastRequestLoadBalancer::dynamicWeight(const Host& host) const {
  const double weight = double(host.weight);
  switch (mode_) {
    case Mode::WeightedBiasOne:
      return weight / (double(host.active->load(std::memory_order_relaxed)) + 1.0);
    case Mode::WeightedPow:
      return weight / std::pow(double(host.active->load(std::memory_order_relaxed)) + 1.0, bias_);
    case Mode::WeightedBiasZero:
    case Mode::Choices:
      break;
  }
  return weight;
}

uint32_t LeastRequestLoadBalancer::pickChoices(FastRandom& random) const {
  const uint64_t n = hosts_.size();
  const Host* best = &hosts_[random.uniform(n)];
  uint32_t best_active = best->active->load(std::memory_order_relaxed);
  for (uint32_t choice = 1; choice < choice_count_; ++choice) {
    const Host& sample = hosts_[random.uniform(n)];
    const uint32_t active = sample.active->load(std::memory_order_relaxed);
    if (active < best_active) {
      best = &sample;
      best_active = active;
    }
  }
  return best->index;
}

void LeastRequestLoadBalancer::requeueTop() { replaceTop(heap_, heap_[0], before); }

uint32_t LeastRequestLoadBalancer::pickWeighted() {
  // Pop the earliest deadline, advance the clock to it and re-queue the same host with its
  // weight as of now (Envoy's EdfScheduler::pickAndAdd).
  Entry& top = heap_.front();
  const Host& host = hosts_[top.position];
  top.deadline += 1.0 / dynamicWeight(host);
  top.order = next_order_++;
  requeueTop();
  return host.index;
}

std::optional<uint32_t> LeastRequestLoadBalancer::chooseHost(const LbContext& context) {
  if (hosts_.size() < 2) {
    if (hosts_.empty()) {
      return std::nullopt;
    }
    return hosts_.front().index;
  }
  if (mode_ == Mode::Choices) {
    return pickChoices(*context.random);
  }
  return pickWeighted();
}

}  // namespace vallum::upstream::lb
