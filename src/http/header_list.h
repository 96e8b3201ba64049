#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

/// Header fields composed for sending (a request to an upstream, a response to a client).
namespace vallum::http {

/// An ordered list of fields whose bytes are either borrowed — views into memory that outlives
/// the list's use, such as the client's HeaderMap or the snapshot's strings — or owned by the
/// list (values the proxy computes: X-Forwarded-For, rendered templates). Composing a message
/// therefore copies only what the proxy generates; the codec copies the rest once, onto the
/// wire. Reused across requests: clear() keeps capacity. One owner, one thread.
class HeaderList {
 public:
  void clear() {
    fields_.clear();
    owned_.clear();
  }

  /// Appends a field whose name and value are borrowed.
  void add(std::string_view name, std::string_view value) {
    fields_.push_back({name, value.data(), uint32_t(value.size()), false});
  }

  /// Starts an owned value: append its bytes to the returned string (nothing else), then call
  /// commitOwned() with its (borrowed) name, or discardOwned() to drop it.
  std::string& beginOwned() {
    owned_start_ = owned_.size();
    return owned_;
  }
  void commitOwned(std::string_view name) {
    fields_.push_back({name, nullptr, uint32_t(owned_.size() - owned_start_),
                       true, uint32_t(owned_start_)});
  }
  void discardOwned() { owned_.resize(owned_start_); }
  /// Size of the owned value being built (since beginOwned()).
  size_t ownedSize() const { return owned_.size() - owned_start_; }

  /// Appends a field with an owned copy of `value`.
  void addCopy(std::string_view name, std::string_view value) {
    beginOwned() += value;
    commitOwned(name);
  }

  size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }
  std::string_view name(size_t i) const { return fields_[i].name; }
  std::string_view value(size_t i) const {
    const Field& f = fields_[i];
    return f.owned ? std::string_view(owned_.data() + f.offset, f.size)
                   : std::string_view(f.value, f.size);
  }

 private:
  struct Field {
    std::string_view name;
    const char* value;  ///< borrowed value (owned: null, see offset)
    uint32_t size;
    bool owned;
    uint32_t offset = 0;  ///< owned value's position in owned_
  };
  std::vector<Field> fields_;
  std::string owned_;
  size_t owned_start_ = 0;
};

}  // namespace vallum::http
