# ctest driver for the fuzz.* tests (cmake -P), registered by raregen_fuzz()
# in RaregenFuzz.cmake. Runs the fuzzer with a fresh temporary directory as
# its working corpus (new inputs go there), then removes the directory. Crash
# reproducers go to ARTIFACTS so they outlive the run.
#
# Variables:
#   NAME          the ctest name (names the temporary corpus)
#   FUZZER        the fuzzer executable
#   DICT          libFuzzer dictionary
#   ARTIFACTS     directory for crash reproducers
#   FUZZ_ARGS     a ;-list of libFuzzer flags
#   SEEDS         optional: a committed seed directory, passed read-only after
#                 the corpus
#   SEED_COMMAND  optional: a ;-list command that writes seeds into the corpus
#                 first; the corpus directory is appended as its last argument
foreach(v NAME FUZZER DICT ARTIFACTS FUZZ_ARGS)
  if(NOT DEFINED ${v} OR "${${v}}" STREQUAL "")
    message(FATAL_ERROR "run_fuzz.cmake: pass -D${v}=...")
  endif()
endforeach()

if(DEFINED ENV{TMPDIR} AND IS_DIRECTORY "$ENV{TMPDIR}")
  set(tmp_root "$ENV{TMPDIR}")
else()
  set(tmp_root "/tmp")
endif()
string(MAKE_C_IDENTIFIER "${NAME}" safe_name)
string(RANDOM LENGTH 12 suffix)
set(corpus "${tmp_root}/raregen_${safe_name}_${suffix}")
file(MAKE_DIRECTORY "${corpus}" "${ARTIFACTS}")

if(NOT "${SEED_COMMAND}" STREQUAL "")
  execute_process(COMMAND ${SEED_COMMAND} "${corpus}" RESULT_VARIABLE seed_rc)
  if(NOT seed_rc EQUAL 0)
    file(REMOVE_RECURSE "${corpus}")
    list(JOIN SEED_COMMAND " " seed_cmdline)
    message(FATAL_ERROR
      "${NAME}: seed generation failed (${seed_rc}): run `${seed_cmdline} DIR` by hand to see why")
  endif()
endif()

set(seed_dirs "")
if(NOT "${SEEDS}" STREQUAL "")
  if(NOT IS_DIRECTORY "${SEEDS}")
    file(REMOVE_RECURSE "${corpus}")
    message(FATAL_ERROR "${NAME}: the seed directory ${SEEDS} does not exist: restore it or drop SEEDS")
  endif()
  set(seed_dirs "${SEEDS}")
endif()

execute_process(COMMAND "${FUZZER}" ${FUZZ_ARGS} "-dict=${DICT}" "-artifact_prefix=${ARTIFACTS}/"
                        -print_final_stats=1 "${corpus}" ${seed_dirs}
                RESULT_VARIABLE fuzz_rc)
file(REMOVE_RECURSE "${corpus}")
if(NOT fuzz_rc EQUAL 0)
  message(FATAL_ERROR
    "${NAME}: the fuzzer found a failing input (exit ${fuzz_rc}); the reproducer is in ${ARTIFACTS}/: "
    "replay it with ${FUZZER} <file>")
endif()
