# c10d backends for native/distributed (issue 17). Their headers are optional: a build without one says so at
# distributed.init() instead of failing to compile.
#   Gloo (CPU tensors): gloo/ headers beside libtorch's (pip wheels that ship them) or, for the system libtorch, the
#   system's (Debian: libgloo-dev).
#   NCCL (CUDA tensors): only with a CUDA libtorch; nccl.h from NCCL_INCLUDE_DIR, pip's nvidia-nccl package, or the
#   system. libtorch's ProcessGroupNCCL.hpp is compiled only under USE_C10D_NCCL.

# With the system libtorch: the system's gloo, which it was built against (Debian: libtorch_cpu needs libgloo.so.0;
# the header's inline code needs its symbols too). With any other libtorch: only gloo headers shipped beside it (its
# gloo is linked into libtorch_cpu); a system gloo could differ from that one in ABI.
set(ATMAN_GLOO_LIB "")
if(ATMAN_TORCH_SOURCE MATCHES "^system")
  find_path(ATMAN_GLOO_INCLUDE gloo/context.h)
  find_library(ATMAN_GLOO_SYSTEM_LIB NAMES gloo)
  if(ATMAN_GLOO_SYSTEM_LIB)
    set(ATMAN_GLOO_LIB "${ATMAN_GLOO_SYSTEM_LIB}")
  else()
    set(ATMAN_GLOO_INCLUDE "")
  endif()
else()
  find_path(ATMAN_GLOO_INCLUDE gloo/context.h PATHS ${TORCH_INCLUDE_DIRS} NO_DEFAULT_PATH)
endif()
if(ATMAN_GLOO_INCLUDE)
  set(ATMAN_WITH_GLOO ON)
else()
  set(ATMAN_WITH_GLOO OFF)
endif()

set(ATMAN_WITH_NCCL OFF)
if(ATMAN_TORCH_HAS_CUDA)
  set(_atman_nccl_hints "$ENV{NCCL_INCLUDE_DIR}" "$ENV{NCCL_ROOT}/include")
  find_program(_atman_py3 python3)
  if(_atman_py3)
    execute_process(
      COMMAND "${_atman_py3}" -c "import nvidia.nccl; print(list(nvidia.nccl.__path__)[0])"
      OUTPUT_VARIABLE _atman_py_nccl OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    if(_atman_py_nccl)
      list(APPEND _atman_nccl_hints "${_atman_py_nccl}/include")
      set(_atman_nccl_lib_hints "${_atman_py_nccl}/lib")
    endif()
  endif()
  find_path(ATMAN_NCCL_INCLUDE nccl.h HINTS ${_atman_nccl_hints} ${TORCH_INCLUDE_DIRS})
  find_library(ATMAN_NCCL_LIB NAMES nccl libnccl.so.2 HINTS ${_atman_nccl_lib_hints} "$ENV{NCCL_ROOT}/lib")
  if(ATMAN_NCCL_INCLUDE)
    set(ATMAN_WITH_NCCL ON)
  endif()
endif()
message(STATUS "atman-native: distributed backends: gloo ${ATMAN_WITH_GLOO}, nccl ${ATMAN_WITH_NCCL}")
