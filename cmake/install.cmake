# `cmake --install <build> --prefix P`: the public headers, libprism.so and libnccl.so.2
# with their links, the tools, a CMake package (find_package(prism): prism::prism,
# prism::nccl) and prism.pc, all under GNUInstallDirs. What goes where, and why libprism's
# SOVERSION is 0.1: docs/install.md. Included from the top-level CMakeLists.txt once every
# installed target exists.
include(CMakePackageConfigHelpers)

set(PRISM_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/prism)

# The headers of include/ only: nccl.h and prism/*.h(pp). They include nothing else of
# Prism (docs/design/layers.md), so the repository root never reaches a consumer.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h" PATTERN "*.hpp")

# Both libraries link their dependencies (hwloc, the CUDA runtime, threads) privately, so
# the package needs no find_dependency: a consumer links libprism or libnccl and nothing
# else. prism::prism is the native C++ API plus the C API; prism::nccl is the drop-in.
install(TARGETS prism nccl EXPORT prismTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(EXPORT prismTargets NAMESPACE prism:: DESTINATION ${PRISM_INSTALL_CMAKEDIR})

# The tools. prism-bench runs prism-bench-sim (--simulate) from its own directory, so both
# go to bin/. prism-bench links libprism.so: installed, it finds it through $ORIGIN, which
# CMake puts in place of the build tree's run path when installing (the build tree keeps
# its own). prism-bench-mpi is left out: prism-bench finds it by its build-tree path.
set(PRISM_INSTALLED_TOOLS prism-bench prism-bench-sim prism-run prism-topo prism-innet)
file(RELATIVE_PATH PRISM_BIN_TO_LIB ${CMAKE_INSTALL_FULL_BINDIR} ${CMAKE_INSTALL_FULL_LIBDIR})
foreach(tool ${PRISM_INSTALLED_TOOLS})
  if(TARGET ${tool})
    set_target_properties(${tool} PROPERTIES INSTALL_RPATH "$ORIGIN/${PRISM_BIN_TO_LIB}")
    install(TARGETS ${tool} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
endforeach()

# The Python module (not built yet) installs here: an extension module linking libprism.so,
# into a `prism` package under the interpreter's platlib (e.g. Python3_SITEARCH made
# relative to the prefix), with INSTALL_RPATH pointing from there to the libdir:
#   install(TARGETS prism_python LIBRARY DESTINATION <pythondir>/prism)

# find_package(prism): the config, its version (SameMinorVersion, as libprism's SOVERSION:
# a 0.x release may change the ABI with each minor version) and the imported targets.
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/prismConfig.cmake.in
  ${PROJECT_BINARY_DIR}/prismConfig.cmake INSTALL_DESTINATION ${PRISM_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/prismConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/prismConfig.cmake ${PROJECT_BINARY_DIR}/prismConfigVersion.cmake
        DESTINATION ${PRISM_INSTALL_CMAKEDIR})

# pkg-config: prism.pc names its directories relative to its own (${pcfiledir}), so the
# prefix given to `cmake --install --prefix`, not the configured one, is the one it names.
file(RELATIVE_PATH PRISM_PC_TO_PREFIX ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig
     ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" PRISM_PC_TO_PREFIX "${PRISM_PC_TO_PREFIX}")
foreach(dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE ${CMAKE_INSTALL_${dir}})
    set(PRISM_PC_${dir} ${CMAKE_INSTALL_${dir}})
  else()
    set(PRISM_PC_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()
configure_file(${PROJECT_SOURCE_DIR}/cmake/prism.pc.in ${PROJECT_BINARY_DIR}/prism.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/prism.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
