# Warnings are errors-to-be: the project builds clean with these on.
function(bpt_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wconversion)
endfunction()
