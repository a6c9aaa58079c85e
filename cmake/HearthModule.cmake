# hearth_module(NAME DEPS dep1 dep2 ... [LIBS extra-link-libs...])
# Defines static library hearth_<NAME> from every .cc file in src/hearth/<NAME>/ except
# *_fuzz.cc and *_main.cc. Public headers sit beside the sources and are included as
# "hearth/<NAME>/header.h".
function(hearth_module name)
  cmake_parse_arguments(ARG "" "" "DEPS;LIBS" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cc)
  list(FILTER sources EXCLUDE REGEX "(_fuzz|_main)\\.cc$")
  if(NOT sources)
    message(STATUS "module ${name}: no sources yet, skipped")
    return()
  endif()
  add_library(hearth_${name} STATIC ${sources})
  target_include_directories(hearth_${name} PUBLIC ${HEARTH_SOURCE_ROOT}/src)
  foreach(dep IN LISTS ARG_DEPS)
    target_link_libraries(hearth_${name} PUBLIC hearth_${dep})
  endforeach()
  target_link_libraries(hearth_${name} PUBLIC ${ARG_LIBS})
endfunction()

# hearth_module_tests(NAME) builds tests/<NAME>/*.cc into one GoogleTest binary
# hearth_<NAME>_tests linked against hearth_<NAME> and registers each test with CTest.
function(hearth_module_tests name)
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${name}/*.cc)
  if(NOT sources OR NOT TARGET hearth_${name})
    return()
  endif()
  add_executable(hearth_${name}_tests ${sources})
  target_link_libraries(hearth_${name}_tests PRIVATE hearth_${name} hearth_test_support
                        GTest::gtest GTest::gmock GTest::gtest_main)
  gtest_discover_tests(hearth_${name}_tests DISCOVERY_TIMEOUT 60
                       PROPERTIES LABELS unit)
endfunction()
