// What this addon was built against, for doctor and the loader.
#pragma once
#include <string>

namespace atman {

struct BuildInfo {
  std::string torchVersion;    // the headers this addon was compiled with
  std::string torchSource;     // how CMake found libtorch
  std::string torchLibDir;     // where the addon looks for libtorch at load time (RPATH)
  std::string variant;         // "cpu" or "cuda"
  bool cxx11Abi;
  int parallelThreads;
};

BuildInfo buildInfo();

}  // namespace atman
