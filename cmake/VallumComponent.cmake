# vallum_add_component(NAME upstream SOURCES a.cc b.cc DEPS vallum::network PUBLIC_DEPS Boost::headers)
#   Builds the static library vallum_<NAME> (alias vallum::<NAME>) with include root src/.
#   DEPS are private; PUBLIC_DEPS are types that appear in the component's public headers.
function(vallum_add_component)
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;DEPS;PUBLIC_DEPS" ${ARGN})
  set(target vallum_${ARG_NAME})
  add_library(${target} STATIC ${ARG_SOURCES})
  add_library(vallum::${ARG_NAME} ALIAS ${target})
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${target} PRIVATE vallum_warnings ${ARG_DEPS} PUBLIC ${ARG_PUBLIC_DEPS})
endfunction()

# vallum_add_test(NAME config SOURCES ... DEPS vallum::config LABELS unit)
#   One GoogleTest executable per component, registered with ctest (label "unit" by default).
function(vallum_add_test)
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;DEPS;LABELS" ${ARGN})
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  set(target ${ARG_NAME}_test)
  add_executable(${target} ${ARG_SOURCES})
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  target_link_libraries(${target} PRIVATE vallum_warnings ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  gtest_discover_tests(${target} PROPERTIES LABELS "${ARG_LABELS}"
                       DISCOVERY_TIMEOUT 60)
endfunction()

# vallum_add_fuzzer(NAME http1_request DEPS vallum::http)
#   fuzz/<NAME>_fuzz.cc defines LLVMFuzzerTestOneInput; fuzz/corpus/<NAME>/ is its corpus.
#   VALLUM_FUZZ (fuzz preset, clang): executable <NAME>_fuzz with libFuzzer's main, built by the
#   custom target `fuzz`. Otherwise, with tests: executable <NAME>_fuzz_replay (the same source
#   and fuzz/replay_main.cc) that runs every corpus file once, registered in ctest as
#   fuzz_replay.<NAME> with labels unit and fuzz.
function(vallum_add_fuzzer)
  cmake_parse_arguments(ARG "" "NAME" "DEPS" ${ARGN})
  set(dir ${PROJECT_SOURCE_DIR}/fuzz)
  if(VALLUM_FUZZ)
    set(target ${ARG_NAME}_fuzz)
    add_executable(${target} ${dir}/${ARG_NAME}_fuzz.cc)
    target_link_options(${target} PRIVATE -fsanitize=fuzzer,address,undefined)
    add_dependencies(fuzz ${target})
  elseif(VALLUM_BUILD_TESTS)
    set(target ${ARG_NAME}_fuzz_replay)
    add_executable(${target} ${dir}/${ARG_NAME}_fuzz.cc ${dir}/replay_main.cc)
    add_test(NAME fuzz_replay.${ARG_NAME} COMMAND ${target} ${dir}/corpus/${ARG_NAME})
    set_tests_properties(fuzz_replay.${ARG_NAME} PROPERTIES LABELS "unit;fuzz")
  else()
    return()
  endif()
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${target} PRIVATE vallum_warnings ${ARG_DEPS})
endfunction()
