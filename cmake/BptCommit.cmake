# Writes OUT, a header defining BPT_COMMIT: the commit the sources in SRC are at (git rev-parse --short),
# "+changes" when the sources that make the binary (src, include, CMakeLists.txt, cmake) differ from it,
# "unknown" outside a git checkout. Run at every build (cmake -DSRC=... -DOUT=... -P BptCommit.cmake);
# OUT is rewritten only when the text changes, so an unchanged commit rebuilds nothing.
execute_process(COMMAND git -C "${SRC}" rev-parse --short=7 HEAD
                OUTPUT_VARIABLE commit RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(rc OR commit STREQUAL "")
  set(commit unknown)
else()
  execute_process(COMMAND git -C "${SRC}" diff --quiet HEAD -- src include CMakeLists.txt cmake
                  RESULT_VARIABLE changed ERROR_QUIET)
  if(changed)
    string(APPEND commit "+changes")
  endif()
endif()
file(WRITE "${OUT}.tmp" "// Written by cmake/BptCommit.cmake at build time.\n#define BPT_COMMIT \"${commit}\"\n")
execute_process(COMMAND "${CMAKE_COMMAND}" -E copy_if_different "${OUT}.tmp" "${OUT}")
file(REMOVE "${OUT}.tmp")
