# Included by tests/CMakeLists.txt: each fuzz target built with the ordinary compiler and
# fuzz/replay_main.cpp, replaying its seed corpus (fuzz/corpus/<target>/) and the inputs
# that once crashed it (fuzz/regressions/<target>/). ctest label `fuzz`.
include(${CMAKE_CURRENT_LIST_DIR}/targets.cmake)
foreach(name IN LISTS SUPERVISE_FUZZ_TARGETS)
  add_executable(fuzz_replay_${name} ${SUPERVISE_FUZZ_SOURCE_${name}} ${CMAKE_CURRENT_LIST_DIR}/replay_main.cpp)
  target_include_directories(fuzz_replay_${name} PRIVATE ${CMAKE_CURRENT_LIST_DIR})
  target_compile_definitions(fuzz_replay_${name} PRIVATE ${SUPERVISE_FUZZ_DEFINES_${name}})
  target_link_libraries(fuzz_replay_${name} PRIVATE supervise_core)
  add_test(NAME fuzz.replay.${name}
    COMMAND fuzz_replay_${name} ${CMAKE_CURRENT_LIST_DIR}/corpus/${name}
            --optional ${CMAKE_CURRENT_LIST_DIR}/regressions/${name})
  set_tests_properties(fuzz.replay.${name} PROPERTIES LABELS fuzz TIMEOUT 120)
endforeach()
