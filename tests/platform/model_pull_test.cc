// Pulling models from a Hugging Face-compatible hub (HfMockServer on loopback), and the HTTP
// client's URL handling.
#include "hearth/platform/model_pull.h"

#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>

#include "backends.h"
#include "hearth/base/file_util.h"
#include "hearth/gguf/synth.h"
#include "hearth/platform/crypto.h"
#include "hf_mock_server.h"

namespace hearth::platform::testing {
namespace {

namespace fs = std::filesystem;

std::string TinyModelBytes(const fs::path& dir, uint64_t seed) {
  auto shape = gguf::ShapePreset("tiny", "qwen2");
  EXPECT_TRUE(shape.ok());
  gguf::SynthOptions options;
  options.shape = *shape;
  options.type = "q8_0";
  options.seed = seed;
  options.threads = 1;
  fs::path path = dir / fmt::format("synth-{}.gguf", seed);
  EXPECT_TRUE(gguf::SynthesizeModel(path, options).ok());
  auto bytes = ReadFileToString(path);
  EXPECT_TRUE(bytes.ok());
  return bytes.ok() ? *bytes : std::string();
}

class ModelPullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_dir_ = dir_.path() / "data";
    fs::create_directories(data_dir_);
    auto store = OpenSqliteStore(DefaultStorePath(data_dir_));
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    registry_ = std::make_unique<ModelRegistry>(*store_, data_dir_);
    model_ = TinyModelBytes(dir_.path(), 7);
    ASSERT_GT(model_.size(), 10000u);
    hub_.AddFile("acme/Tiny-GGUF", "tiny-q8_0.gguf", model_);
    hub_.AddFile("acme/Tiny-GGUF", "README.md", "# tiny\n");
    options_.endpoint = hub_.endpoint();
    options_.token = "hf_secret";
    options_.http.connect_timeout = std::chrono::milliseconds(5000);
    options_.http.io_timeout = std::chrono::milliseconds(5000);
  }

  std::vector<HfMockServer::LoggedRequest> CdnRequests() {
    std::vector<HfMockServer::LoggedRequest> out;
    for (const auto& r : hub_.requests()) {
      if (r.target.starts_with("/cdn/")) out.push_back(r);
    }
    return out;
  }
  std::vector<std::string> Downloads() {
    return hearth::testing::ListTree(data_dir_ / "downloads");
  }

  hearth::testing::TempDir dir_;
  fs::path data_dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<ModelRegistry> registry_;
  HfMockServer hub_;
  std::string model_;
  PullOptions options_;
};

TEST_F(ModelPullTest, PullDownloadsVerifiesAndRegisters) {
  std::vector<std::pair<uint64_t, std::optional<uint64_t>>> progress;
  options_.progress = [&](uint64_t done, std::optional<uint64_t> total) {
    progress.emplace_back(done, total);
  };
  ASSERT_OK_AND_ASSIGN(ModelRecord model, PullModel(*registry_, "acme/Tiny-GGUF", options_));
  EXPECT_EQ(model.name, "tiny-q8_0");
  EXPECT_EQ(model.sha256, Sha256Hex(model_));
  EXPECT_EQ(model.size_bytes, static_cast<int64_t>(model_.size()));
  EXPECT_EQ(model.source, "hf:acme/Tiny-GGUF/tiny-q8_0.gguf@" + hub_.endpoint());
  EXPECT_EQ(model.path, (data_dir_ / "models" / "tiny-q8_0" / "tiny-q8_0.gguf").string());
  ASSERT_OK_AND_ASSIGN(std::string stored, ReadFileToString(model.path));
  EXPECT_TRUE(stored == model_);
  EXPECT_TRUE(Downloads().empty()) << "the verified download was moved, not left behind";

  auto cdn = CdnRequests();
  ASSERT_EQ(cdn.size(), 1u) << "the resolve redirect was followed to the CDN";
  EXPECT_EQ(cdn[0].range, "");
  bool listed = false;
  for (const auto& r : hub_.requests()) {
    if (r.target.starts_with("/api/models/acme/Tiny-GGUF/tree/main")) listed = true;
    EXPECT_EQ(r.authorization, "Bearer hf_secret") << r.target << " (same origin)";
  }
  EXPECT_TRUE(listed);
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back().first, model_.size());
  EXPECT_EQ(progress.back().second, model_.size());

  auto again = PullModel(*registry_, "acme/Tiny-GGUF", options_);
  EXPECT_CODE(again, StatusCode::kAlreadyExists);
  EXPECT_EQ(CdnRequests().size(), 1u) << "a taken name is refused before downloading";
}

TEST_F(ModelPullTest, AnInterruptedDownloadResumesWithARangeRequest) {
  const uint64_t cut = model_.size() / 3;
  hub_.DisconnectAfter(cut, 1);
  ASSERT_OK_AND_ASSIGN(ModelRecord model, PullModel(*registry_, "acme/Tiny-GGUF", options_));
  EXPECT_EQ(model.sha256, Sha256Hex(model_));
  auto cdn = CdnRequests();
  ASSERT_EQ(cdn.size(), 2u);
  EXPECT_EQ(cdn[0].range, "");
  EXPECT_EQ(cdn[1].range, fmt::format("bytes={}-", cut));
  EXPECT_LT(hub_.body_bytes_served(), 2 * model_.size());
  EXPECT_EQ(hub_.body_bytes_served(), model_.size()) << "every byte was sent exactly once";
  EXPECT_TRUE(Downloads().empty());
}

