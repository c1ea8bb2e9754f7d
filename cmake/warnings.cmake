# Project-wide warning and sanitizer flags on an INTERFACE target that only our
# own targets link, so third-party headers and code are not affected.
add_library(edgeforge_flags INTERFACE)
target_compile_options(edgeforge_flags INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align
  -Wunused -Woverloaded-virtual -Wnull-dereference -Wformat=2 -Wimplicit-fallthrough)
if(EDGEFORGE_WERROR)
  target_compile_options(edgeforge_flags INTERFACE -Werror)
endif()
if(EDGEFORGE_SANITIZE)
  target_compile_options(edgeforge_flags INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_link_options(edgeforge_flags INTERFACE -fsanitize=address,undefined)
endif()
