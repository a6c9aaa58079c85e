// ModelRegistry: importing GGUF files into the data directory and the store.
#include "hearth/platform/model_registry.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "backends.h"
#include "hearth/base/file_util.h"
#include "hearth/gguf/gguf_file.h"
#include "hearth/gguf/synth.h"
#include "hearth/platform/crypto.h"

namespace hearth::platform::testing {
namespace {

namespace fs = std::filesystem;

// A tiny synthetic GGUF model at `path`.
void WriteTinyModel(const fs::path& path, uint64_t seed = 1) {
  auto shape = gguf::ShapePreset("tiny", "llama");
  ASSERT_TRUE(shape.ok()) << shape.status().ToString();
  gguf::SynthOptions options;
  options.shape = *shape;
  options.type = "q8_0";
  options.seed = seed;
  options.threads = 1;
  ASSERT_OK(gguf::SynthesizeModel(path, options));
}

class ModelRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_dir_ = dir_.path() / "data";
    fs::create_directories(data_dir_);
    auto store = OpenSqliteStore(DefaultStorePath(data_dir_));
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    registry_ = std::make_unique<ModelRegistry>(*store_, data_dir_);
    fs::create_directories(dir_.path() / "in");
  }
  fs::path In(const std::string& name) { return dir_.path() / "in" / name; }

  hearth::testing::TempDir dir_;
  fs::path data_dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<ModelRegistry> registry_;
};

TEST_F(ModelRegistryTest, ImportCopiesHashesDescribesAndRecordsTheModel) {
  WriteTinyModel(In("Tiny Llama.Q8_0.gguf"));
  ASSERT_OK_AND_ASSIGN(std::string original, ReadFileToString(In("Tiny Llama.Q8_0.gguf")));

  ASSERT_OK_AND_ASSIGN(ModelRecord model, registry_->Import(In("Tiny Llama.Q8_0.gguf")));
  EXPECT_EQ(model.name, "Tiny-Llama.Q8_0");
  fs::path expected_path = data_dir_ / "models" / "Tiny-Llama.Q8_0" / "Tiny Llama.Q8_0.gguf";
  EXPECT_EQ(model.path, expected_path.string());
  EXPECT_EQ(model.source, "file:" + In("Tiny Llama.Q8_0.gguf").string());
  EXPECT_EQ(model.size_bytes, static_cast<int64_t>(original.size()));
  EXPECT_EQ(model.sha256, Sha256Hex(original)) << "one-shot SHA-256 of the original bytes";
  ASSERT_OK_AND_ASSIGN(std::string stored, ReadFileToString(expected_path));
  EXPECT_TRUE(stored == original) << "the stored copy is byte-identical";
  EXPECT_TRUE(fs::exists(In("Tiny Llama.Q8_0.gguf"))) << "import copies; the input stays";

  auto metadata = nlohmann::json::parse(model.metadata_json);
  auto file = gguf::GgufFile::Open(expected_path);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(metadata["architecture"], "llama");
  EXPECT_EQ(metadata["file_bytes"], original.size());
  EXPECT_EQ(metadata["layers"], 2);
  EXPECT_EQ(metadata["embedding_dim"], 128);
  EXPECT_EQ(metadata["memory"]["parallel"], 1);

  ASSERT_OK_AND_ASSIGN(ModelRecord shown, registry_->Show("tiny-llama.q8_0"));
  EXPECT_EQ(shown.id, model.id);
  ASSERT_OK_AND_ASSIGN(auto all, registry_->List());
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(hearth::testing::ListTree(data_dir_ / "models"),
            (std::vector<std::string>{"Tiny-Llama.Q8_0", "Tiny-Llama.Q8_0/Tiny Llama.Q8_0.gguf"}))
      << "no staging directory is left behind";
}

TEST_F(ModelRegistryTest, ADirectoryMustHoldExactlyOneGguf) {
  fs::create_directories(In("one"));
  WriteTinyModel(In("one") / "model.gguf");
  ASSERT_OK(AtomicWriteFile(In("one") / "README.md", "# a model\n"));
  ImportOptions named;
  named.name = "from-dir";
  ASSERT_OK_AND_ASSIGN(ModelRecord model, registry_->Import(In("one"), named));
  EXPECT_EQ(model.name, "from-dir");
  EXPECT_EQ(fs::path(model.path).filename(), "model.gguf");

  fs::create_directories(In("two"));
  WriteTinyModel(In("two") / "b.gguf", 2);
  WriteTinyModel(In("two") / "a.GGUF", 3);
  auto two = registry_->Import(In("two"));
  EXPECT_CODE(two, StatusCode::kInvalidArgument);
  EXPECT_EQ(two.status().message(),
            fmt::format("directory {} holds 2 .gguf files (a.GGUF, b.gguf); import one of them "
                        "by its path",
                        In("two").string()));
  fs::create_directories(In("none"));
  EXPECT_CODE(registry_->Import(In("none")), StatusCode::kNotFound);
  EXPECT_CODE(registry_->Import(In("missing.gguf")), StatusCode::kNotFound);
}