TEST_F(ModelPullTest, AFailedPullKeepsItsPartialForTheNextPullToResume) {
  const uint64_t cut = model_.size() / 2;
  hub_.DisconnectAfter(cut, 1);
  options_.attempts = 1;
  auto failed = PullModel(*registry_, "acme/Tiny-GGUF", options_);
  EXPECT_CODE(failed, StatusCode::kUnavailable);
  ASSERT_OK_AND_ASSIGN(auto none, registry_->List());
  EXPECT_TRUE(none.empty()) << "a half-written model is never registered";
  auto partials = Downloads();
  ASSERT_EQ(partials.size(), 1u);
  EXPECT_TRUE(partials[0].ends_with(".partial")) << partials[0];
  EXPECT_EQ(fs::file_size(data_dir_ / "downloads" / partials[0]), cut);

  ASSERT_OK_AND_ASSIGN(ModelRecord model, PullModel(*registry_, "acme/Tiny-GGUF", options_));
  EXPECT_EQ(model.sha256, Sha256Hex(model_));
  auto cdn = CdnRequests();
  ASSERT_EQ(cdn.size(), 2u);
  EXPECT_EQ(cdn[1].range, fmt::format("bytes={}-", cut));
  EXPECT_EQ(hub_.body_bytes_served(), model_.size());
}

TEST_F(ModelPullTest, ACorruptedDownloadIsRefusedAndDeleted) {
  hub_.CorruptServedBytes(true);
  auto refused = PullModel(*registry_, "acme/Tiny-GGUF", options_);
  EXPECT_CODE(refused, StatusCode::kCorruption);
  EXPECT_NE(refused.status().message().find(Sha256Hex(model_)), std::string::npos)
      << refused.status().message();
  ASSERT_OK_AND_ASSIGN(auto none, registry_->List());
  EXPECT_TRUE(none.empty());
  EXPECT_TRUE(Downloads().empty()) << "no partial left";
  EXPECT_TRUE(hearth::testing::ListTree(data_dir_ / "models").empty());
}

TEST_F(ModelPullTest, AWrongAdvertisedSizeIsRefused) {
  hub_.AdvertiseWrongSize(true);
  auto refused = PullModel(*registry_, "acme/Tiny-GGUF", options_);
  EXPECT_CODE(refused, StatusCode::kCorruption);
  EXPECT_TRUE(Downloads().empty());
  ASSERT_OK_AND_ASSIGN(auto none, registry_->List());
  EXPECT_TRUE(none.empty());
}

TEST_F(ModelPullTest, AServerIgnoringRangeMakesTheDownloadRestartCleanly) {
  hub_.DisconnectAfter(model_.size() / 2, 1);
  hub_.IgnoreRange(true);
  ASSERT_OK_AND_ASSIGN(ModelRecord model, PullModel(*registry_, "acme/Tiny-GGUF", options_));
  EXPECT_EQ(model.sha256, Sha256Hex(model_)) << "the 200 body replaced the partial, not appended";
  auto cdn = CdnRequests();
  ASSERT_EQ(cdn.size(), 2u);
  EXPECT_EQ(cdn[1].range, fmt::format("bytes={}-", model_.size() / 2)) << "it did ask";
  EXPECT_EQ(hub_.body_bytes_served(), model_.size() / 2 + model_.size());
}

TEST_F(ModelPullTest, FilesAreChosenExplicitlyWhenTheRepoHoldsSeveral) {
  std::string other = TinyModelBytes(dir_.path(), 8);
  hub_.AddFile("acme/Tiny-GGUF", "q4/tiny-q4.gguf", other);
  auto ambiguous = PullModel(*registry_, "acme/Tiny-GGUF", options_);
  EXPECT_CODE(ambiguous, StatusCode::kInvalidArgument);
  EXPECT_EQ(ambiguous.status().message(),
            "acme/Tiny-GGUF holds 2 .gguf files; choose one with acme/Tiny-GGUF:FILE: "
            "tiny-q8_0.gguf, q4/tiny-q4.gguf");
  auto missing = PullModel(*registry_, "acme/Tiny-GGUF:nope.gguf", options_);
  EXPECT_CODE(missing, StatusCode::kNotFound);

  options_.name = "small";
  ASSERT_OK_AND_ASSIGN(ModelRecord model,
                       PullModel(*registry_, "acme/Tiny-GGUF:q4/tiny-q4.gguf", options_));
  EXPECT_EQ(model.name, "small");
  EXPECT_EQ(model.sha256, Sha256Hex(other));
  EXPECT_EQ(fs::path(model.path).filename(), "tiny-q4.gguf");
  EXPECT_EQ(model.source, "hf:acme/Tiny-GGUF/q4/tiny-q4.gguf@" + hub_.endpoint());
}

