#include "hearth/base/config.h"

#include <gtest/gtest.h>

#include <fstream>

#include "support/fixtures.h"

namespace hearth {
namespace {

std::vector<ConfigKey> Schema() {
  return {
      {"data_dir", ConfigKind::kString, "/default", ""},
      {"server.port", ConfigKind::kInteger, "8080", ""},
      {"server.host", ConfigKind::kString, "127.0.0.1", ""},
      {"engine.kv_budget", ConfigKind::kBytes, "0", ""},
      {"log.json", ConfigKind::kBool, "false", ""},
  };
}

void WriteFile(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

TEST(ConfigTest, DefaultsApplyWhenNothingElseIsGiven) {
  Config c(Schema());
  EXPECT_EQ(c.GetInteger("server.port"), 8080);
  EXPECT_EQ(c.SourceOf("server.port"), ConfigSource::kDefault);
  EXPECT_FALSE(c.GetBool("log.json"));
}

TEST(ConfigTest, PrecedenceIsDefaultThenFileThenEnvironmentThenFlag) {
  testing::TempDir dir;
  WriteFile(dir / "h.toml", "data_dir = \"/from-file\"\n[server]\nport = 9000\nhost = \"0.0.0.0\"\n");
  std::string env1 = "HEARTH_SERVER_PORT=9100";
  std::string env2 = "HEARTH_DATA_DIR=/from-env";
  std::string env3 = "UNRELATED=1";
  char* env[] = {env1.data(), env2.data(), env3.data(), nullptr};

  Config c(Schema());
  ASSERT_TRUE(c.LoadFile(dir / "h.toml").ok());
  EXPECT_EQ(c.GetInteger("server.port"), 9000);
  ASSERT_TRUE(c.LoadEnvironment(env).ok());
  ASSERT_TRUE(c.SetFromFlag("data_dir", "/from-flag").ok());

  EXPECT_EQ(c.GetString("data_dir"), "/from-flag");
  EXPECT_EQ(c.SourceOf("data_dir"), ConfigSource::kFlag);
  EXPECT_EQ(c.GetInteger("server.port"), 9100);
  EXPECT_EQ(c.SourceOf("server.port"), ConfigSource::kEnvironment);
  EXPECT_EQ(c.GetString("server.host"), "0.0.0.0");
  EXPECT_EQ(c.SourceOf("server.host"), ConfigSource::kFile);
  EXPECT_EQ(c.SourceOf("engine.kv_budget"), ConfigSource::kDefault);
}

TEST(ConfigTest, MalformedFileNamesLineAndChangesNothing) {
  testing::TempDir dir;
  WriteFile(dir / "bad.toml", "[server]\nport = 9000\nhost = \"unterminated\n");
  Config c(Schema());
  Status s = c.LoadFile(dir / "bad.toml");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("line 3"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("bad.toml"), std::string::npos) << s.message();
  EXPECT_EQ(c.GetInteger("server.port"), 8080);
}

TEST(ConfigTest, UnknownKeyAndWrongKindAreRejectedWholly) {
  testing::TempDir dir;
  WriteFile(dir / "typo.toml", "[server]\nport = 9000\nprot = 1\n");
  Config c(Schema());
  Status s = c.LoadFile(dir / "typo.toml");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("unknown key 'server.prot'"), std::string::npos) << s.message();
  EXPECT_EQ(c.GetInteger("server.port"), 8080);  // nothing applied

  WriteFile(dir / "kind.toml", "[server]\nport = \"eighty\"\n");
  s = c.LoadFile(dir / "kind.toml");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("'eighty' is not an integer"), std::string::npos) << s.message();

  EXPECT_FALSE(c.SetFromFlag("server.port", "12x").ok());
  EXPECT_FALSE(c.SetFromFlag("log.json", "maybe").ok());
  EXPECT_EQ(c.LoadFile(dir / "missing.toml").code(), StatusCode::kNotFound);
}

TEST(ConfigTest, EnvironmentValuesAreValidated) {
  std::string bad = "HEARTH_SERVER_PORT=http";
  char* env[] = {bad.data(), nullptr};
  Config c(Schema());
  Status s = c.LoadEnvironment(env);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("HEARTH_SERVER_PORT"), std::string::npos) << s.message();
}

TEST(ConfigTest, ByteSizesParseWithBinaryUnits) {
  EXPECT_EQ(*ParseByteSize("123"), 123u);
  EXPECT_EQ(*ParseByteSize("4k"), 4096u);
  EXPECT_EQ(*ParseByteSize("512M"), 512ull << 20);
  EXPECT_EQ(*ParseByteSize("2GiB"), 2ull << 30);
  EXPECT_EQ(*ParseByteSize("1.5G"), 3ull << 29);
  EXPECT_FALSE(ParseByteSize("").ok());
  EXPECT_FALSE(ParseByteSize("12Q").ok());
  EXPECT_FALSE(ParseByteSize("abc").ok());
  EXPECT_FALSE(ParseByteSize("99999999999T").ok());
}

TEST(ConfigTest, EnvNamesAndDumpAreConsistent) {
  EXPECT_EQ(ConfigEnvName("server.port"), "HEARTH_SERVER_PORT");
  EXPECT_EQ(ConfigEnvName("data_dir"), "HEARTH_DATA_DIR");
  Config c(Schema());
  ASSERT_TRUE(c.SetFromFlag("server.host", "a\"b").ok());
  std::string dump = c.Dump();
  EXPECT_NE(dump.find("server.port = 8080  # default"), std::string::npos) << dump;
  // The dump is itself a valid config file that reproduces the values.
  testing::TempDir dir;
  std::string stripped;
  for (size_t pos = 0; pos < dump.size();) {
    size_t end = dump.find('\n', pos);
    std::string line = dump.substr(pos, end - pos);
    stripped += line.substr(0, line.rfind("  #")) + "\n";
    pos = end + 1;
  }
  WriteFile(dir / "dump.toml", stripped);
  Config d(Schema());
  ASSERT_TRUE(d.LoadFile(dir / "dump.toml").ok()) << stripped;
  EXPECT_EQ(d.GetString("server.host"), "a\"b");
}

}  // namespace
}  // namespace hearth
