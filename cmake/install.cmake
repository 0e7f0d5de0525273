# Install rules, the CMake package and the pkg-config files, so that
#   find_package(prevayler REQUIRED)                  -> prevayler::prevayler
#   find_package(prevayler REQUIRED COMPONENTS aws)   -> prevayler::aws too
#   pkg-config --cflags --libs prevayler | prevayler-aws
# work against an installed prevayler-cpp. The file-only package needs
# Threads, cereal, zstd and OpenSSL (libcrypto); the aws component adds curl
# and pugixml.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(PREVAYLER_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/prevayler)
set(PREVAYLER_PKGCONFIG_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# A shared libprevayler-aws finds libprevayler beside it; the prevayler command finds both.
if(BUILD_SHARED_LIBS)
  file(RELATIVE_PATH bin_to_lib /prefix/${CMAKE_INSTALL_BINDIR} /prefix/${CMAKE_INSTALL_LIBDIR})
  foreach(tool prevayler-cli)
    if(TARGET ${tool})
      set_target_properties(${tool} PROPERTIES INSTALL_RPATH "$ORIGIN/${bin_to_lib}")
    endif()
  endforeach()
  if(TARGET prevayler_aws)
    set_target_properties(prevayler_aws PROPERTIES INSTALL_RPATH "$ORIGIN")
  endif()
endif()

set_target_properties(prevayler PROPERTIES EXPORT_NAME prevayler)
install(TARGETS prevayler EXPORT prevaylerTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(EXPORT prevaylerTargets NAMESPACE prevayler:: DESTINATION ${PREVAYLER_CMAKE_DIR})
# Every public header but the AWS storage's, which comes with the component.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/prevayler DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  PATTERN aws_storage.hpp EXCLUDE)

if(PREVAYLER_WITH_AWS)
  set_target_properties(prevayler_aws PROPERTIES EXPORT_NAME aws)
  install(TARGETS prevayler_aws EXPORT prevaylerAwsTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(EXPORT prevaylerAwsTargets NAMESPACE prevayler:: DESTINATION ${PREVAYLER_CMAKE_DIR})
  install(FILES ${PROJECT_SOURCE_DIR}/include/prevayler/aws_storage.hpp
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/prevayler)
endif()

if(BUILD_SHARED_LIBS)
  set(PREVAYLER_STATIC_LIBRARIES OFF)
else()
  set(PREVAYLER_STATIC_LIBRARIES ON)
endif()
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/prevaylerConfig.cmake.in
  ${PROJECT_BINARY_DIR}/prevaylerConfig.cmake
  INSTALL_DESTINATION ${PREVAYLER_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/prevaylerConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/prevaylerConfig.cmake
  ${PROJECT_BINARY_DIR}/prevaylerConfigVersion.cmake
  DESTINATION ${PREVAYLER_CMAKE_DIR})

# pkg-config: the prefix is found from the .pc file's own place, so the
# install can be moved (cmake --install --prefix). A static library's
# dependencies are needed by every link, a shared one's only by its own.
file(RELATIVE_PATH PREVAYLER_PC_TO_PREFIX /prefix/${PREVAYLER_PKGCONFIG_DIR} /prefix)
string(REGEX REPLACE "/$" "" PREVAYLER_PC_TO_PREFIX "${PREVAYLER_PC_TO_PREFIX}")
if(PREVAYLER_STATIC_LIBRARIES)
  set(PREVAYLER_PC_REQUIRES_DEPS "Requires")
else()
  set(PREVAYLER_PC_REQUIRES_DEPS "Requires.private")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/prevayler.pc.in ${PROJECT_BINARY_DIR}/prevayler.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/prevayler.pc DESTINATION ${PREVAYLER_PKGCONFIG_DIR})
if(PREVAYLER_WITH_AWS)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/prevayler-aws.pc.in ${PROJECT_BINARY_DIR}/prevayler-aws.pc
    @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/prevayler-aws.pc DESTINATION ${PREVAYLER_PKGCONFIG_DIR})
endif()