TEST_F(ModelPullTest, WithoutTheTreeApiTheSiblingsListAndLinkedHeadersAreUsed) {
  hub_.HideTreeApi(true);
  ASSERT_OK_AND_ASSIGN(ModelRecord model, PullModel(*registry_, "acme/Tiny-GGUF", options_));
  EXPECT_EQ(model.sha256, Sha256Hex(model_));
  // Still verified: X-Linked-Etag on the redirect carries the hash.
  hub_.CorruptServedBytes(true);
  options_.name = "second";
  EXPECT_CODE(PullModel(*registry_, "acme/Tiny-GGUF", options_), StatusCode::kCorruption);
}

TEST_F(ModelPullTest, UnknownReposAndUnreachableHubsFailClearly) {
  auto unknown = PullModel(*registry_, "acme/nothing", options_);
  EXPECT_CODE(unknown, StatusCode::kNotFound);
  EXPECT_NE(unknown.status().message().find("HTTP 404"), std::string::npos)
      << unknown.status().message();

  // A port nobody listens on: bind one, then close it.
  uint16_t port = 0;
  {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor acceptor(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
    port = acceptor.local_endpoint().port();
  }
  options_.endpoint = fmt::format("http://127.0.0.1:{}", port);
  auto refused = PullModel(*registry_, "acme/Tiny-GGUF", options_);
  EXPECT_CODE(refused, StatusCode::kUnavailable);
  EXPECT_NE(refused.status().message().find("connect"), std::string::npos)
      << refused.status().message();
}

TEST(PullSpecTest, SpecsAreParsedAndValidated) {
  ASSERT_OK_AND_ASSIGN(PullSpec plain, ParsePullSpec("Qwen/Qwen2.5-0.5B-Instruct-GGUF"));
  EXPECT_EQ(plain.repo, "Qwen/Qwen2.5-0.5B-Instruct-GGUF");
  EXPECT_EQ(plain.file, "");
  ASSERT_OK_AND_ASSIGN(PullSpec file, ParsePullSpec("org/repo:sub/model.Q8_0.gguf"));
  EXPECT_EQ(file.repo, "org/repo");
  EXPECT_EQ(file.file, "sub/model.Q8_0.gguf");
  for (std::string_view bad : {"repo", "/repo", "org/", "org/re po", "a/b/c",
                               "org/repo:", "org/repo:../x.gguf", "org/repo:/abs.gguf", "../x/y"}) {
    EXPECT_CODE(ParsePullSpec(bad), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(HttpUrlTest, UrlsParseAndRelativeReferencesResolvePerRfc3986) {
  ASSERT_OK_AND_ASSIGN(Url url, ParseUrl("HTTPS://Example.com:8443/a/b?x=1#frag"));
  EXPECT_EQ(url.scheme, "https");
  EXPECT_EQ(url.host, "Example.com");
  EXPECT_EQ(url.port, 8443);
  EXPECT_EQ(url.target, "/a/b?x=1");
  ASSERT_OK_AND_ASSIGN(url, ParseUrl("http://[::1]"));
  EXPECT_EQ(url.host, "::1");
  EXPECT_EQ(url.port, 80);
  EXPECT_EQ(url.ToString(), "http://[::1]/");
  for (std::string_view bad : {"ftp://x/", "http://", "http://u:p@host/", "http://h:0/",
                               "http://h:70000/", "noscheme", "http://h/a b"}) {
    EXPECT_FALSE(ParseUrl(bad).ok()) << bad;
  }
  // RFC 3986 section 5.4.1, base http://a/b/c/d;p?q.
  ASSERT_OK_AND_ASSIGN(Url base, ParseUrl("http://a/b/c/d;p?q"));
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"g", "http://a/b/c/g"},
      {"./g", "http://a/b/c/g"},
      {"g/", "http://a/b/c/g/"},
      {"/g", "http://a/g"},
      {"//g", "http://g/"},
      {"?y", "http://a/b/c/d;p?y"},
      {"g?y", "http://a/b/c/g?y"},
      {"#s", "http://a/b/c/d;p?q"},
      {"", "http://a/b/c/d;p?q"},
      {".", "http://a/b/c/"},
      {"./", "http://a/b/c/"},
      {"..", "http://a/b/"},
      {"../g", "http://a/b/g"},
      {"../..", "http://a/"},
      {"../../g", "http://a/g"},
      {"../../../g", "http://a/g"},
      {"https://cdn.example/x?s=1", "https://cdn.example/x?s=1"},
  };
  for (const auto& [reference, expected] : cases) {
    if (reference.empty()) continue;  // an empty Location is refused, not resolved
    auto resolved = ResolveUrl(base, reference);
    ASSERT_TRUE(resolved.ok()) << reference << ": " << resolved.status().ToString();
    EXPECT_EQ(resolved->ToString(), expected) << reference;
  }
  EXPECT_FALSE(ResolveUrl(base, "").ok());
}

}  // namespace
}  // namespace hearth::platform::testing
