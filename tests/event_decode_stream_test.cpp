// Replay decodes every event through one reused istream per thread
// (prevayler/detail/reused_in_stream.hpp): each event's codec must still
// see the stream a new std::istream would be, whatever the codec did to
// the stream of the event before.
#include <gtest/gtest.h>

#include <cstdint>
#include <istream>
#include <locale>
#include <memory>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "prevayler/detail/reused_in_stream.hpp"
#include "prevayler/memory_storage.hpp"
#include "prevayler/prevayler.hpp"
#include "support/event_log.hpp"

namespace prevayler::testing {
namespace {

using Events = std::vector<std::int64_t>;
using P = Prevayler<EventLog, std::int64_t>;

// Parses every integer 1000 higher than written: imbued by the codec
// below, it shows whether one event's locale reached the next.
struct PlusThousand : std::num_get<char> {
  iter_type do_get(iter_type in, iter_type end, std::ios_base& stream, std::ios_base::iostate& err,
                   long& value) const override {
    in = std::num_get<char>::do_get(in, end, stream, err, value);
    value += 1000;
    return in;
  }
};

// Text events whose decoder leaves the stream as a careless codec would:
// hexadecimal, throwing on bad, failed at end of file, with a width, and
// (after the first event) an imbued locale that changes what it parses.
Codec<std::int64_t> careless_text_codec() {
  Codec<std::int64_t> codec;
  codec.encode = [](const std::int64_t& e, std::ostream& out) { out << e; };
  codec.decode = [](std::istream& in) {
    long e = 0;
    in >> e;
    in >> std::hex;
    in.width(3);
    in.precision(2);
    in.exceptions(std::ios::badbit);
    (void)in.peek();  // at the end: sets eofbit and failbit
    in.imbue(std::locale(in.getloc(), new PlusThousand));
    return static_cast<std::int64_t>(e);
  };
  return codec;
}

TEST(EventDecodeStreamTest, EachEventIsDecodedFromAStreamInItsInitialState) {
  auto store = std::make_shared<MemoryStore>();
  const Events events = {10, 11, 12, 100, 7, 10};
  {
    P::Options o = event_log_options(make_memory_storage(store));
    o.event_codec = careless_text_codec();
    P p(std::move(o));
    for (const std::int64_t e : events) p.handle(e);
    p.close();
  }
  P::Options o = event_log_options(make_memory_storage(store));
  o.event_codec = careless_text_codec();
  P again(std::move(o));
  EXPECT_EQ(again.stats().events_replayed, events.size());
  EXPECT_EQ(again.state()->events, events);
}

TEST(EventDecodeStreamTest, TheReusedStreamStartsEachEventAsANewStream) {
  detail::ReusedInStream reused;
  std::istream& first = reused.over("ff 12");
  first >> std::hex;
  first.exceptions(std::ios::badbit);
  first.imbue(std::locale(first.getloc(), new PlusThousand));
  std::stringbuf other("99");
  first.rdbuf(&other);

  std::istream& second = reused.over("10 20");
  const std::istream fresh(nullptr);
  EXPECT_TRUE(second.good());
  EXPECT_EQ(second.flags(), fresh.flags());
  EXPECT_EQ(second.exceptions(), fresh.exceptions());
  EXPECT_EQ(second.width(), fresh.width());
  EXPECT_EQ(second.precision(), fresh.precision());
  EXPECT_EQ(second.getloc(), std::locale());
  long a = 0, b = 0;
  second >> a >> b;
  EXPECT_EQ(a, 10);
  EXPECT_EQ(b, 20);
  EXPECT_TRUE(second.eof());

  std::istream& third = reused.over("30");
  EXPECT_TRUE(third.good());
  long c = 0;
  third >> c;
  EXPECT_EQ(c, 30);
}

}  // namespace
}  // namespace prevayler::testing
