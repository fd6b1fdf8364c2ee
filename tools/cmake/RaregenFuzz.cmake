# libFuzzer targets (RAREGEN_FUZZ=ON, clang only).
#
#   raregen_fuzz(<target>
#     TEST <ctest name>
#     SOURCES <files...>         the fuzz entry point, plus any single library
#                                files to instrument (relative to the caller)
#     [RECOMPILE <targets...>]   libraries whose SOURCES are compiled again
#                                into the fuzzer; their LINK_LIBRARIES are linked
#     [DEPS <libs...>]           extra link libraries
#     DICT <file>
#     SECONDS <n>                -max_total_time of the ctest run
#     [SEEDS <dir>]              committed seeds, read-only beside the corpus
#     [SEED_COMMAND <cmd...>])   writes seeds; the corpus dir is appended
#
# Libraries are compiled again rather than linked: libFuzzer needs coverage
# instrumentation in the code it explores, and instrumenting the shared
# library targets would change every other target of the build. The source
# lists are read from the targets, so they cannot drift. The ctest (label
# "fuzz") runs tools/cmake/run_fuzz.cmake, which fuzzes a fresh temporary
# corpus and keeps crash reproducers in <binary dir>/artifacts.

if(RAREGEN_FUZZ)
  set(RAREGEN_FUZZ_SECONDS 30 CACHE STRING
      "How long the fuzz.tx_parse ctest runs its fuzzer (seconds)")
  set(RAREGEN_PARSER_FUZZ_SECONDS 20 CACHE STRING
      "How long the fuzz.intent, fuzz.utxo_file, fuzz.arc_answer, fuzz.tx_scan ctests run each fuzzer (seconds)")
endif()

set(_RAREGEN_FUZZ_DRIVER "${CMAKE_CURRENT_LIST_DIR}/run_fuzz.cmake")

function(raregen_fuzz target)
  cmake_parse_arguments(A "" "TEST;DICT;SECONDS;SEEDS" "SOURCES;RECOMPILE;DEPS;SEED_COMMAND" ${ARGN})
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR
      "RAREGEN_FUZZ needs clang (libFuzzer): configure with "
      "-DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14, or set RAREGEN_FUZZ=OFF")
  endif()
  foreach(arg TEST SOURCES DICT SECONDS)
    if(NOT A_${arg})
      message(FATAL_ERROR "raregen_fuzz(${target}): ${arg} is required")
    endif()
  endforeach()
  if(A_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "raregen_fuzz(${target}): unknown arguments ${A_UNPARSED_ARGUMENTS}")
  endif()

  set(sources "")
  set(deps "")
  foreach(lib IN LISTS A_RECOMPILE)
    get_target_property(lib_dir ${lib} SOURCE_DIR)
    get_target_property(lib_sources ${lib} SOURCES)
    get_target_property(lib_deps ${lib} LINK_LIBRARIES)
    foreach(src IN LISTS lib_sources)
      if(NOT IS_ABSOLUTE "${src}")
        set(src "${lib_dir}/${src}")
      endif()
      list(APPEND sources "${src}")
    endforeach()
    if(lib_deps)
      list(APPEND deps ${lib_deps})
    endif()
  endforeach()
  # A recompiled library must not also be linked: its symbols would clash.
  if(deps)
    list(REMOVE_ITEM deps ${A_RECOMPILE})
    list(REMOVE_DUPLICATES deps)
  endif()

  set(fuzz_flags -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
                 -fno-omit-frame-pointer -g)
  add_executable(${target} ${A_SOURCES} ${sources})
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_options(${target} PRIVATE ${RAREGEN_WARNINGS} ${fuzz_flags})
  target_link_options(${target} PRIVATE ${fuzz_flags})
  target_link_libraries(${target} PRIVATE ${deps} ${A_DEPS})

  get_filename_component(dict "${A_DICT}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  set(seeds "")
  if(A_SEEDS)
    get_filename_component(seeds "${A_SEEDS}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  endif()
  # SEEDS and SEED_COMMAND are always passed; empty means "none".
  add_test(NAME ${A_TEST}
    COMMAND ${CMAKE_COMMAND}
      -DNAME=${A_TEST}
      -DFUZZER=$<TARGET_FILE:${target}>
      -DDICT=${dict}
      -DARTIFACTS=${CMAKE_CURRENT_BINARY_DIR}/artifacts
      "-DFUZZ_ARGS=-max_total_time=${A_SECONDS};-rss_limit_mb=2048;-timeout=10"
      "-DSEEDS=${seeds}"
      "-DSEED_COMMAND=${A_SEED_COMMAND}"
      -P ${_RAREGEN_FUZZ_DRIVER})
  set_tests_properties(${A_TEST} PROPERTIES
    LABELS fuzz
    TIMEOUT 300)
endfunction()
