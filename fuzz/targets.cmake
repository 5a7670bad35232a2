# The fuzz targets and their sources (fuzz/<target>.cpp unless named here). Shared by
# fuzz/CMakeLists.txt (the libFuzzer builds) and fuzz/replay.cmake (the ctest replay of
# each target's corpus and regressions with the ordinary compiler).
set(SUPERVISE_FUZZ_TARGETS
  spec_yaml spec_json duration exit_actions checkpoint_option cli store_url base64)
foreach(name IN LISTS SUPERVISE_FUZZ_TARGETS)
  set(SUPERVISE_FUZZ_SOURCE_${name} ${CMAKE_CURRENT_LIST_DIR}/${name}.cpp)
endforeach()
# The spec loader twice: every input, and JSON inputs only.
set(SUPERVISE_FUZZ_SOURCE_spec_yaml ${CMAKE_CURRENT_LIST_DIR}/spec_loader.cpp)
set(SUPERVISE_FUZZ_SOURCE_spec_json ${CMAKE_CURRENT_LIST_DIR}/spec_loader.cpp)
set(SUPERVISE_FUZZ_DEFINES_spec_json SUPERVISE_FUZZ_JSON)
