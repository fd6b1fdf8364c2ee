# ctest driver for fuzz.arc_answer (cmake -P): runs the fuzzer with a fresh
# temporary directory as its working corpus (new inputs go there) and the
# committed seeds/ read-only beside it, then removes the directory. Crash
# reproducers go to ARTIFACTS so they outlive the run.
#
# Variables: FUZZER, SEEDS, DICT, ARTIFACTS, FUZZ_ARGS (a ;-list of libFuzzer
# flags).
foreach(v FUZZER SEEDS DICT ARTIFACTS)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "run_fuzz.cmake: pass -D${v}=...")
  endif()
endforeach()

if(DEFINED ENV{TMPDIR} AND IS_DIRECTORY "$ENV{TMPDIR}")
  set(tmp_root "$ENV{TMPDIR}")
else()
  set(tmp_root "/tmp")
endif()
string(RANDOM LENGTH 12 suffix)
set(corpus "${tmp_root}/raregen_fuzz.arc_answer_${suffix}")
file(MAKE_DIRECTORY "${corpus}" "${ARTIFACTS}")

execute_process(COMMAND "${FUZZER}" ${FUZZ_ARGS} "-dict=${DICT}" "-artifact_prefix=${ARTIFACTS}/"
                        -print_final_stats=1 "${corpus}" "${SEEDS}"
                RESULT_VARIABLE fuzz_rc)
file(REMOVE_RECURSE "${corpus}")
if(NOT fuzz_rc EQUAL 0)
  message(FATAL_ERROR
    "the fuzzer found a failing input (exit ${fuzz_rc}); the reproducer is in ${ARTIFACTS}/: "
    "replay it with ${FUZZER} <file>")
endif()
