#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

/// The bytes a codec has ready to write, in order: pieces it formatted itself (heads, chunk
/// lines) and views of body bytes a caller handed it (not copied). One owner, one thread.
namespace vallum::http {

class Output {
 public:
  /// Storage for bytes the codec formats: append to it, then call commit().
  std::string& begin() {
    start_ = own_[current_].size();
    return own_[current_];
  }
  void commit() {
    const size_t end = own_[current_].size();
    if (end > start_) {
      pieces_.push_back({nullptr, uint32_t(start_), uint32_t(end - start_)});
    }
  }
  /// Appends formatted bytes.
  void append(std::string_view bytes) {
    begin().append(bytes);
    commit();
  }
  /// Appends a view of bytes the caller keeps valid until the next take().
  void appendExternal(std::string_view bytes) {
    if (!bytes.empty()) {
      pieces_.push_back({bytes.data(), 0, uint32_t(bytes.size())});
    }
  }

  bool empty() const { return pieces_.empty(); }
  /// Moves everything pending to `out` as views, valid until the next take().
  void take(std::vector<std::string_view>& out) {
    const std::string& own = own_[current_];
    for (const Piece& p : pieces_) {
      out.emplace_back(p.external != nullptr ? p.external : own.data() + p.offset, p.size);
    }
    pieces_.clear();
    current_ ^= 1;  // the views taken keep pointing into the other buffer
    own_[current_].clear();
  }
  void clear() {
    pieces_.clear();
    own_[0].clear();
    own_[1].clear();
  }
  /// Frees formatting buffers grown beyond `keep_bytes`; returns the bytes freed.
  size_t release(size_t keep_bytes) {
    size_t freed = 0;
    for (std::string& s : own_) {
      if (s.capacity() > keep_bytes) {
        freed += s.capacity();
        std::string().swap(s);
      }
    }
    pieces_.clear();
    return freed;
  }

 private:
  struct Piece {
    const char* external;  ///< a caller's bytes, or null: own_[current_] at offset
    uint32_t offset;
    uint32_t size;
  };
  std::vector<Piece> pieces_;
  std::string own_[2];
  size_t start_ = 0;
  int current_ = 0;
};

}  // namespace vallum::http
