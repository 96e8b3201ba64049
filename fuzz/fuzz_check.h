#pragma once

#include <cstdio>
#include <cstdlib>

/// FUZZ_CHECK(cond): an invariant of a fuzz target. Unlike assert() it stays on in release
/// builds (the ctest corpus replay is built RelWithDebInfo) and aborts, which libFuzzer records
/// as a crash with the input that caused it.
#define FUZZ_CHECK(cond)                                                                     \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (false)
