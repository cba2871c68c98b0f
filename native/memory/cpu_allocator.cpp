#include "native/memory/cpu_allocator.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/util/Exception.h>
#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace atman {

namespace {

constexpr size_t kAlignment = 64;               // libtorch's CPU alignment (c10::gAlignment)
constexpr size_t kHeader = 64;                  // before the data; keeps it 64-byte aligned
constexpr size_t kPage = 4096;
constexpr size_t kMinMapped = 16 << 10;         // smaller blocks stay in the malloc heap
constexpr size_t kMaxCachedBlock = 32 << 20;    // larger ones are unmapped when freed (glibc's largest mmap threshold)

struct Header {
  size_t bytes;  // the whole block, header included
  bool mapped;
};

size_t roundUp(size_t n, size_t step) { return (n + step - 1) / step * step; }

// Block size for a request of `total` bytes: pages up to 32 KB, then 8 classes per doubling.
size_t blockSize(size_t total) {
  if (total <= (32u << 10) || total > kMaxCachedBlock) return roundUp(total, kPage);
  const int k = 63 - __builtin_clzll(static_cast<unsigned long long>(total - 1));  // 2^k < total <= 2^(k+1)
  return roundUp(total, (size_t(1) << k) / 8);
}

struct Cache {
  std::mutex mu;
  std::map<size_t, std::vector<void*>> free;  // freed blocks by size
  size_t cached = 0;
  size_t limit = size_t(1) << 30;
};

// Never destroyed: tensors may be freed while the process exits.
Cache& cache() {
  static Cache* c = new Cache();
  return *c;
}

void* takeCached(size_t bytes) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.free.find(bytes);
  if (it == c.free.end() || it->second.empty()) return nullptr;
  void* p = it->second.back();
  it->second.pop_back();
  if (it->second.empty()) c.free.erase(it);  // every entry of the map holds at least one block
  c.cached -= bytes;
  return p;
}

// Keeps a freed block for reuse, evicting the largest cached blocks if the cap needs it; false: unmap it instead.
bool keepCached(void* block, size_t bytes) {
  Cache& c = cache();
  std::vector<std::pair<void*, size_t>> evicted;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    if (bytes > c.limit) return false;
    while (c.cached + bytes > c.limit && !c.free.empty()) {
      auto last = std::prev(c.free.end());
      evicted.emplace_back(last->second.back(), last->first);
      c.cached -= last->first;
      last->second.pop_back();
      if (last->second.empty()) c.free.erase(last);
    }
    c.free[bytes].push_back(block);
    c.cached += bytes;
  }
  for (auto& [p, n] : evicted) ::munmap(p, n);
  return true;
}

void release(void* data) {
  if (data == nullptr) return;
  auto* h = reinterpret_cast<Header*>(static_cast<char*>(data) - kHeader);
  if (!h->mapped) {
    std::free(h);
    return;
  }
  const size_t bytes = h->bytes;
  if (bytes <= kMaxCachedBlock && keepCached(h, bytes)) return;
  ::munmap(h, bytes);
}

[[noreturn]] void outOfMemory(size_t n) {
  TORCH_CHECK(false, "CPU allocator: cannot allocate ", n, " bytes (out of memory)");
  std::abort();  // not reached: TORCH_CHECK(false) throws
}

c10::DataPtr allocateBlock(size_t n) {
  const c10::Device cpu(c10::DeviceType::CPU);
  if (n == 0) return {nullptr, nullptr, &release, cpu};
  if (n > (size_t(1) << 60)) outOfMemory(n);
  const size_t total = n + kHeader;
  void* base = nullptr;
  size_t bytes = total;
  bool mapped = total >= kMinMapped;
  if (!mapped) {
    if (::posix_memalign(&base, kAlignment, total) != 0) outOfMemory(n);
  } else {
    bytes = blockSize(total);
    base = bytes <= kMaxCachedBlock ? takeCached(bytes) : nullptr;
    if (base == nullptr) {
      base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (base == MAP_FAILED) outOfMemory(n);
    }
  }
  auto* h = static_cast<Header*>(base);
  h->bytes = bytes;
  h->mapped = mapped;
  void* data = static_cast<char*>(base) + kHeader;
  return {data, data, &release, cpu};
}

// libtorch 1.13 declares allocate() const, 2.x not; 2.x adds copy_data(). Both spellings are defined: the one the
// base class declares overrides it, the other is an unused overload.
struct AtmanCpuAllocator final : public c10::Allocator {
  c10::DataPtr allocate(size_t n) const { return allocateBlock(n); }
  c10::DataPtr allocate(size_t n) { return allocateBlock(n); }
  c10::DeleterFnPtr raw_deleter() const override { return &release; }
  void copy_data(void* dest, const void* src, std::size_t count) const {
    if (count > 0) std::memcpy(dest, src, count);
  }
};

bool installed = false;

}  // namespace

void installCpuAllocator() {
  if (installed) return;
  const char* choice = std::getenv("ATMAN_CPU_ALLOCATOR");
  if (choice != nullptr && std::string(choice) == "libtorch") return;
  if (const char* mb = std::getenv("ATMAN_CPU_CACHE_MB")) {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(mb, &end, 10);
    if (end != mb && *end == '\0') cache().limit = static_cast<size_t>(v) << 20;
  }
  static AtmanCpuAllocator* allocator = new AtmanCpuAllocator();  // never destroyed, as the cache
  c10::SetCPUAllocator(allocator, /*priority=*/1);
  installed = true;
}

int64_t cpuCachedBytes() {
  if (!installed) return 0;
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return static_cast<int64_t>(c.cached);
}

}  // namespace atman
