#include "http/header_map.h"

#include "common/strings.h"

namespace vallum::http {

using strings::iequals;

HeaderId classifyHeader(std::string_view n) {
  // Every field of every message comes here: the size and the first letter pick the one
  // candidate (at most), so a name Vallum does not track costs no byte comparison.
  if (n.empty()) {
    return HeaderId::Other;
  }
  const char first = strings::toLowerAscii(n.front());
  auto is = [n](std::string_view name, HeaderId id) {
    return iequals(n, name) ? id : HeaderId::Other;
  };
  switch (n.size()) {
    case 2:
      return first == 't' ? is("te", HeaderId::Te) : HeaderId::Other;
    case 4:
      return first == 'h' ? is("host", HeaderId::Host) : HeaderId::Other;
    case 6:
      if (first == 'e') return is("expect", HeaderId::Expect);
      if (first == 'a') return is("accept", HeaderId::Accept);
      return HeaderId::Other;
    case 7:
      if (first == 'u') return is("upgrade", HeaderId::Upgrade);
      if (first == 't') return is("trailer", HeaderId::Trailer);
      return HeaderId::Other;
    case 10:
      if (first == 'c') return is("connection", HeaderId::Connection);
      if (first == 'k') return is("keep-alive", HeaderId::KeepAlive);
      return HeaderId::Other;
    case 12:
      return first == 'x' ? is("x-request-id", HeaderId::XRequestId) : HeaderId::Other;
    case 14:
      return first == 'c' ? is("content-length", HeaderId::ContentLength) : HeaderId::Other;
    case 15:
      return first == 'x' ? is("x-forwarded-for", HeaderId::XForwardedFor) : HeaderId::Other;
    case 16:
      if (first == 'p') return is("proxy-connection", HeaderId::ProxyConnection);
      if (first == 'x') return is("x-forwarded-host", HeaderId::XForwardedHost);
      return HeaderId::Other;
    case 17:
      if (first == 't') return is("transfer-encoding", HeaderId::TransferEncoding);
      if (first == 'x') return is("x-forwarded-proto", HeaderId::XForwardedProto);
      return HeaderId::Other;
    default:
      return HeaderId::Other;
  }
}

void HeaderMap::clear() {
  storage_.clear();
  fields_.clear();
  byte_size_ = 0;
  present_ = 0;
  in_value_ = false;
  pending_name_offset_ = 0;
  pending_value_offset_ = 0;
}

size_t HeaderMap::release(size_t keep_bytes) {
  clear();
  size_t released = 0;
  if (storage_.capacity() > keep_bytes) {
    released += storage_.capacity();
    std::string().swap(storage_);
  }
  if (fields_.capacity() * sizeof(Field) > keep_bytes) {
    released += fields_.capacity() * sizeof(Field);
    std::vector<Field>().swap(fields_);
  }
  return released;
}

void HeaderMap::add(std::string_view name, std::string_view value) {
  Field f{};
  f.name_offset = uint32_t(storage_.size());
  f.name_size = uint32_t(name.size());
  storage_.append(name);
  f.value_offset = uint32_t(storage_.size());
  f.value_size = uint32_t(value.size());
  storage_.append(value);
  f.id = classifyHeader(name);
  f.removed = false;
  present_ |= 1u << unsigned(f.id);
  fields_.push_back(f);
  byte_size_ += name.size() + value.size();
  pending_name_offset_ = uint32_t(storage_.size());
}

void HeaderMap::appendNamePiece(std::string_view piece) {
  if (in_value_) {
    // A name after a value without finishField(): finish the previous field first.
    finishField();
  }
  storage_.append(piece);
  pending_value_offset_ = uint32_t(storage_.size());
}

void HeaderMap::appendValuePiece(std::string_view piece) {
  in_value_ = true;
  storage_.append(piece);
}

void HeaderMap::finishField() {
  Field f{};
  f.name_offset = pending_name_offset_;
  f.name_size = pending_value_offset_ - pending_name_offset_;
  std::string_view value(storage_.data() + pending_value_offset_,
                         storage_.size() - pending_value_offset_);
  std::string_view trimmed = strings::trimOws(value);
  f.value_offset = uint32_t(trimmed.data() - storage_.data());
  f.value_size = uint32_t(trimmed.size());
  f.id = classifyHeader(std::string_view(storage_.data() + f.name_offset, f.name_size));
  f.removed = false;
  present_ |= 1u << unsigned(f.id);
  fields_.push_back(f);
  byte_size_ += f.name_size + f.value_size;
  pending_name_offset_ = uint32_t(storage_.size());
  pending_value_offset_ = pending_name_offset_;
  in_value_ = false;
}

std::optional<std::string_view> HeaderMap::get(HeaderId header) const {
  if (!mayHave(header)) {
    return std::nullopt;
  }
  for (size_t i = 0; i < fields_.size(); ++i) {
    if (fields_[i].id == header && !fields_[i].removed) {
      return value(i);
    }
  }
  return std::nullopt;
}

std::optional<std::string_view> HeaderMap::get(std::string_view header_name) const {
  for (size_t i = 0; i < fields_.size(); ++i) {
    if (!fields_[i].removed && iequals(name(i), header_name)) {
      return value(i);
    }
  }
  return std::nullopt;
}

size_t HeaderMap::count(HeaderId header) const {
  if (!mayHave(header)) {
    return 0;
  }
  size_t n = 0;
  for (const Field& f : fields_) {
    n += (f.id == header && !f.removed) ? 1 : 0;
  }
  return n;
}

size_t HeaderMap::removeAll(HeaderId header) {
  size_t n = 0;
  for (Field& f : fields_) {
    if (f.id == header && !f.removed) {
      f.removed = true;
      ++n;
    }
  }
  return n;
}

size_t HeaderMap::removeAll(std::string_view header_name) {
  size_t n = 0;
  for (size_t i = 0; i < fields_.size(); ++i) {
    if (!fields_[i].removed && iequals(name(i), header_name)) {
      fields_[i].removed = true;
      ++n;
    }
  }
  return n;
}

}  // namespace vallum::http
