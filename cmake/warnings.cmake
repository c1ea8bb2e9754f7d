# Project-wide warning and sanitizer flags on an INTERFACE target that only our
# own targets link, so third-party headers and code are not affected.
add_library(edgeforge_flags INTERFACE)
target_compile_options(edgeforge_flags INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align
  -Wunused -Woverloaded-virtual -Wnull-dereference -Wformat=2 -Wimplicit-fallthrough)
if(EDGEFORGE_WERROR)
  target_compile_options(edgeforge_flags INTERFACE -Werror)
endif()
if(EDGEFORGE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "EDGEFORGE_FUZZ needs clang (libFuzzer): configure with CC=clang CXX=clang++")
  endif()
  # Coverage for libFuzzer in all of our code; the fuzz programs themselves
  # link -fsanitize=fuzzer (fuzz/CMakeLists.txt).
  target_compile_options(edgeforge_flags INTERFACE -fsanitize=fuzzer-no-link)
  set(EDGEFORGE_SANITIZE ON)
endif()
if(EDGEFORGE_SANITIZE)
  target_compile_options(edgeforge_flags INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_link_options(edgeforge_flags INTERFACE -fsanitize=address,undefined)
endif()
