/* LD_PRELOAD shim for wrk: make every TLS connection a full handshake.
 *
 * wrk closes a "Connection: close" connection with SSL_shutdown + SSL_clear and reuses the
 * SSL object, which keeps the session, so its next SSL_connect resumes it (TLS 1.3 PSK): no
 * certificate signature on the server. The tls-handshake workload measures a full handshake,
 * so this drops the session before each new handshake. bench/run.sh compiles it per run
 * (gcc -shared -fPIC) and sets LD_PRELOAD for wrk only; no OpenSSL headers needed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>

typedef struct ssl_st SSL;
typedef struct ssl_session_st SSL_SESSION;
int SSL_in_before(const SSL *s);
int SSL_set_session(SSL *s, SSL_SESSION *session);

int SSL_connect(SSL *s) {
    static int (*real_connect)(SSL *);
    if (real_connect == NULL) {
        real_connect = (int (*)(SSL *))dlsym(RTLD_NEXT, "SSL_connect");
    }
    if (SSL_in_before(s)) {
        /* Not started yet: forget the previous connection's session. */
        SSL_set_session(s, NULL);
    }
    return real_connect(s);
}
