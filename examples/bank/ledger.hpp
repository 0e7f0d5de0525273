// The bank's business state and business function.
//
// The pattern for large states: every event produces a new state value, so
// the state must not be copied whole per event. Ledger is a persistent hash
// trie: three levels of 32-way nodes over small sorted leaves, all shared
// between versions through shared_ptr<const ...>. Changing one account
// copies one path (3 nodes of 32 pointers and one leaf of a few accounts),
// whatever the number of accounts; the old version stays valid for readers
// that still hold it. bench/state_bench measures it against copying a
// std::map.
#pragma once

#include <array>
#include <cereal/types/string.hpp>
#include <cereal/types/variant.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "prevayler/timestamp.hpp"

namespace bank {

using Amount = std::int64_t;  // cents

class Ledger {
 public:
  Amount balance(const std::string& account) const {
    const Leaf* leaf = find_leaf(hash_of(account));
    if (!leaf) return 0;
    for (const auto& [name, amount] : leaf->accounts) {
      if (name == account) return amount;
    }
    return 0;
  }
  Amount total() const { return total_; }
  std::size_t accounts() const { return accounts_; }
  // A hash of the whole content, maintained per change in O(1): the XOR of
  // a fingerprint of each (account, balance). Used as the state hash.
  std::uint64_t fingerprint() const { return fingerprint_; }

  // A new ledger where `account` has `amount`; this one is unchanged.
  Ledger with_balance(const std::string& account, Amount amount) const {
    Ledger next = *this;
    const std::uint64_t hash = hash_of(account);
    Amount old = 0;
    bool existed = false;
    next.root_ = set_in(root_.get(), hash, 0, account, amount, old, existed);
    next.total_ += amount - old;
    if (existed) next.fingerprint_ ^= entry_fingerprint(hash, old);
    next.fingerprint_ ^= entry_fingerprint(hash, amount);
    if (!existed) ++next.accounts_;
    return next;
  }

  // Visits every account (in hash order).
  void for_each(const std::function<void(const std::string&, Amount)>& visit) const {
    if (root_) visit_node(*root_, visit);
  }

  template <class Archive>
  void save(Archive& archive) const {
    archive(static_cast<std::uint64_t>(accounts_));
    for_each([&](const std::string& name, Amount amount) { archive(name, amount); });
  }
  template <class Archive>
  void load(Archive& archive) {
    std::uint64_t count = 0;
    archive(count);
    Ledger loaded;
    for (std::uint64_t i = 0; i < count; ++i) {
      std::string name;
      Amount amount = 0;
      archive(name, amount);
      loaded = loaded.with_balance(name, amount);
    }
    *this = std::move(loaded);
  }

 private:
  static constexpr int branch_bits = 5;
  static constexpr std::size_t branching = std::size_t{1} << branch_bits;
  static constexpr int inner_levels = 3;  // 32^3 = 32,768 leaves

  struct Leaf {
    std::vector<std::pair<std::string, Amount>> accounts;
  };
  struct Node {
    // Children are Nodes above the last inner level, Leaves at it.
    std::array<std::shared_ptr<const void>, branching> children;
  };

  static std::uint64_t hash_of(const std::string& account) {
    std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a: stable across builds
    for (unsigned char c : account) h = (h ^ c) * 0x100000001b3ull;
    return h;
  }
  static std::uint64_t entry_fingerprint(std::uint64_t hash, Amount amount) {
    std::uint64_t x = hash ^ (static_cast<std::uint64_t>(amount) * 0x9e3779b97f4a7c15ull);
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    return x ^ (x >> 29);
  }
  static std::size_t slot(std::uint64_t hash, int level) {
    return (hash >> (branch_bits * level)) & (branching - 1);
  }

  const Leaf* find_leaf(std::uint64_t hash) const {
    const void* node = root_.get();
    for (int level = 0; node && level < inner_levels; ++level) {
      node = static_cast<const Node*>(node)->children[slot(hash, level)].get();
    }
    return static_cast<const Leaf*>(node);
  }

  static std::shared_ptr<const Node> set_in(const Node* node, std::uint64_t hash, int level,
                                            const std::string& account, Amount amount, Amount& old,
                                            bool& existed) {
    auto copy = node ? std::make_shared<Node>(*node) : std::make_shared<Node>();
    auto& child = copy->children[slot(hash, level)];
    if (level + 1 < inner_levels) {
      child = set_in(static_cast<const Node*>(child.get()), hash, level + 1, account, amount, old,
                     existed);
    } else {
      auto leaf = child ? std::make_shared<Leaf>(*static_cast<const Leaf*>(child.get()))
                        : std::make_shared<Leaf>();
      auto it = leaf->accounts.begin();
      while (it != leaf->accounts.end() && it->first < account) ++it;
      if (it != leaf->accounts.end() && it->first == account) {
        old = it->second;
        existed = true;
        it->second = amount;
      } else {
        leaf->accounts.insert(it, {account, amount});
      }
      child = std::move(leaf);
    }
    return copy;
  }

  void visit_node(const Node& node, const std::function<void(const std::string&, Amount)>& visit,
                  int level = 0) const {
    for (const auto& child : node.children) {
      if (!child) continue;
      if (level + 1 < inner_levels) {
        visit_node(*static_cast<const Node*>(child.get()), visit, level + 1);
      } else {
        for (const auto& [name, amount] : static_cast<const Leaf*>(child.get())->accounts) {
          visit(name, amount);
        }
      }
    }
  }

  std::shared_ptr<const Node> root_;
  Amount total_ = 0;
  std::size_t accounts_ = 0;
  std::uint64_t fingerprint_ = 0;
};

struct Deposit {
  std::string account;
  Amount amount = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(account, amount);
  }
};
struct Withdraw {
  std::string account;
  Amount amount = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(account, amount);
  }
};
struct Transfer {
  std::string from;
  std::string to;
  Amount amount = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(from, to, amount);
  }
};
using Event = std::variant<Deposit, Withdraw, Transfer>;

// A rejected event: the business function throws it, nothing is journaled.
class Rejected : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline Amount checked_add(Amount a, Amount b) {
  Amount sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) throw Rejected("amount too large");
  return sum;
}

// The business function: pure; throws Rejected to refuse an event.
inline Ledger apply(const Ledger& ledger, const Event& event, prevayler::Timestamp) {
  struct Visitor {
    const Ledger& ledger;
    Ledger operator()(const Deposit& d) const {
      if (d.amount < 0) throw Rejected("negative amount");
      return ledger.with_balance(d.account, checked_add(ledger.balance(d.account), d.amount));
    }
    Ledger operator()(const Withdraw& w) const {
      const Amount balance = ledger.balance(w.account);
      if (w.amount < 0) throw Rejected("negative amount");
      if (w.amount > balance) {
        throw Rejected("insufficient funds in " + w.account + " (balance " +
                       std::to_string(balance) + ")");
      }
      return ledger.with_balance(w.account, balance - w.amount);
    }
    Ledger operator()(const Transfer& t) const {
      const Amount from = ledger.balance(t.from);
      if (t.amount < 0) throw Rejected("negative amount");
      if (t.amount > from) {
        throw Rejected("insufficient funds in " + t.from + " (balance " + std::to_string(from) +
                       ")");
      }
      if (t.from == t.to) return ledger;
      const Ledger debited = ledger.with_balance(t.from, from - t.amount);
      return debited.with_balance(t.to, checked_add(debited.balance(t.to), t.amount));
    }
  };
  return std::visit(Visitor{ledger}, event);
}

}  // namespace bank
