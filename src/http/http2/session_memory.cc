#include "http/http2/session_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace vallum::http::http2 {

namespace {

/// Blocks from this size on are mapped rather than taken from the heap.
constexpr size_t kMapFrom = 8 * 1024;

/// Precedes every block: its size, and its mapping's length (0: from malloc). 16 bytes, so the
/// block keeps malloc's alignment.
struct alignas(16) Header {
  size_t size;
  size_t mapped;
};

size_t pageSize() {
  static const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  return page;
}

Header* header(void* block) { return static_cast<Header*>(block) - 1; }

void* allocate(size_t size, void* /*user*/) {
  if (size > SIZE_MAX / 2) {
    return nullptr;
  }
  const size_t total = size + sizeof(Header);
  Header* h = nullptr;
  if (size >= kMapFrom) {
    const size_t length = (total + pageSize() - 1) / pageSize() * pageSize();
    void* p = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      return nullptr;
    }
    h = static_cast<Header*>(p);
    h->mapped = length;
  } else {
    h = static_cast<Header*>(std::malloc(total));
    if (h == nullptr) {
      return nullptr;
    }
    h->mapped = 0;
  }
  h->size = size;
  return h + 1;
}

void release(void* block, void* /*user*/) {
  if (block == nullptr) {
    return;
  }
  Header* h = header(block);
  if (h->mapped != 0) {
    ::munmap(h, h->mapped);
  } else {
    std::free(h);
  }
}

void* allocateZeroed(size_t count, size_t size, void* user) {
  if (size != 0 && count > SIZE_MAX / 2 / size) {
    return nullptr;
  }
  void* block = allocate(count * size, user);
  if (block != nullptr && header(block)->mapped == 0) {
    std::memset(block, 0, count * size);  // a fresh mapping is zeroed already
  }
  return block;
}

void* reallocate(void* block, size_t size, void* user) {
  if (block == nullptr) {
    return allocate(size, user);
  }
  if (size == 0) {
    release(block, user);
    return nullptr;
  }
  Header* h = header(block);
  if (h->mapped == 0 && size < kMapFrom) {
    auto* grown = static_cast<Header*>(std::realloc(h, size + sizeof(Header)));
    if (grown == nullptr) {
      return nullptr;
    }
    grown->size = size;
    return grown + 1;
  }
  void* moved = allocate(size, user);
  if (moved == nullptr) {
    return nullptr;
  }
  std::memcpy(moved, block, h->size < size ? h->size : size);
  release(block, user);
  return moved;
}

}  // namespace

nghttp2_mem* sessionMemory() {
  static nghttp2_mem memory{nullptr, allocate, release, allocateZeroed, reallocate};
  return &memory;
}

}  // namespace vallum::http::http2
