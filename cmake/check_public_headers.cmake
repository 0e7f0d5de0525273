# Checks that the public headers (include/prevayler/) keep the library's
# internals private: no header of ours includes the standard headers of the
# engine's threads, locks and queues, nor a header outside include/prevayler/
# (src/ is not installed). Run by ctest:
#   cmake -DSOURCE_DIR=<repo> -P cmake/check_public_headers.cmake
# tests/public_headers/private_types_absent.cpp checks the same promise by
# compiling against the headers.
cmake_minimum_required(VERSION 3.25)
set(forbidden_std_headers mutex condition_variable shared_mutex deque thread atomic map)
file(GLOB_RECURSE headers ${SOURCE_DIR}/include/prevayler/*.hpp)
if(NOT headers)
  message(FATAL_ERROR "no public headers under ${SOURCE_DIR}/include/prevayler")
endif()
set(failures "")
foreach(header IN LISTS headers)
  file(RELATIVE_PATH name ${SOURCE_DIR} ${header})
  file(STRINGS ${header} includes REGEX "^[ \t]*#[ \t]*include")
  foreach(line IN LISTS includes)
    if(line MATCHES "<([a-z_]+)>")
      if(CMAKE_MATCH_1 IN_LIST forbidden_std_headers)
        string(APPEND failures "  ${name}: ${line} (a private engine/storage detail: keep it in src/)\n")
      endif()
    elseif(line MATCHES "\"([^\"]+)\"")
      if(NOT CMAKE_MATCH_1 MATCHES "^prevayler/")
        string(APPEND failures "  ${name}: ${line} (public headers include only prevayler/...)\n")
      endif()
    endif()
  endforeach()
endforeach()
if(failures)
  message(FATAL_ERROR "public headers publish internals:\n${failures}")
endif()
list(LENGTH headers count)
message(STATUS "${count} public headers checked")
