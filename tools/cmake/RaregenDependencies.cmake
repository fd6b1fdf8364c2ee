# Finds every package of raregen's stack. Each failure names the Debian
# package to install (tools/setup/install-deps.sh installs them all).
find_package(PkgConfig QUIET)

macro(raregen_require found pkg what)
  if(NOT ${found})
    message(FATAL_ERROR
      "raregen needs ${what}: install the Debian package '${pkg}' "
      "(or run: sudo tools/setup/install-deps.sh)")
  endif()
endmacro()

if(NOT PkgConfig_FOUND)
  message(FATAL_ERROR "raregen needs pkg-config: install the Debian package 'pkg-config'")
endif()

find_package(Threads REQUIRED)

find_package(OpenSSL QUIET)
raregen_require(OpenSSL_FOUND libssl-dev "OpenSSL (hashing, CSPRNG)")

pkg_check_modules(SECP256K1 QUIET IMPORTED_TARGET libsecp256k1)
raregen_require(SECP256K1_FOUND libsecp256k1-dev "libsecp256k1 (ECDSA)")

find_path(CONCURRENTQUEUE_INCLUDE_DIR concurrentqueue.h PATH_SUFFIXES concurrentqueue)
raregen_require(CONCURRENTQUEUE_INCLUDE_DIR libconcurrentqueue-dev "moodycamel ConcurrentQueue")
add_library(raregen_concurrentqueue INTERFACE)
target_include_directories(raregen_concurrentqueue SYSTEM INTERFACE ${CONCURRENTQUEUE_INCLUDE_DIR})

pkg_check_modules(LIBPQ QUIET IMPORTED_TARGET libpq)
raregen_require(LIBPQ_FOUND libpq-dev "libpq (PostgreSQL client)")

find_package(simdjson QUIET CONFIG)
raregen_require(simdjson_FOUND libsimdjson-dev "simdjson (JSON parsing)")

find_package(mimalloc QUIET CONFIG)
raregen_require(mimalloc_FOUND libmimalloc-dev "mimalloc (allocator)")

find_package(CURL QUIET)
raregen_require(CURL_FOUND libcurl4-openssl-dev "libcurl (HTTP)")

pkg_check_modules(HTTPLIB QUIET IMPORTED_TARGET cpp-httplib)
raregen_require(HTTPLIB_FOUND libcpp-httplib-dev "cpp-httplib (HTTP server: local ARC network, callbacks)")

find_package(CLI11 QUIET CONFIG)
raregen_require(CLI11_FOUND libcli11-dev "CLI11 (command-line parsing)")

find_package(nlohmann_json QUIET CONFIG)
raregen_require(nlohmann_json_FOUND nlohmann-json3-dev "nlohmann-json (JSON output)")

if(RAREGEN_TESTS)
  find_package(GTest QUIET CONFIG)
  raregen_require(GTest_FOUND "libgtest-dev libgmock-dev" "GoogleTest")
  include(GoogleTest)
endif()
if(RAREGEN_BENCH)
  find_package(benchmark QUIET CONFIG)
  raregen_require(benchmark_FOUND libbenchmark-dev "Google Benchmark")
endif()
