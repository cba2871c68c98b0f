# Locates libtorch for the addon, in this order:
#   1. LIBTORCH (env or -D), Torch_DIR, CMAKE_PREFIX_PATH  (what the user pointed at)
#   2. the torch package of the python3 on PATH            (pip/conda installs, CUDA builds)
#   3. the system                                          (Debian's libtorch-dev)
# A miss stops with one message that says how to get a libtorch.

if(NOT LIBTORCH AND DEFINED ENV{LIBTORCH})
  set(LIBTORCH "$ENV{LIBTORCH}")
endif()
if(NOT Torch_DIR AND DEFINED ENV{Torch_DIR})
  set(Torch_DIR "$ENV{Torch_DIR}")
endif()
if(LIBTORCH)
  list(PREPEND CMAKE_PREFIX_PATH "${LIBTORCH}" "${LIBTORCH}/share/cmake")
endif()

set(ATMAN_TORCH_SOURCE "")
# A re-configure sees the Torch_DIR an earlier run found (it is cached): keep that run's answer.
if(Torch_DIR AND ATMAN_TORCH_DIR_FOUND AND Torch_DIR STREQUAL ATMAN_TORCH_DIR_FOUND AND NOT LIBTORCH)
  find_package(Torch QUIET)
  if(Torch_FOUND)
    set(ATMAN_TORCH_SOURCE "${ATMAN_TORCH_SOURCE_FOUND}")
  endif()
endif()
if(NOT Torch_FOUND AND (LIBTORCH OR Torch_DIR OR DEFINED ENV{CMAKE_PREFIX_PATH}))
  # Only what the user pointed at: the system libtorch is step 3, after python3's.
  find_package(Torch QUIET NO_CMAKE_SYSTEM_PATH NO_SYSTEM_ENVIRONMENT_PATH NO_CMAKE_PACKAGE_REGISTRY
               NO_CMAKE_SYSTEM_PACKAGE_REGISTRY)
  if(Torch_FOUND)
    set(ATMAN_TORCH_SOURCE "user-specified (${Torch_DIR})")
  elseif(LIBTORCH)
    message(FATAL_ERROR "\natman-native: LIBTORCH=${LIBTORCH} holds no libtorch (no share/cmake/Torch/TorchConfig.cmake there).\n"
      "Point LIBTORCH at an unpacked libtorch (the folder with include/, lib/ and share/), or unset it to search python3's torch and the system.\n")
  endif()
endif()

if(NOT Torch_FOUND)
  find_program(ATMAN_PYTHON3 python3)
  if(ATMAN_PYTHON3)
    execute_process(
      COMMAND "${ATMAN_PYTHON3}" -c "import torch.utils; print(torch.utils.cmake_prefix_path)"
      OUTPUT_VARIABLE _atman_py_prefix OUTPUT_STRIP_TRAILING_WHITESPACE
      ERROR_QUIET RESULT_VARIABLE _atman_py_rc)
    if(_atman_py_rc EQUAL 0 AND _atman_py_prefix)
      unset(Torch_DIR CACHE)
      set(Torch_DIR "${_atman_py_prefix}/Torch")
      find_package(Torch QUIET)
      if(Torch_FOUND)
        set(ATMAN_TORCH_SOURCE "python3 torch (${_atman_py_prefix})")
      endif()
    endif()
  endif()
endif()

if(NOT Torch_FOUND)
  unset(Torch_DIR CACHE)
  find_package(Torch QUIET PATHS /usr/lib/x86_64-linux-gnu/cmake /usr/lib/aarch64-linux-gnu/cmake /usr/local/lib/cmake)
  if(Torch_FOUND)
    set(ATMAN_TORCH_SOURCE "system (${Torch_DIR})")
  endif()
endif()

if(NOT Torch_FOUND)
  message(FATAL_ERROR
    "\natman-native: no libtorch found.\n"
    "Get one of these, then reinstall (npm rebuild atman-native):\n"
    "  - Debian/Ubuntu, CPU:  sudo apt-get install libtorch-dev\n"
    "  - CUDA: pip install torch   (the torch of the python3 on PATH is found automatically)\n"
    "  - an unpacked libtorch zip: export LIBTORCH=/path/to/libtorch\n"
    "Searched: LIBTORCH, Torch_DIR, CMAKE_PREFIX_PATH, python3's torch, the system.\n")
endif()

set(ATMAN_TORCH_DIR_FOUND "${Torch_DIR}" CACHE INTERNAL "Torch_DIR found by FindAtmanTorch")
set(ATMAN_TORCH_SOURCE_FOUND "${ATMAN_TORCH_SOURCE}" CACHE INTERNAL "how FindAtmanTorch found libtorch")

# Directory of the torch shared libraries, used as the addon's RPATH so it loads without LD_LIBRARY_PATH.
get_target_property(_atman_c10_loc c10 IMPORTED_LOCATION)
if(NOT _atman_c10_loc)
  get_target_property(_atman_c10_loc c10 IMPORTED_LOCATION_RELWITHDEBINFO)
endif()
if(NOT _atman_c10_loc)
  get_target_property(_atman_c10_loc c10 IMPORTED_LOCATION_RELEASE)
endif()
if(_atman_c10_loc)
  get_filename_component(ATMAN_TORCH_LIBDIR "${_atman_c10_loc}" DIRECTORY)
endif()
if(TARGET torch_cuda OR TARGET c10_cuda)
  set(ATMAN_TORCH_HAS_CUDA ON)
else()
  set(ATMAN_TORCH_HAS_CUDA OFF)
endif()
message(STATUS "atman-native: libtorch ${Torch_VERSION} from ${ATMAN_TORCH_SOURCE}; libs in ${ATMAN_TORCH_LIBDIR}; CUDA ${ATMAN_TORCH_HAS_CUDA}")
