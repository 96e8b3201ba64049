#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>

namespace vallum {

/// A fixed-capacity byte buffer with a read window [begin, end) and free space after it, for
/// socket reads. Allocated once (lazily) and reused for the life of a connection.
class Buffer {
 public:
  explicit Buffer(size_t capacity) : capacity_(capacity) {}

  /// Bytes read but not yet consumed.
  std::string_view readable() const { return {data_.get() + begin_, end_ - begin_}; }
  size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }

  /// Marks n readable bytes as used.
  void consume(size_t n) {
    begin_ += n;
    if (begin_ == end_) {
      begin_ = end_ = 0;
    }
  }

  /// Free space to read into; moves unconsumed bytes to the front first when that makes room.
  /// Callers must not hold views into readable() across this call.
  char* writePointer() {
    ensureAllocated();
    if (begin_ > 0 && end_ == capacity_) {
      compact();
    }
    return data_.get() + end_;
  }
  size_t writable() const { return capacity_ - end_; }
  void commit(size_t n) { end_ += n; }

  void compact() {
    if (begin_ > 0) {
      std::memmove(data_.get(), data_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
  }

  void clear() { begin_ = end_ = 0; }
  size_t capacity() const { return capacity_; }
  /// Frees the storage of an empty buffer (allocated again by the next writePointer()).
  /// Returns the bytes freed.
  size_t release() {
    if (!data_ || !empty()) {
      return 0;
    }
    data_.reset();
    begin_ = end_ = 0;
    return capacity_;
  }

 private:
  void ensureAllocated() {
    if (!data_) {
      data_.reset(new char[capacity_]);
    }
  }

  std::unique_ptr<char[]> data_;
  size_t capacity_;
  size_t begin_ = 0;
  size_t end_ = 0;
};

}  // namespace vallum
