// The workload of the crash test, shared by the worker program that gets
// killed and the test that checks what survived.
//
// Each producer thread t sends events (t, seq) with seq = 0, 1, 2, ...; the
// business function rejects any seq but the next expected one, so a lost,
// duplicated or reordered event makes replay throw. Every event also moves
// money between accounts, so the total is an invariant.
#pragma once

#include <array>
#include <cereal/types/array.hpp>
#include <cereal/types/vector.hpp>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "prevayler/timestamp.hpp"

namespace prevayler::testing::crash {

inline constexpr std::size_t accounts = 8;
inline constexpr std::int64_t initial_balance = 1000;

struct Bank {
  std::vector<std::uint64_t> next_seq;  // per producer
  std::array<std::int64_t, accounts> balances{};
  template <class A>
  void serialize(A& a) {
    a(next_seq, balances);
  }
  std::int64_t total() const {
    std::int64_t sum = 0;
    for (auto b : balances) sum += b;
    return sum;
  }
};

inline Bank initial_bank() {
  Bank b;
  b.balances.fill(initial_balance);
  return b;
}

struct TransferEvent {
  std::uint32_t producer = 0;
  std::uint64_t seq = 0;
  std::uint32_t from = 0;
  std::uint32_t to = 0;
  std::int64_t amount = 0;
  template <class A>
  void serialize(A& a) {
    a(producer, seq, from, to, amount);
  }
};

inline Bank apply(const Bank& bank, const TransferEvent& e, Timestamp) {
  Bank next = bank;
  if (next.next_seq.size() <= e.producer) next.next_seq.resize(e.producer + 1, 0);
  if (e.seq != next.next_seq[e.producer]) {
    throw std::logic_error("producer " + std::to_string(e.producer) + " sent seq " +
                           std::to_string(e.seq) + ", expected " +
                           std::to_string(next.next_seq[e.producer]));
  }
  ++next.next_seq[e.producer];
  if (e.from < accounts && e.to < accounts && next.balances[e.from] >= e.amount) {
    next.balances[e.from] -= e.amount;
    next.balances[e.to] += e.amount;
  }
  return next;
}

}  // namespace prevayler::testing::crash
