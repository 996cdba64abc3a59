# Installation (`make install PREFIX=... DESTDIR=...`) and the Debian
# package (`make deb`, CPack). Targets are installed when they exist, so
# this file never breaks a partial tree.
include(GNUInstallDirs)

foreach(tool midge midge_pub midge_sub midge_rr midge_passwd)
  if(TARGET ${tool})
    install(TARGETS ${tool} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
endforeach()

file(GLOB MIDGE_MAN1 ${CMAKE_SOURCE_DIR}/man/*.1)
install(FILES ${MIDGE_MAN1} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

set(MIDGE_BINDIR ${CMAKE_INSTALL_FULL_BINDIR})
set(MIDGE_CONFDIR ${CMAKE_INSTALL_FULL_SYSCONFDIR}/midge)
set(MIDGE_DOCDIR ${CMAKE_INSTALL_FULL_DOCDIR})
configure_file(${CMAKE_SOURCE_DIR}/packaging/midge.service
               ${CMAKE_BINARY_DIR}/packaging/midge.service @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/packaging/midge.service
        DESTINATION lib/systemd/system)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/midge.conf ${CMAKE_SOURCE_DIR}/packaging/acl
        DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/midge)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/pi-vps.conf
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_SOURCE_DIR}/docs/CONFIGURATION.md
              ${CMAKE_SOURCE_DIR}/docs/ARCHITECTURE.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR} OPTIONAL)

set(CPACK_PACKAGE_NAME midge)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "midge developers")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "MQTT 3.1/3.1.1/5.0 broker, client library and tools, Mosquitto-compatible")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libc6, libssl3, libsqlite3-0, adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_SOURCE_DIR}/packaging/postinst
                                       ${CMAKE_SOURCE_DIR}/packaging/conffiles)
# The configuration files are the admin's once installed.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
