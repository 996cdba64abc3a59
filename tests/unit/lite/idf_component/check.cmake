# ctest driver: configure and build the stand-in IDF project in BIN, then run
# its test. Arguments: -DSRC=<this dir> -DBIN=<build dir> -DV5=ON|OFF.
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SRC} -B ${BIN} -DCONFIG_MIDGE_LITE_V5=${V5}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring the IDF component stand-in failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BIN} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building src/lite as an IDF component failed")
endif()
execute_process(COMMAND ${BIN}/test_lite_idf RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "test_lite linked against the IDF component failed")
endif()
