// Precompiled header: the heavy libtorch headers every native/ and binding/ translation unit uses.
#pragma once
#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>
