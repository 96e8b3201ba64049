#include "http/http2/session_memory.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace vallum::http::http2 {
namespace {

std::string pattern(size_t size) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) {
    s[i] = static_cast<char>('a' + i % 23);
  }
  return s;
}

TEST(SessionMemoryTest, SmallAndLargeBlocksHoldTheirBytes) {
  nghttp2_mem* mem = sessionMemory();
  for (size_t size : {size_t{1}, size_t{100}, size_t{8191}, size_t{8192}, size_t{16394},
                      size_t{1 << 20}}) {
    auto* p = static_cast<char*>(mem->malloc(size, mem->mem_user_data));
    ASSERT_NE(p, nullptr) << size;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 16, 0u) << size;
    const std::string want = pattern(size);
    std::memcpy(p, want.data(), size);
    EXPECT_EQ(std::string(p, size), want) << size;
    mem->free(p, mem->mem_user_data);
  }
  mem->free(nullptr, mem->mem_user_data);
}

TEST(SessionMemoryTest, ReallocKeepsContentAcrossTheMappingThreshold) {
  nghttp2_mem* mem = sessionMemory();
  const std::string want = pattern(100);
  auto* p = static_cast<char*>(mem->malloc(100, mem->mem_user_data));
  std::memcpy(p, want.data(), 100);
  p = static_cast<char*>(mem->realloc(p, 20000, mem->mem_user_data));  // heap -> mapping
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(std::string(p, 100), want);
  p = static_cast<char*>(mem->realloc(p, 50, mem->mem_user_data));  // mapping -> heap
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(std::string(p, 50), want.substr(0, 50));
  p = static_cast<char*>(mem->realloc(p, 200, mem->mem_user_data));  // heap -> heap
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(std::string(p, 50), want.substr(0, 50));
  EXPECT_EQ(mem->realloc(p, 0, mem->mem_user_data), nullptr);  // frees
  p = static_cast<char*>(mem->realloc(nullptr, 10, mem->mem_user_data));
  ASSERT_NE(p, nullptr);
  mem->free(p, mem->mem_user_data);
}

TEST(SessionMemoryTest, CallocIsZeroedAndRefusesOverflow) {
  nghttp2_mem* mem = sessionMemory();
  for (size_t count : {size_t{10}, size_t{4096}}) {
    auto* p = static_cast<unsigned char*>(mem->calloc(count, 4, mem->mem_user_data));
    ASSERT_NE(p, nullptr);
    size_t nonzero = 0;
    for (size_t i = 0; i < count * 4; ++i) {
      nonzero += p[i] != 0 ? 1 : 0;
    }
    EXPECT_EQ(nonzero, 0u) << count;
    mem->free(p, mem->mem_user_data);
  }
  EXPECT_EQ(mem->calloc(SIZE_MAX / 2, 4, mem->mem_user_data), nullptr);
  EXPECT_EQ(mem->malloc(SIZE_MAX - 4, mem->mem_user_data), nullptr);
}

}  // namespace
}  // namespace vallum::http::http2
