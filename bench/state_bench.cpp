// The large-state pattern, measured: the cost of one event on a ledger of N
// accounts when the state is the bank example's persistent trie (structural
// sharing) versus a std::map copied whole per event.
//
//   prevayler_state_bench
#include <chrono>
#include <cstdio>
#include <map>
#include <string>

#include "ledger.hpp"

namespace {

using Clock = std::chrono::steady_clock;

template <class F>
double ns_per_op(int ops, F&& f) {
  const auto start = Clock::now();
  for (int i = 0; i < ops; ++i) f(i);
  return std::chrono::duration<double, std::nano>(Clock::now() - start).count() / ops;
}

}  // namespace

int main() {
  std::printf("%10s %18s %18s %10s\n", "accounts", "trie ns/event", "map-copy ns/event", "ratio");
  for (int accounts : {1'000, 10'000, 100'000, 1'000'000}) {
    bank::Ledger ledger;
    std::map<std::string, bank::Amount> map;
    for (int i = 0; i < accounts; ++i) {
      const std::string name = "acct" + std::to_string(i);
      ledger = ledger.with_balance(name, 100);
      map[name] = 100;
    }
    const int trie_ops = 200'000;
    const double trie = ns_per_op(trie_ops, [&](int i) {
      const bank::Event e = bank::Deposit{"acct" + std::to_string(i % accounts), 1};
      ledger = bank::apply(ledger, e, {});
    });
    const int map_ops = std::max(3, 2'000'000 / accounts);
    const double copy = ns_per_op(map_ops, [&](int i) {
      auto next = map;  // what a naive value state pays per event
      next["acct" + std::to_string(i % accounts)] += 1;
      map = std::move(next);
    });
    std::printf("%10d %18.0f %18.0f %9.0fx\n", accounts, trie, copy, copy / trie);
  }
}
