// An istream over one event's bytes at a time, reused for every event a
// thread decodes: constructing a std::istream (its locale and facet
// caches) cost more than decoding a small event, and replay decodes
// millions. Not part of the public API.
#pragma once

#include <ios>
#include <istream>
#include <optional>
#include <streambuf>
#include <string_view>

namespace prevayler::detail {

class ReusedInStream {
 public:
  ReusedInStream() { fresh(); }
  ReusedInStream(const ReusedInStream&) = delete;
  ReusedInStream& operator=(const ReusedInStream&) = delete;

  // The stream over `bytes`, in the state a new std::istream(&buffer)
  // starts in: good, no exceptions, default format flags, width, precision
  // and fill, and (rebuilt when a codec imbued another) the global locale.
  // Valid until the next call.
  std::istream& over(std::string_view bytes) {
    if (imbued_) fresh();
    buffer_.set(bytes);
    std::istream& in = *stream_;
    in.exceptions(std::ios::goodbit);
    in.clear();
    in.flags(std::ios::skipws | std::ios::dec);
    in.width(0);
    in.precision(default_precision);
    in.fill(in.widen(' '));
    in.tie(nullptr);
    // A codec may swap the buffer: the next event's must be ours.
    if (in.rdbuf() != &buffer_) in.rdbuf(&buffer_);
    return in;
  }

  // True while a decode uses the stream: a decode that decodes another
  // event of the same type inside it needs its own stream.
  bool in_use = false;

 private:
  // The precision a new stream starts with ([basic.ios.cons]).
  static constexpr std::streamsize default_precision = 6;

  class Buffer : public std::streambuf {
   public:
    void set(std::string_view bytes) {
      char* begin = const_cast<char*>(bytes.data());  // never written: get area only
      setg(begin, begin, begin + bytes.size());
    }
  };

  void fresh() {
    stream_.reset();
    stream_.emplace(&buffer_);
    stream_->pword(slot()) = this;
    stream_->register_callback(&on_event, 0);
    imbued_ = false;
  }

  // imbue() and copyfmt() (which calls back with erase_event before it
  // copies another stream's locale and callbacks) mark the stream to be
  // rebuilt, so no codec's locale reaches the next event.
  static void on_event(std::ios_base::event, std::ios_base& stream, int) {
    if (auto* owner = static_cast<ReusedInStream*>(stream.pword(slot()))) owner->imbued_ = true;
  }

  static int slot() {
    static const int index = std::ios_base::xalloc();
    return index;
  }

  // Declared before stream_: the stream's destructor calls back into it.
  bool imbued_ = false;
  Buffer buffer_;
  std::optional<std::istream> stream_;
};

}  // namespace prevayler::detail
