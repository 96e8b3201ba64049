#include "network/connection_registry.h"

#include <gtest/gtest.h>

namespace vallum::network {
namespace {

struct FakeConnection : TrackedConnection {
  int deadlines = 0;
  int drains = 0;
  ConnectionRegistry* unlink_on_deadline = nullptr;
  void onDeadline() override {
    ++deadlines;
    if (unlink_on_deadline != nullptr) {
      unlink_on_deadline->remove(*this);
    }
  }
  void onDrain() override { ++drains; }
};

TEST(ConnectionRegistryTest, FiresPastDeadlinesOnlyOnce) {
  boost::asio::io_context io;
  ConnectionRegistry registry(io, std::chrono::milliseconds(5));
  FakeConnection due, later, none;
  registry.add(due);
  registry.add(later);
  registry.add(none);
  due.setDeadline(std::chrono::steady_clock::now());
  later.setDeadline(std::chrono::steady_clock::now() + std::chrono::hours(1));
  io.run_for(std::chrono::milliseconds(40));
  EXPECT_EQ(due.deadlines, 1);  // the deadline is cleared when it fires
  EXPECT_EQ(later.deadlines, 0);
  EXPECT_EQ(none.deadlines, 0);
  EXPECT_EQ(due.deadline(), kNoDeadline);
  registry.remove(due);
  registry.remove(later);
  registry.remove(none);
}

TEST(ConnectionRegistryTest, ConnectionsMayUnlinkThemselvesWhenFired) {
  boost::asio::io_context io;
  ConnectionRegistry registry(io, std::chrono::milliseconds(5));
  FakeConnection a, b;
  a.unlink_on_deadline = &registry;
  b.unlink_on_deadline = &registry;
  registry.add(a);
  registry.add(b);
  a.setDeadline(std::chrono::steady_clock::now());
  b.setDeadline(std::chrono::steady_clock::now());
  io.run_for(std::chrono::milliseconds(30));
  EXPECT_EQ(a.deadlines, 1);
  EXPECT_EQ(b.deadlines, 1);
  EXPECT_EQ(registry.size(), 0u);
}

TEST(ConnectionRegistryTest, DrainReachesEveryConnection) {
  boost::asio::io_context io;
  ConnectionRegistry registry(io, std::chrono::milliseconds(50));
  FakeConnection a, b;
  {
    ConnectionRegistry::Registration ra(registry, a);
    ConnectionRegistry::Registration rb(registry, b);
    EXPECT_EQ(registry.size(), 2u);
    registry.drainAll();
  }
  EXPECT_EQ(a.drains, 1);
  EXPECT_EQ(b.drains, 1);
  EXPECT_EQ(registry.size(), 0u);
}

TEST(ConnectionRegistryTest, TickHookRunsWhileRequested) {
  boost::asio::io_context io;
  ConnectionRegistry registry(io, std::chrono::milliseconds(5));
  int ticks = 0;
  registry.setTickHook([&] { ++ticks; });
  registry.requestTick();
  io.run_for(std::chrono::milliseconds(40));
  EXPECT_EQ(ticks, 1);  // one requested tick, then the ticker stops (no connections)
}

}  // namespace
}  // namespace vallum::network
