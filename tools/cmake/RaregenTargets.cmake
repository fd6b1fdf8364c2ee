# Helpers that give every raregen target the same flags.
#
#   raregen_library(NAME SOURCES... [DEPS targets...])
#   raregen_executable(NAME SOURCES... [DEPS targets...])
#   raregen_test(NAME SOURCES... [DEPS targets...])   GoogleTest, registered with ctest (label "unit")
#   raregen_bench(NAME SOURCES... [DEPS targets...])                     Google Benchmark
#   raregen_fuzz(...)  libFuzzer target + ctest: see RaregenFuzz.cmake
# Includes are rooted at the repository: #include "engine/chain/tx.h".

set(RAREGEN_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion)
if(RAREGEN_WERROR)
  list(APPEND RAREGEN_WARNINGS -Werror)
endif()

function(_raregen_common target)
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(${target} PRIVATE ${RAREGEN_WARNINGS})
endfunction()

function(raregen_library name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${A_SOURCES} ${A_UNPARSED_ARGUMENTS})
  _raregen_common(${name})
  target_link_libraries(${name} PUBLIC ${A_DEPS})
endfunction()

function(_raregen_link_allocator target)
  if(RAREGEN_MIMALLOC)
    # Linked first so its malloc/free (and new/delete) take precedence.
    target_link_libraries(${target} PRIVATE mimalloc)
  endif()
endfunction()

function(raregen_executable name)
  cmake_parse_arguments(A "" "OUTPUT_NAME" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${A_SOURCES} ${A_UNPARSED_ARGUMENTS})
  _raregen_common(${name})
  _raregen_link_allocator(${name})
  target_link_libraries(${name} PRIVATE ${A_DEPS})
  if(A_OUTPUT_NAME)
    set_target_properties(${name} PROPERTIES OUTPUT_NAME ${A_OUTPUT_NAME})
  endif()
endfunction()

function(raregen_test name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${A_SOURCES} ${A_UNPARSED_ARGUMENTS})
  _raregen_common(${name})
  target_link_libraries(${name} PRIVATE ${A_DEPS} GTest::gtest GTest::gtest_main GTest::gmock)
  # One translation unit per test binary: GoogleTest's and the JSON library's
  # headers are compiled once per binary instead of once per file (each of
  # the three CI builds compiles every test).
  set_target_properties(${name} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE 0)
  target_compile_definitions(${name} PRIVATE
    RAREGEN_TESTDATA_DIR="${PROJECT_SOURCE_DIR}/tests/data")
  # Every discovered GoogleTest case carries the one label "unit" (CI runs
  # the sanitizer builds with -L unit). gtest_discover_tests cannot pass a
  # list-valued LABELS, so LABELS given here only document the target; select
  # a folder's tests with -R (test names are Suite.Case).
  set(env "")
  if(RAREGEN_SANITIZE MATCHES "thread")
    set(env ENVIRONMENT
      "TSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tools/sanitizers/tsan.supp halt_on_error=1")
  endif()
  # TIMEOUT: the longest case takes about 90 s under TSan; a hung one fails
  # after 10 minutes instead of ctest's default 25 (CI has 90 in all).
  gtest_discover_tests(${name}
    PROPERTIES LABELS unit TIMEOUT 600 ${env}
    DISCOVERY_TIMEOUT 60)
endfunction()

function(raregen_bench name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${A_SOURCES} ${A_UNPARSED_ARGUMENTS})
  _raregen_common(${name})
  _raregen_link_allocator(${name})
  target_link_libraries(${name} PRIVATE ${A_DEPS} benchmark::benchmark benchmark::benchmark_main)
endfunction()
