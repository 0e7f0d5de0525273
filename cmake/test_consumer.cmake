# Run by ctest: installs the build into a scratch prefix, then builds and
# runs tests/consumer against it (MODE=package) or against the source tree
# (MODE=subdirectory).
set(work ${BINARY_DIR}/consumer-${MODE})
file(REMOVE_RECURSE ${work})
if(MODE STREQUAL "package")
  execute_process(COMMAND ${CMAKE_COMMAND} --install ${BINARY_DIR} --prefix ${work}/prefix
    RESULT_VARIABLE rc OUTPUT_QUIET)
  if(rc)
    message(FATAL_ERROR "install failed")
  endif()
  set(configure_args -DCMAKE_PREFIX_PATH=${work}/prefix)
else()
  set(configure_args -DPREVAYLER_SOURCE_TREE=${SOURCE_DIR})
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/consumer -B ${work}/build
  ${configure_args} RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "configuring the consumer failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${work}/build -j2 RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "building the consumer failed")
endif()
execute_process(COMMAND ${work}/build/consumer ${work}/data RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "the consumer did not recover its state")
endif()
