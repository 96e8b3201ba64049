# Debian 12 packages only (docs/architecture.md §7), installed by scripts/install-deps.sh.
find_package(Boost 1.81.0 EXACT REQUIRED CONFIG COMPONENTS url)
find_package(OpenSSL 3 REQUIRED)
find_package(spdlog REQUIRED CONFIG)
find_package(fmt REQUIRED CONFIG)
find_package(nlohmann_json 3 REQUIRED CONFIG)
find_package(CLI11 REQUIRED CONFIG)
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(YAML REQUIRED IMPORTED_TARGET yaml-0.1)
pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET re2)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
pkg_check_modules(NGHTTP2 REQUIRED IMPORTED_TARGET libnghttp2)
if(VALLUM_BUILD_TESTS)
  find_package(GTest REQUIRED CONFIG)
  include(GoogleTest)
endif()
if(VALLUM_BUILD_BENCH)
  find_package(benchmark REQUIRED CONFIG)
endif()

# llhttp: Debian's node-llhttp ships the C sources; compile them into a static target with
# the strict defaults (no lenient flags are ever turned on).
set(LLHTTP_SOURCE_DIR /usr/share/llhttp)
set(LLHTTP_INCLUDE_DIR /usr/share/include/llhttp)
if(NOT EXISTS ${LLHTTP_SOURCE_DIR}/llhttp.c)
  message(FATAL_ERROR "llhttp sources not found in ${LLHTTP_SOURCE_DIR}: run scripts/install-deps.sh")
endif()
add_library(llhttp STATIC ${LLHTTP_SOURCE_DIR}/api.c ${LLHTTP_SOURCE_DIR}/http.c ${LLHTTP_SOURCE_DIR}/llhttp.c)
target_include_directories(llhttp SYSTEM PUBLIC ${LLHTTP_INCLUDE_DIR})
set_target_properties(llhttp PROPERTIES C_STANDARD 99 POSITION_INDEPENDENT_CODE ON)
target_compile_options(llhttp PRIVATE -O2 -w)
# llhttp's generated parser has an SSE4.2 path (`#ifdef __SSE4_2__`, _mm_cmpestri) that scans
# header values 16 bytes at a time instead of one table lookup per byte: a request with a 3 KB
# session cookie costs ~17k fewer instructions (bench/RESULTS.md). x86-64 only; the binary then
# needs an x86-64-v2 CPU (SSE4.2, every x86-64 CPU since 2008–2011), which main() checks.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  target_compile_options(llhttp PRIVATE -msse4.2)
endif()

# Asio's per-thread recycling allocator keeps this many freed blocks per purpose; the default
# of 2 is smaller than our coroutine nesting depth, which turned every request's frames into
# malloc/free pairs (measured with callgrind). Must be the same in every translation unit.
add_compile_definitions(BOOST_ASIO_RECYCLING_ALLOCATOR_CACHE_SIZE=8)

# Metrics (docs/architecture.md §6): prometheus-cpp core (TextSerializer) and pull (Exposer, civetweb).
find_package(prometheus-cpp CONFIG REQUIRED)