TEST_F(ModelRegistryTest, ANonGgufOrDamagedFileIsRefusedWithTheGgufError) {
  ASSERT_OK(AtomicWriteFile(In("notes.gguf"), "these are not the weights you are looking for"));
  auto refused = registry_->Import(In("notes.gguf"));
  ASSERT_FALSE(refused.ok());
  auto direct = gguf::GgufFile::Open(In("notes.gguf"));
  ASSERT_FALSE(direct.ok());
  EXPECT_NE(refused.status().message().find(direct.status().message()), std::string::npos)
      << refused.status().ToString() << " should carry " << direct.status().ToString();
  EXPECT_EQ(refused.status().code(), direct.status().code());

  // A real model cut short: the header promises tensors the file does not hold.
  WriteTinyModel(In("whole.gguf"));
  ASSERT_OK_AND_ASSIGN(std::string bytes, ReadFileToString(In("whole.gguf")));
  ASSERT_OK(AtomicWriteFile(In("cut.gguf"), std::string_view(bytes).substr(0, bytes.size() / 2)));
  EXPECT_FALSE(registry_->Import(In("cut.gguf")).ok());

  ASSERT_OK_AND_ASSIGN(auto all, registry_->List());
  EXPECT_TRUE(all.empty());
  EXPECT_TRUE(hearth::testing::ListTree(data_dir_ / "models").empty()) << "no stray files";
}

TEST_F(ModelRegistryTest, ATakenOrMalformedNameIsRefusedBeforeCopying) {
  WriteTinyModel(In("m.gguf"));
  ImportOptions options;
  options.name = "Chat";
  ASSERT_OK(registry_->Import(In("m.gguf"), options).status());
  options.name = "chat";
  auto taken = registry_->Import(In("m.gguf"), options);
  EXPECT_CODE(taken, StatusCode::kAlreadyExists);
  EXPECT_EQ(taken.status().message(), "model 'Chat' already exists");
  options.name = "bad name";
  EXPECT_CODE(registry_->Import(In("m.gguf"), options), StatusCode::kInvalidArgument);
  EXPECT_EQ(hearth::testing::ListTree(data_dir_ / "models"),
            (std::vector<std::string>{"Chat", "Chat/m.gguf"}));
}

TEST_F(ModelRegistryTest, AModelIsNotDeletedWhileDeployed) {
  WriteTinyModel(In("m.gguf"));
  ASSERT_OK_AND_ASSIGN(ModelRecord model, registry_->Import(In("m.gguf")));
  DeploymentSpec spec;
  spec.name = "chat";
  spec.model_id = model.id;
  ASSERT_OK_AND_ASSIGN(Deployment deployment,
                       store_->CreateDeployment(spec, DesiredState::kRunning));

  Status refused = registry_->Delete("m");
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition) << refused.ToString();
  EXPECT_NE(refused.message().find("deployment 'chat'"), std::string::npos) << refused.message();
  EXPECT_TRUE(fs::exists(model.path)) << "a refused delete keeps the files";
  ASSERT_OK(registry_->Show("m").status());

  ASSERT_OK(store_->DeleteDeployment(deployment.id));
  ASSERT_OK(registry_->Delete("M"));
  EXPECT_FALSE(fs::exists(model.path));
  EXPECT_TRUE(hearth::testing::ListTree(data_dir_ / "models").empty());
  EXPECT_CODE(registry_->Show("m"), StatusCode::kNotFound);
  EXPECT_EQ(registry_->Delete("m").code(), StatusCode::kNotFound);
}

TEST(ModelRegistryNamesTest, NamesDerivedFromFileNamesAreValid) {
  EXPECT_EQ(ModelRegistry::NameFromFileName("qwen2.5-0.5b-instruct-q8_0.gguf"),
            "qwen2.5-0.5b-instruct-q8_0");
  EXPECT_EQ(ModelRegistry::NameFromFileName("My Model (v2).GGUF"), "My-Model--v2-");
  EXPECT_EQ(ModelRegistry::NameFromFileName("__x.gguf"), "x");
  EXPECT_EQ(ModelRegistry::NameFromFileName(".gguf"), "model");
  EXPECT_EQ(ModelRegistry::NameFromFileName(std::string(300, 'a') + ".gguf").size(), 128u);
  for (std::string_view file : {"a b.gguf", "ünï.gguf", "-.gguf", "x:y.gguf"}) {
    EXPECT_TRUE(ValidateModelName(ModelRegistry::NameFromFileName(file)).ok()) << file;
  }
}

TEST(Sha256Test, StreamingMatchesOneShotAndKnownVectors) {
  Sha256Hasher empty;
  // FIPS 180-2 test vectors.
  EXPECT_EQ(empty.HexDigest(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256Hasher abc;
  abc.Update("a");
  abc.Update("bc");
  EXPECT_EQ(abc.HexDigest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace hearth::platform::testing
