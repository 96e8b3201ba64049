#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vallum::http {

/// Headers the data path looks at, recognized once when a field is added so later lookups are
/// integer compares (names compare case-insensitively, RFC 9110 §5.1).
enum class HeaderId : uint8_t {
  Other = 0,
  Host,
  ContentLength,
  TransferEncoding,
  Connection,
  KeepAlive,
  ProxyConnection,
  Te,
  Trailer,
  Upgrade,
  Expect,
  Accept,
  XForwardedFor,
  XForwardedProto,
  XForwardedHost,
  XRequestId,
};

/// Classifies a header name (any case).
HeaderId classifyHeader(std::string_view name);

/// An ordered list of header fields (duplicates kept, original case kept) stored in one flat
/// buffer, so a connection that reuses its HeaderMap allocates nothing in steady state.
/// Removal marks a field dead; iteration skips dead fields.
class HeaderMap {
 public:
  struct Field {
    uint32_t name_offset;
    uint32_t name_size;
    uint32_t value_offset;
    uint32_t value_size;
    HeaderId id;
    bool removed;
  };

  /// Drops every field; keeps capacity.
  void clear();
  /// Drops every field and frees the buffers when they grew beyond `keep_bytes` (a connection
  /// going idle after a huge head). Returns the bytes given back to the allocator.
  size_t release(size_t keep_bytes);

  /// Appends a complete field.
  void add(std::string_view name, std::string_view value);

  /// Incremental building for parsers: bytes of one field's name, then of its value, arrive
  /// in pieces; finishField() trims the value's surrounding OWS and classifies the name.
  void appendNamePiece(std::string_view piece);
  void appendValuePiece(std::string_view piece);
  void finishField();

  /// Number of fields including removed ones (use live() to test each).
  size_t fieldCount() const { return fields_.size(); }
  bool live(size_t i) const { return !fields_[i].removed; }
  std::string_view name(size_t i) const {
    return {storage_.data() + fields_[i].name_offset, fields_[i].name_size};
  }
  std::string_view value(size_t i) const {
    return {storage_.data() + fields_[i].value_offset, fields_[i].value_size};
  }
  HeaderId id(size_t i) const { return fields_[i].id; }
  void remove(size_t i) { fields_[i].removed = true; }

  /// First live field with this id / name (case-insensitive).
  std::optional<std::string_view> get(HeaderId id) const;
  std::optional<std::string_view> get(std::string_view name) const;
  /// Number of live fields with this id.
  size_t count(HeaderId id) const;
  /// Marks every field with this id / name removed; returns how many.
  size_t removeAll(HeaderId id);
  size_t removeAll(std::string_view name);

  /// Sum of name and value sizes over all fields (the 128 KiB limit counts this).
  size_t byteSize() const { return byte_size_; }

  /// Whether a field with this id may be present (false: certainly absent; removal does not
  /// clear it). Lets lookups of absent recognized fields cost one bit test.
  bool mayHave(HeaderId id) const { return (present_ & (1u << unsigned(id))) != 0; }

 private:
  std::string storage_;
  std::vector<Field> fields_;
  size_t byte_size_ = 0;
  uint32_t present_ = 0;  ///< bit per HeaderId added (see mayHave)
  // Incremental state.
  uint32_t pending_name_offset_ = 0;
  uint32_t pending_value_offset_ = 0;
  bool in_value_ = false;
};

}  // namespace vallum::http
