#include "hearth/tokenizer/pretokenize.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <fmt/format.h>

namespace hearth::tokenizer {
namespace {

constexpr uint32_t kCompileOptions =
    PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY;
// Generous JIT stack: patterns like \s+(?!\S) backtrack over long whitespace runs.
constexpr size_t kJitStackStart = 32 * 1024;
constexpr size_t kJitStackMax = 4 * 1024 * 1024;

// Per-thread match resources: a JIT stack may not be shared between threads.
struct ThreadMatchResources {
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* jit_stack = nullptr;

  ThreadMatchResources() {
    context = pcre2_match_context_create(nullptr);
    jit_stack = pcre2_jit_stack_create(kJitStackStart, kJitStackMax, nullptr);
    if (context != nullptr && jit_stack != nullptr) {
      pcre2_jit_stack_assign(context, nullptr, jit_stack);
    }
  }
  ~ThreadMatchResources() {
    pcre2_jit_stack_free(jit_stack);
    pcre2_match_context_free(context);
  }
};

ThreadMatchResources& MatchResources() {
  thread_local ThreadMatchResources resources;
  return resources;
}

}  // namespace

struct PreTokenizer::Compiled {
  std::string pattern;
  pcre2_code* code = nullptr;
  bool jit = false;

  ~Compiled() { pcre2_code_free(code); }
};

PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;
PreTokenizer::~PreTokenizer() = default;

size_t PreTokenizer::pattern_count() const { return compiled_.size(); }

Result<PreTokenizer> PreTokenizer::ForName(std::string_view pre_name) {
  HEARTH_ASSIGN_OR_RETURN(auto patterns, PreTokenizerPatterns(pre_name));
  return FromPatterns(std::move(patterns));
}

Result<PreTokenizer> PreTokenizer::FromPatterns(std::vector<std::string> patterns) {
  PreTokenizer result;
  for (auto& pattern : patterns) {
    auto compiled = std::make_unique<Compiled>();
    int error = 0;
    PCRE2_SIZE error_offset = 0;
    compiled->code =
        pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                      kCompileOptions, &error, &error_offset, nullptr);
    if (compiled->code == nullptr) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error, message, sizeof(message));
      return Status::InvalidArgument(
          fmt::format("tokenizer: pre-tokenizer pattern /{}/ at offset {}: {}", pattern,
                      error_offset, reinterpret_cast<const char*>(message)));
    }
    // JIT is an optimisation; the interpreter gives the same answers where JIT is unavailable.
    compiled->jit = pcre2_jit_compile(compiled->code, PCRE2_JIT_COMPLETE) == 0;
    compiled->pattern = std::move(pattern);
    result.compiled_.push_back(std::move(compiled));
  }
  return result;
}

void PreTokenizer::Split(std::string_view text, std::vector<std::string_view>& pieces) const {
  if (text.empty()) return;
  if (compiled_.empty()) {
    pieces.push_back(text);
    return;
  }
  auto& resources = MatchResources();
  std::vector<std::string_view> current{text};
  std::vector<std::string_view> next;
  for (size_t p = 0; p < compiled_.size(); ++p) {
    const Compiled& compiled = *compiled_[p];
    pcre2_match_data* match_data = pcre2_match_data_create_from_pattern(compiled.code, nullptr);
    std::vector<std::string_view>& out = (p + 1 == compiled_.size()) ? pieces : next;
    for (std::string_view segment : current) {
      const auto* subject = reinterpret_cast<PCRE2_SPTR>(segment.data());
      size_t gap_start = 0;
      size_t start = 0;
      while (start < segment.size()) {
        int rc = compiled.jit ? pcre2_jit_match(compiled.code, subject, segment.size(), start, 0,
                                                match_data, resources.context)
                              : PCRE2_ERROR_JIT_BADOPTION;
        if (rc == PCRE2_ERROR_JIT_BADOPTION || rc == PCRE2_ERROR_JIT_STACKLIMIT) {
          rc = pcre2_match(compiled.code, subject, segment.size(), start, 0, match_data,
                           resources.context);
        }
        if (rc < 0) break;  // no further match (or a resource limit): the rest is one gap
        const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match_data);
        const size_t match_start = ovector[0];
        const size_t match_end = ovector[1];
        if (match_end <= match_start) {
          // None of our patterns matches the empty string, but a caller-supplied one might:
          // step over one byte so the loop always advances.
          start = match_start + 1;
          continue;
        }
        if (match_start > gap_start) {
          out.push_back(segment.substr(gap_start, match_start - gap_start));
        }
        out.push_back(segment.substr(match_start, match_end - match_start));
        gap_start = start = match_end;
      }
      if (gap_start < segment.size()) out.push_back(segment.substr(gap_start));
    }
    pcre2_match_data_free(match_data);
    if (&out == &next) {
      current.swap(next);
      next.clear();
    }
  }
}

}  // namespace hearth::tokenizer
