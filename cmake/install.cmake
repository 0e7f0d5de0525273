# Install rules and the CMake package config, so that
#   find_package(prevayler REQUIRED)
#   target_link_libraries(app PRIVATE prevayler::prevayler)
# works against an installed prevayler-cpp.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set_target_properties(prevayler PROPERTIES EXPORT_NAME prevayler)
install(TARGETS prevayler EXPORT prevaylerTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/prevayler DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT prevaylerTargets NAMESPACE prevayler::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/prevayler)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/prevaylerConfig.cmake.in
  ${PROJECT_BINARY_DIR}/prevaylerConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/prevayler)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/prevaylerConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/prevaylerConfig.cmake
  ${PROJECT_BINARY_DIR}/prevaylerConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/prevayler)
