# FindCUDNN: locates cuDNN 9 (header cudnn.h, library libcudnn) and defines CUDNN::cudnn.
# Looks next to the CUDA toolkit first, then in the system's multiarch folders (Ubuntu's packages),
# then in a Python wheel (nvidia-cudnn-cu12/cu13: include/ and lib/ under site-packages/
# nvidia/cudnn, where only the versioned libcudnn.so.9 exists): the wheel's folder is asked of
# python3 (CUDNN_PYTHON, default the first python3 on PATH) and globbed in the usual prefixes.
set(_cudnn_wheel_dirs)
find_program(CUDNN_PYTHON NAMES python3)
if(CUDNN_PYTHON)
  execute_process(
    COMMAND ${CUDNN_PYTHON} -c
            "import importlib.util as u; s = u.find_spec('nvidia.cudnn'); print(list(s.submodule_search_locations)[0] if s else '')"
    OUTPUT_VARIABLE _cudnn_wheel OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET TIMEOUT 20)
  if(_cudnn_wheel)
    list(APPEND _cudnn_wheel_dirs ${_cudnn_wheel})
  endif()
endif()
file(GLOB _cudnn_globbed LIST_DIRECTORIES true
     /usr/lib/python3*/*-packages/nvidia/cudnn /usr/local/lib/python3*/*-packages/nvidia/cudnn
     /opt/*/.venv/lib/python3*/site-packages/nvidia/cudnn
     $ENV{VIRTUAL_ENV}/lib/python3*/site-packages/nvidia/cudnn)
list(APPEND _cudnn_wheel_dirs ${_cudnn_globbed})
find_path(CUDNN_INCLUDE_DIR cudnn.h
  HINTS ${CUDNN_ROOT} $ENV{CUDNN_ROOT} ${CUDAToolkit_INCLUDE_DIRS}
  PATHS /usr/local/cuda/include /usr/include/x86_64-linux-gnu /usr/include ${_cudnn_wheel_dirs}
  PATH_SUFFIXES include)
find_library(CUDNN_LIBRARY NAMES cudnn libcudnn.so.9
  HINTS ${CUDNN_ROOT} $ENV{CUDNN_ROOT} ${CUDAToolkit_LIBRARY_DIR}
  PATHS /usr/local/cuda/lib64 /usr/lib/x86_64-linux-gnu ${_cudnn_wheel_dirs}
  PATH_SUFFIXES lib lib64)
if(CUDNN_INCLUDE_DIR AND EXISTS "${CUDNN_INCLUDE_DIR}/cudnn_version.h")
  file(STRINGS "${CUDNN_INCLUDE_DIR}/cudnn_version.h" _v REGEX "define CUDNN_(MAJOR|MINOR|PATCHLEVEL) ")
  string(REGEX REPLACE ".*CUDNN_MAJOR ([0-9]+).*" "\\1" _maj "${_v}")
  string(REGEX REPLACE ".*CUDNN_MINOR ([0-9]+).*" "\\1" _min "${_v}")
  string(REGEX REPLACE ".*CUDNN_PATCHLEVEL ([0-9]+).*" "\\1" _pat "${_v}")
  set(CUDNN_VERSION "${_maj}.${_min}.${_pat}")
endif()
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(CUDNN REQUIRED_VARS CUDNN_LIBRARY CUDNN_INCLUDE_DIR
                                  VERSION_VAR CUDNN_VERSION)
if(CUDNN_FOUND AND NOT TARGET CUDNN::cudnn)
  add_library(CUDNN::cudnn UNKNOWN IMPORTED)
  set_target_properties(CUDNN::cudnn PROPERTIES IMPORTED_LOCATION "${CUDNN_LIBRARY}"
                        INTERFACE_INCLUDE_DIRECTORIES "${CUDNN_INCLUDE_DIR}")
endif()
mark_as_advanced(CUDNN_INCLUDE_DIR CUDNN_LIBRARY)
