#pragma once
// Counts heap allocations on every thread, at the C level: malloc, calloc,
// realloc, aligned_alloc, posix_memalign and memalign, so it sees operator
// new (which calls malloc) and C libraries (OpenSSL, libsecp256k1) alike.
//
// Linking raregen_test_support replaces those functions in the test binary
// with counting wrappers around glibc's own (__libc_malloc...). Sanitizer
// builds keep the sanitizer's allocator instead: there available() is false
// and tests skip their allocation checks.

#include <cstdint>

namespace raregen::test {

// True if allocations are being counted in this build.
bool alloc_counting_available();
// Starts counting from zero.
void start_counting_allocations();
// Stops counting and returns how many allocations happened since start.
std::uint64_t stop_counting_allocations();

}  // namespace raregen::test
