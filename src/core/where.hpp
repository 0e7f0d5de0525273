// Where: the place an error message names (a file and offset, a table and
// key, a journal position), built only when a message needs it. Replay
// checks millions of records and entries a second and names none of them
// unless one is damaged: building each name up front cost more than
// decoding the entry.
#pragma once

#include <concepts>
#include <string>
#include <string_view>
#include <type_traits>

namespace prevayler::detail {

// Non-owning: a parameter type only. It refers to a text or to a callable
// returning one, either of which must outlive it (a temporary argument
// lives until the call returns).
class Where {
 public:
  Where(const std::string& text) : text_(text) {}  // NOLINT: implicit by design
  Where(const char* text) : text_(text) {}         // NOLINT: implicit by design
  // `make` returns the text; called once per text().
  template <class Make>
  requires(std::is_invocable_r_v<std::string, const Make&> &&
           !std::is_convertible_v<const Make&, std::string_view>)
      Where(const Make& make)  // NOLINT: implicit by design
      : make_(&make), call_([](const void* m) { return (*static_cast<const Make*>(m))(); }) {}

  std::string text() const { return call_ ? call_(make_) : std::string(text_); }

 private:
  std::string_view text_;
  const void* make_ = nullptr;
  std::string (*call_)(const void*) = nullptr;
};

}  // namespace prevayler::detail
