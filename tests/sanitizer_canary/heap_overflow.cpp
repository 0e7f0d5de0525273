// The AddressSanitizer canary: reads one element past a heap array, an
// error ASan must report. scripts/sanitize.sh runs it with the options of
// the real suites and fails if it passes (ASan not linked in, or its
// reports silenced).
#include <cstdio>
#include <memory>

int main(int argc, char**) {
  constexpr int elements = 4;
  auto values = std::make_unique<int[]>(elements);
  for (int i = 0; i < elements; ++i) values[i] = i;
  // argc is 1: the index is `elements`, one past the end, and the compiler
  // cannot prove it.
  const int index = argc - 1 + elements;
  std::printf("heap overflow canary: read %d (ASan should have stopped this)\n", values[index]);
  return 0;
}
