# Run by ctest (tests/CMakeLists.txt): builds and runs tests/consumer the
# ways users consume prevayler-cpp.
#   MODE=package       the installed build, find_package(prevayler) with
#                      curl, nlohmann-json and pugixml hidden (the file-only
#                      package must not need them; it needs OpenSSL's
#                      libcrypto for encryption at rest), and pkg-config
#   MODE=aws           the installed build, find_package(prevayler COMPONENTS
#                      aws), and pkg-config prevayler-aws
#   MODE=subdirectory  the source tree, add_subdirectory, both targets
#   MODE=shared        a BUILD_SHARED_LIBS=ON build of the libraries and tools,
#                      installed, used through find_package and pkg-config
# Arguments: MODE, SOURCE_DIR, BINARY_DIR (the build under test), CXX (its
# compiler), LAUNCHER (its compiler launcher, e.g. ccache, or empty) and
# WITH_AWS (its PREVAYLER_WITH_AWS). Without AWS, package also checks that
# the aws component is refused clearly, and subdirectory hides the AWS
# dependencies as package does.
set(work ${BINARY_DIR}/consumer-${MODE})
file(REMOVE_RECURSE ${work})
set(prefix ${work}/prefix)
set(no_aws_packages -DCMAKE_DISABLE_FIND_PACKAGE_CURL=ON
  -DCMAKE_DISABLE_FIND_PACKAGE_nlohmann_json=ON -DCMAKE_DISABLE_FIND_PACKAGE_pugixml=ON)
set(common_args -DCMAKE_CXX_COMPILER=${CXX})
if(LAUNCHER)
  list(APPEND common_args -DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER})
  # Objects compiled with the same command in another build directory are
  # reused (ccache hashes the working directory of -g builds by default).
  set(ENV{CCACHE_NOHASHDIR} 1)
endif()

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "consumer-${MODE}: ${what} failed (${rc})")
  endif()
endfunction()

function(install_build build_dir)
  run("installing ${build_dir}" ${CMAKE_COMMAND} --install ${build_dir} --prefix ${prefix})
endfunction()

# Builds tests/consumer with the extra configure arguments and runs what it built.
function(build_consumer)
  run("configuring the consumer" ${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/consumer
    -B ${work}/build ${common_args} ${ARGN})
  run("building the consumer" ${CMAKE_COMMAND} --build ${work}/build -j2)
  run("the consumer (it must recover its state)" ${work}/build/consumer ${work}/data)
  if(EXISTS ${work}/build/consumer_aws)
    run("the AWS consumer" ${work}/build/consumer_aws)
  endif()
endfunction()

# Compiles one consumer source with the flags pkg-config gives for PACKAGE.
function(build_with_pkg_config package source)
  set(ENV{PKG_CONFIG_PATH} "${prefix}/lib/pkgconfig:${prefix}/lib64/pkgconfig")
  execute_process(COMMAND pkg-config --cflags --libs ${package}
    OUTPUT_VARIABLE flags OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "consumer-${MODE}: pkg-config ${package} failed")
  endif()
  execute_process(COMMAND pkg-config --variable=libdir ${package}
    OUTPUT_VARIABLE libdir OUTPUT_STRIP_TRAILING_WHITESPACE)
  separate_arguments(flags UNIX_COMMAND "${flags}")
  set(program ${work}/pkg-config-${package})
  run("compiling ${source} with pkg-config ${package}" ${CXX} -std=c++20
    ${SOURCE_DIR}/tests/consumer/${source} -o ${program} ${flags} -Wl,-rpath,${libdir})
  run("the pkg-config ${package} program" ${program} ${work}/pkg-config-data)
endfunction()

if(MODE STREQUAL "package")
  install_build(${BINARY_DIR})
  build_consumer(-DCMAKE_PREFIX_PATH=${prefix} ${no_aws_packages})
  build_with_pkg_config(prevayler main.cpp)
  if(NOT WITH_AWS)
    execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/consumer -B ${work}/build-aws
      ${common_args} -DCMAKE_PREFIX_PATH=${prefix} -DCONSUMER_AWS=ON
      RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
    if(NOT rc OR NOT out MATCHES "built without the AWS storage")
      message(FATAL_ERROR "consumer-package: find_package(prevayler COMPONENTS aws) on a build "
        "without AWS must fail saying so; it said:\n${out}")
    endif()
  endif()
elseif(MODE STREQUAL "aws")
  install_build(${BINARY_DIR})
  build_consumer(-DCMAKE_PREFIX_PATH=${prefix} -DCONSUMER_AWS=ON)
  build_with_pkg_config(prevayler-aws main_aws.cpp)
elseif(MODE STREQUAL "subdirectory")
  if(WITH_AWS)
    build_consumer(-DPREVAYLER_SOURCE_TREE=${SOURCE_DIR} -DCONSUMER_AWS=ON)
  else()
    build_consumer(-DPREVAYLER_SOURCE_TREE=${SOURCE_DIR} -DPREVAYLER_WITH_AWS=OFF ${no_aws_packages})
  endif()
elseif(MODE STREQUAL "shared")
  # Only the libraries and the tools: the rest is the same code as the
  # build under test.
  run("configuring the shared build" ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${work}/lib ${common_args}
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_SHARED_LIBS=ON -DPREVAYLER_INSTALL=ON
    -DPREVAYLER_BUILD_TESTS=OFF -DPREVAYLER_BUILD_EXAMPLES=OFF -DPREVAYLER_BUILD_BENCH=OFF)
  run("building the shared libraries" ${CMAKE_COMMAND} --build ${work}/lib -j2)
  install_build(${work}/lib)
  file(GLOB shared_libraries ${prefix}/lib*/libprevayler*.so.*)
  list(LENGTH shared_libraries count)
  if(count EQUAL 0)
    message(FATAL_ERROR "consumer-shared: no versioned libprevayler*.so.* installed")
  endif()
  # The installed command finds the installed libraries (its RPATH).
  run("the installed prevayler command" ${prefix}/bin/prevayler --help)
  build_consumer(-DCMAKE_PREFIX_PATH=${prefix} -DCONSUMER_AWS=ON)
  build_with_pkg_config(prevayler-aws main_aws.cpp)
else()
  message(FATAL_ERROR "MODE must be package, aws, subdirectory or shared")
endif()
