# The Debian package: `cpack -G DEB` from the build directory (scripts/package.sh builds
# and checks it). Included from the top CMakeLists.txt after install(TARGETS supervise).
#
#   /usr/bin/supervise                                  (stripped)
#   /usr/share/man/man1/supervise.1.gz                  docs/supervise.1, gzip -9n
#   /usr/share/doc/supervise/README.md, copyright
#   /usr/share/doc/supervise/schemas/*.json             schemas/, whatever is there
#   /usr/share/bash-completion/completions/supervise

# The man page, compressed as Debian wants it (-n: no name or time stamp, so the same
# page gives the same bytes).
set(SUPERVISE_MANPAGE ${CMAKE_CURRENT_BINARY_DIR}/supervise.1.gz)
add_custom_command(
  OUTPUT ${SUPERVISE_MANPAGE}
  COMMAND sh -c "gzip -9n -c \"$1\" > \"$2\"" gzip ${CMAKE_CURRENT_SOURCE_DIR}/docs/supervise.1 ${SUPERVISE_MANPAGE}
  DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/docs/supervise.1
  COMMENT "Compressing the man page"
  VERBATIM)
add_custom_target(supervise_manpage ALL DEPENDS ${SUPERVISE_MANPAGE})

install(FILES ${SUPERVISE_MANPAGE} DESTINATION share/man/man1)
install(FILES README.md packaging/copyright DESTINATION share/doc/supervise)
# OPTIONAL and a pattern: installs whatever schemas/*.json hold when cpack runs.
install(DIRECTORY schemas/ DESTINATION share/doc/supervise/schemas OPTIONAL
        FILES_MATCHING PATTERN "*.json")
install(FILES packaging/bash-completion/supervise DESTINATION share/bash-completion/completions)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME supervise)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "supervise maintainers")
set(CPACK_PACKAGE_CONTACT "supervise maintainers <maintainers@users.noreply.b-seed-23c23a7c.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "task supervisor for containers (PID 1) and local runs")
set(CPACK_PACKAGE_DESCRIPTION
  "supervise is the first process of a task container (its ENTRYPOINT, PID 1).
It runs one task of an OSMO-style workflow spec: writes the task's declared
files, runs the command in its own process group, forwards signals, reaps every
process, saves checkpoints to file:// and s3:// stores, maps the exit code through
exitActions to COMPLETE, RESCHEDULE or FAIL, and writes an exit-status JSON for
the scheduler (and a compact copy for Kubernetes' termination message).
.
libcurl4 is needed only for s3:// checkpoint stores; it is loaded on demand.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)   # supervise_0.1.0_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
find_program(SUPERVISE_DPKG dpkg)
if(SUPERVISE_DPKG)
  execute_process(COMMAND ${SUPERVISE_DPKG} --print-architecture
                  OUTPUT_VARIABLE CPACK_DEBIAN_PACKAGE_ARCHITECTURE OUTPUT_STRIP_TRAILING_WHITESPACE)
endif()
# Depends from dpkg-shlibdeps (dpkg-dev): with SUPERVISE_STATIC_DEPS only libc6. libcurl
# is dlopen()ed for s3:// stores, which shlibdeps cannot see: a Recommends, so that the
# package installs without it (a task with an s3:// store then fails at start-up with
# "cannot load libcurl.so.4 (install libcurl4)").
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS libcurl4)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
