#include "tls/openssl_error.h"

#include <openssl/err.h>

namespace vallum::tls {

std::string takeOpensslError(std::string what) {
  unsigned long code = ERR_get_error();
  if (code != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    what += ": ";
    what += buf;
  }
  ERR_clear_error();
  return what;
}

}  // namespace vallum::tls
