#pragma once

#include <string>
#include <string_view>
#include <utility>

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

namespace vallum {

/// What went wrong, independent of where it was detected. Codes are stable: access logs and
/// metrics use errcName().
enum class Errc {
  Ok = 0,
  InvalidArgument,    ///< malformed input (config value, request field)
  NotFound,           ///< a file, route or key is missing
  NotSupported,       ///< recognized but not implemented
  ParseError,         ///< syntax error in YAML, PEM, URL, HTTP
  ConnectFailed,      ///< upstream connect refused/unreachable/timed out
  ConnectionClosed,   ///< peer closed before the exchange completed
  ConnectionReset,    ///< peer reset the connection
  Timeout,            ///< a deadline expired
  ProtocolError,      ///< a peer broke HTTP framing
  TlsError,           ///< handshake or certificate failure
  ResourceExhausted,  ///< a limit was reached (header size, buffers)
  Internal,           ///< a bug or an unexpected library failure
};

/// Which side of the proxy an error comes from (docs/architecture.md §5).
enum class ErrorSource { Downstream, Upstream, Internal, Config };

/// Short stable name of a code ("connect_failed").
std::string_view errcName(Errc code);

/// A failure with its origin and a human-readable detail. Cheap to move; never thrown on the
/// data plane (see Result).
class Error {
 public:
  Error() = default;
  Error(Errc code, ErrorSource source, std::string detail)
      : code_(code), source_(source), detail_(std::move(detail)) {}

  Errc code() const { return code_; }
  ErrorSource source() const { return source_; }
  const std::string& detail() const { return detail_; }

  /// True when repeating the same operation (on a fresh connection) may succeed.
  bool retryable() const;

  /// "connect_failed: connection refused" — for logs.
  std::string toString() const;

 private:
  Errc code_ = Errc::Internal;
  ErrorSource source_ = ErrorSource::Internal;
  std::string detail_;
};

/// Value-or-Error. boost::system::result with our Error (Boost 1.81).
template <class T>
using Result = boost::system::result<T, Error>;

/// Called by Result<T>::value() on an error; throws std::runtime_error. Only control-plane code
/// may call value() without checking has_value() first.
[[noreturn]] void throw_exception_from_error(const Error& error,
                                             const boost::source_location& location);

inline Error configError(std::string detail) {
  return Error(Errc::InvalidArgument, ErrorSource::Config, std::move(detail));
}

}  // namespace vallum
