// Codecs turn states and events into bytes and back. The default for any
// type cereal can serialise is cereal's portable binary archive (fixed
// little-endian layout, so files move between machines); any other format
// (JSON, protobuf, hand-written) plugs in through the same two functions.
#pragma once

#include <cereal/archives/portable_binary.hpp>
#include <cereal/cereal.hpp>
#include <cstdint>
#include <functional>
#include <istream>
#include <ostream>
#include <streambuf>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "prevayler/error.hpp"

namespace prevayler {

// Schema versions: the application numbers the shapes of its events and of
// its state (Prevayler::Options::event_schema_version and
// state_schema_version, from 1). The journal and snapshots record the
// version they were written with; docs/evolution.md shows how to read old
// versions into today's types.
inline constexpr std::uint32_t schema_version_max = 65535;

// Encodes a T into a stream and decodes one from a stream. decode must read
// exactly what encode wrote. Both may throw; the library reports a throw as
// CodecError naming what was being coded.
//
// decode_versioned (optional) reads bytes written with schema version
// `version`, 1 up to the version the program declares, so old bytes can be
// upcast into today's T. When it is set, every read goes through it (and
// decode may stay empty); otherwise decode reads every version.
template <class T>
struct Codec {
  std::function<void(const T&, std::ostream&)> encode;
  std::function<T(std::istream&)> decode;
  // The initializer keeps Codec<T>{encode, decode} free of
  // -Wmissing-field-initializers in existing code.
  std::function<T(std::istream&, std::uint32_t version)> decode_versioned = {};
  explicit operator bool() const { return encode && (decode || decode_versioned); }
  // Decodes bytes of schema version `version` with whichever decoder is set.
  T decode_version(std::istream& in, std::uint32_t version) const {
    return decode_versioned ? decode_versioned(in, version) : decode(in);
  }
};

// True when cereal's portable binary archive can save and load T.
template <class T>
inline constexpr bool cereal_serializable =
    cereal::traits::is_output_serializable<T, cereal::PortableBinaryOutputArchive>::value&&
        cereal::traits::is_input_serializable<T, cereal::PortableBinaryInputArchive>::value;

namespace detail {
template <class T>
struct is_std_variant : std::false_type {};
template <class... Alternatives>
struct is_std_variant<std::variant<Alternatives...>> : std::true_type {};
}  // namespace detail

// Why T is not cereal-serialisable, for error messages. cereal serialises a
// standard type only when its header from <cereal/types/> is included; a
// forgotten header compiles (the trait is just false), so the message must
// name it. A std::variant is the usual case: the documented way to have
// several event types.
template <class T>
std::string cereal_remedy() {
  if constexpr (detail::is_std_variant<T>::value) {
    return "it is a std::variant: #include <cereal/types/variant.hpp> (and the "
           "<cereal/types/...> header of each standard type inside it), give each "
           "alternative cereal serialize functions, or";
  } else {
    return "give it cereal serialize/save/load functions, #include the "
           "<cereal/types/...> header of each standard type it holds "
           "(<cereal/types/string.hpp>, <cereal/types/vector.hpp>, ...), or";
  }
}

// Reads one T the way cereal_codec<T>() writes it: for a decode_versioned
// that reads an old version's type before upcasting it.
template <class T>
T cereal_decode(std::istream& in) {
  static_assert(cereal_serializable<T>,
                "T has no cereal serialize/save/load functions: add them, or pass a Codec");
  cereal::PortableBinaryInputArchive archive(in);
  T value{};
  archive(value);
  return value;
}

// The default codec: cereal's portable binary archive. cereal's own class
// versions (CEREAL_CLASS_VERSION) work through it: docs/evolution.md.
template <class T>
Codec<T> cereal_codec() {
  static_assert(cereal_serializable<T>,
                "T has no cereal serialize/save/load functions: add them, or pass a Codec");
  return Codec<T>{[](const T& value, std::ostream& out) {
                    cereal::PortableBinaryOutputArchive archive(out);
                    archive(value);
                  },
                  [](std::istream& in) { return cereal_decode<T>(in); }};
}

namespace detail {

// An ostream that appends to a std::string it does not own.
class StringOutBuffer : public std::streambuf {
 public:
  explicit StringOutBuffer(std::string& target) : target_(target) {}

 protected:
  int_type overflow(int_type ch) override {
    if (ch != traits_type::eof()) target_.push_back(static_cast<char>(ch));
    return ch;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    target_.append(s, static_cast<std::size_t>(n));
    return n;
  }

 private:
  std::string& target_;
};

// An istream over bytes it does not own.
class MemoryInBuffer : public std::streambuf {
 public:
  explicit MemoryInBuffer(std::string_view bytes) {
    char* begin = const_cast<char*>(bytes.data());  // never written: get area only
    setg(begin, begin, begin + bytes.size());
  }
};

}  // namespace detail
}  // namespace prevayler
