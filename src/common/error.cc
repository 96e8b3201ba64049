#include "common/error.h"

#include <stdexcept>

namespace vallum {

std::string_view errcName(Errc code) {
  switch (code) {
    case Errc::Ok:
      return "ok";
    case Errc::InvalidArgument:
      return "invalid_argument";
    case Errc::NotFound:
      return "not_found";
    case Errc::NotSupported:
      return "not_supported";
    case Errc::ParseError:
      return "parse_error";
    case Errc::ConnectFailed:
      return "connect_failed";
    case Errc::ConnectionClosed:
      return "connection_closed";
    case Errc::ConnectionReset:
      return "connection_reset";
    case Errc::Timeout:
      return "timeout";
    case Errc::ProtocolError:
      return "protocol_error";
    case Errc::TlsError:
      return "tls_error";
    case Errc::ResourceExhausted:
      return "resource_exhausted";
    case Errc::Internal:
      return "internal";
  }
  return "unknown";
}

bool Error::retryable() const {
  switch (code_) {
    case Errc::ConnectFailed:
    case Errc::ConnectionClosed:
    case Errc::ConnectionReset:
    case Errc::Timeout:
      return true;
    default:
      return false;
  }
}

std::string Error::toString() const {
  std::string out(errcName(code_));
  if (!detail_.empty()) {
    out += ": ";
    out += detail_;
  }
  return out;
}

void throw_exception_from_error(const Error& error, const boost::source_location&) {
  throw std::runtime_error(error.toString());
}

}  // namespace vallum
