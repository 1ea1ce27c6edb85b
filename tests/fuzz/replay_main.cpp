// SPDX-License-Identifier: AGPL-3.0-or-later
// Runs LLVMFuzzerTestOneInput once per file of the given corpus directories (or files), so that a
// committed corpus is replayed by every build, not only the clang fuzz preset.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
// Each target also writes its own deterministic seed corpus (valid inputs made with a seeded RNG):
//   fuzz_<name> --write-seeds tests/fuzz/corpus/<name>
void lotse_fuzz_write_seeds(const std::filesystem::path& dir);

namespace {

void run_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string_view(argv[1]) == "--write-seeds") {
    std::filesystem::create_directories(argv[2]);
    lotse_fuzz_write_seeds(argv[2]);
    return 0;
  }
  std::size_t count = 0;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path arg(argv[i]);
    if (std::filesystem::is_directory(arg)) {
      for (const auto& entry : std::filesystem::recursive_directory_iterator(arg)) {
        if (entry.is_regular_file()) {
          run_file(entry.path());
          ++count;
        }
      }
    } else {
      run_file(arg);
      ++count;
    }
  }
  std::printf("replayed %zu inputs\n", count);
  return count == 0 ? 1 : 0;  // an empty corpus is a configuration error, not a pass
}
