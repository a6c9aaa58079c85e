#include "hearth/platform/crypto.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

#include "backends.h"

namespace hearth::platform::testing {
namespace {

TEST(CryptoTest, Sha256MatchesTheFips180Vectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(CryptoTest, Base32MatchesRfc4648InLowerCaseWithoutPadding) {
  // RFC 4648 section 10, lower-cased, '=' padding dropped.
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},
      {"f", "my"},
      {"fo", "mzxq"},
      {"foo", "mzxw6"},
      {"foob", "mzxw6yq"},
      {"fooba", "mzxw6ytb"},
      {"foobar", "mzxw6ytboi"},
  };
  for (const auto& [in, out] : vectors) EXPECT_EQ(Base32Encode(in), out) << in;
  EXPECT_EQ(Base32Encode(std::string(5, '\xff')), "77777777");
  EXPECT_EQ(Base32Encode(std::string(5, '\0')), "aaaaaaaa");
}

TEST(CryptoTest, HexRoundTripsAndRejectsBadInput) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  std::string hex = HexEncode(bytes);
  EXPECT_EQ(hex.substr(0, 8), "00010203");
  EXPECT_EQ(hex.substr(hex.size() - 4), "feff");
  ASSERT_OK_AND_ASSIGN(std::string back, HexDecode(hex));
  EXPECT_EQ(back, bytes);
  ASSERT_OK_AND_ASSIGN(back, HexDecode("ABcd"));
  EXPECT_EQ(back, "\xab\xcd");
  EXPECT_CODE(HexDecode("abc"), StatusCode::kInvalidArgument);
  EXPECT_CODE(HexDecode("zz"), StatusCode::kInvalidArgument);
}

TEST(CryptoTest, ConstantTimeEqualsAgreesWithPlainEquality) {
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string a(rng() % 6, '\0');
    std::string b(rng() % 6, '\0');
    for (char& c : a) c = static_cast<char>(rng() % 3);  // small alphabet: many equal pairs
    for (char& c : b) c = static_cast<char>(rng() % 3);
    EXPECT_EQ(ConstantTimeEquals(a, b), a == b);
  }
  std::string hash = Sha256Hex("x");
  std::string last_differs = hash;
  last_differs.back() ^= 1;
  EXPECT_TRUE(ConstantTimeEquals(hash, hash));
  EXPECT_FALSE(ConstantTimeEquals(hash, last_differs));
  EXPECT_FALSE(ConstantTimeEquals(hash, hash.substr(1)));
}

TEST(CryptoTest, RandomBytesAreFreshEachTime) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    ASSERT_OK_AND_ASSIGN(std::string bytes, RandomBytes(16));
    EXPECT_EQ(bytes.size(), 16u);
    seen.insert(bytes);
  }
  EXPECT_EQ(seen.size(), 100u);
  ASSERT_OK_AND_ASSIGN(std::string none, RandomBytes(0));
  EXPECT_TRUE(none.empty());
}

}  // namespace
}  // namespace hearth::platform::testing
