// libFuzzer target: GgufFile::Parse over arbitrary bytes, then every accessor on what it
// accepted. Any crash, sanitizer report or out-of-bounds read is a bug in the reader.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "hearth/gguf/gguf_file.h"
#include "hearth/gguf/model_info.h"

namespace {

volatile uint64_t g_sink;  // keeps the reads from being optimised away

void Touch(const hearth::gguf::Value& v) {
  g_sink = g_sink + v.u + static_cast<uint64_t>(v.i) + v.s.size() + (v.is_integer() ? 1 : 0) +
           (v.is_float() ? 1 : 0);
  if (!v.s.empty()) g_sink = g_sink + static_cast<uint8_t>(v.s.back());
  for (const auto& e : v.elements) Touch(e);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using hearth::gguf::GgufFile;
  auto parsed = GgufFile::Parse(std::span<const uint8_t>(data, size));
  if (!parsed.ok()) return 0;
  const GgufFile& f = *parsed;
  g_sink = f.version() + f.alignment() + f.data_offset() + f.file_size();
  for (const auto& kv : f.metadata()) {
    Touch(kv.value);
    g_sink = g_sink + (f.Find(kv.key) != nullptr);
    (void)f.GetString(kv.key);
    (void)f.GetUint(kv.key);
    (void)f.GetInt(kv.key);
    (void)f.GetFloat(kv.key);
    (void)f.GetBool(kv.key);
    (void)f.GetStringArray(kv.key);
    (void)f.GetIntArray(kv.key);
    (void)f.GetFloatArray(kv.key);
  }
  for (const auto& t : f.tensors()) {
    g_sink = g_sink + static_cast<uint64_t>(t.rows() + t.row_length()) + t.size_bytes;
    if (t.size_bytes > 0) g_sink = g_sink + t.data[0] + t.data[t.size_bytes - 1];
    g_sink = g_sink + (f.FindTensor(t.name) == &t);
  }
  (void)f.architecture();
  (void)f.ArchUint("block_count");
  (void)f.ArchFloat("rope.freq_base");
  auto info = hearth::gguf::DescribeModel(f);
  if (info.ok()) {
    auto m = hearth::gguf::EstimateMemory(*info, 4096, 2);
    g_sink = g_sink + m.total_f16;
  }
  return 0;
}
