set(VALLUM_SANITIZE "" CACHE STRING "Comma-separated -fsanitize= list (asan preset: address,undefined)")
if(VALLUM_SANITIZE)
  add_compile_options(-fsanitize=${VALLUM_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${VALLUM_SANITIZE})
endif()

# Fuzzing (fuzz preset, clang only): every library gets libFuzzer's coverage instrumentation and
# ASan/UBSan; the fuzz executables link libFuzzer's main (fuzz/CMakeLists.txt). UBSan findings
# abort, so libFuzzer records them as crashes.
option(VALLUM_FUZZ "Build the libFuzzer targets of fuzz/ (clang; fuzz preset)" OFF)
if(VALLUM_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "VALLUM_FUZZ needs clang (libFuzzer): use the fuzz preset")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=all)
  add_link_options(-fsanitize=address,undefined)
endif()
