#include "hearth/loadgen/workload.h"

#include <algorithm>
#include <array>
#include <fstream>
#include <map>

namespace hearth::loadgen {
namespace {

constexpr std::array<const char*, 64> kWords = {
    "the",    "of",      "and",    "to",      "in",     "is",     "that",   "for",
    "it",     "as",      "was",    "with",    "be",     "by",     "on",     "not",
    "he",     "this",    "are",    "or",      "his",    "from",   "at",     "which",
    "but",    "have",    "an",     "had",     "they",   "you",    "were",   "their",
    "one",    "all",     "we",     "can",     "her",    "has",    "there",  "been",
    "if",     "more",    "when",   "will",    "would",  "who",    "so",     "no",
    "time",   "people",  "water",  "day",     "world",  "house",  "system", "report",
    "bank",   "patient", "policy", "account", "record", "market", "energy", "model"};

// Shared machinery: lengths and random prompts, token-exact or word-based.
class PromptMaker {
 public:
  PromptMaker(const WorkloadOptions& options, std::shared_ptr<const TextCodec> codec)
      : options_(options), codec_(std::move(codec)), rng_(options.seed) {}

  int Length(int nominal) {
    if (options_.range_ratio <= 0) return nominal;
    int lo = std::max(1, static_cast<int>(nominal * (1 - options_.range_ratio)));
    int hi = std::max(lo, static_cast<int>(nominal * (1 + options_.range_ratio)));
    return std::uniform_int_distribution<int>(lo, hi)(rng_);
  }

  std::vector<int32_t> RandomIds(int n) {
    std::vector<int32_t> ids;
    ids.reserve(n);
    std::uniform_int_distribution<int32_t> pick(0, codec_->vocab_size - 1);
    while (static_cast<int>(ids.size()) < n) {
      int32_t id = pick(rng_);
      if (codec_->is_plain_token(id)) ids.push_back(id);
    }
    return ids;
  }

  std::string RandomWords(int n) {
    std::string text;
    std::uniform_int_distribution<size_t> pick(0, kWords.size() - 1);
    for (int i = 0; i < n; ++i) {
      if (i > 0) text.push_back(' ');
      text += kWords[pick(rng_)];
    }
    return text;
  }

  bool token_exact() const { return codec_ != nullptr; }
  const TextCodec& codec() const { return *codec_; }
  std::mt19937_64& rng() { return rng_; }

  // A prompt of `ids` (token-exact) for completions or chat.
  PlannedRequest FromIds(const std::vector<int32_t>& ids, int max_tokens) {
    PlannedRequest r;
    r.max_tokens = max_tokens;
    r.prompt_tokens = static_cast<int64_t>(ids.size());
    r.token_exact = !options_.chat;
    if (options_.chat) {
      r.messages = nlohmann::json::array({{{"role", "user"}, {"content", codec_->decode(ids)}}});
    } else {
      r.prompt = ids;
    }
    return r;
  }

  PlannedRequest FromText(const std::string& text, int64_t estimate, int max_tokens) {
    PlannedRequest r;
    r.max_tokens = max_tokens;
    r.prompt_tokens = estimate;
    if (options_.chat) {
      r.messages = nlohmann::json::array({{{"role", "user"}, {"content", text}}});
    } else {
      r.prompt = text;
    }
    return r;
  }

 private:
  const WorkloadOptions& options_;
  std::shared_ptr<const TextCodec> codec_;
  std::mt19937_64 rng_;
};

class RandomWorkload : public Workload {
 public:
  RandomWorkload(const WorkloadOptions& o, std::shared_ptr<const TextCodec> c)
      : options_(o), maker_(options_, std::move(c)) {}
  PlannedRequest Next(int) override {
    int in = maker_.Length(options_.input_len);
    int out = maker_.Length(options_.output_len);
    if (maker_.token_exact()) return maker_.FromIds(maker_.RandomIds(in), out);
    return maker_.FromText(maker_.RandomWords(in), in, out);
  }

 private:
  WorkloadOptions options_;
  PromptMaker maker_;
};

class SharedPrefixWorkload : public Workload {
 public:
  SharedPrefixWorkload(const WorkloadOptions& o, std::shared_ptr<const TextCodec> c)
      : options_(o), maker_(options_, std::move(c)) {
    if (maker_.token_exact()) {
      prefix_ids_ = maker_.RandomIds(options_.prefix_len);
    } else {
      prefix_text_ = maker_.RandomWords(options_.prefix_len);
    }
  }
  PlannedRequest Next(int) override {
    int out = maker_.Length(options_.output_len);
    if (maker_.token_exact()) {
      std::vector<int32_t> ids = prefix_ids_;
      auto suffix = maker_.RandomIds(options_.suffix_len);
      ids.insert(ids.end(), suffix.begin(), suffix.end());
      return maker_.FromIds(ids, out);
    }
    return maker_.FromText(prefix_text_ + " " + maker_.RandomWords(options_.suffix_len),
                           options_.prefix_len + options_.suffix_len, out);
  }

 private:
  WorkloadOptions options_;
  PromptMaker maker_;
  std::vector<int32_t> prefix_ids_;
  std::string prefix_text_;
};

// Each user holds a conversation of `turns` user messages; replies are appended as they come.
class MultiTurnWorkload : public Workload {
 public:
  MultiTurnWorkload(const WorkloadOptions& o, std::shared_ptr<const TextCodec> c)
      : options_(o), maker_(options_, std::move(c)) {}
  PlannedRequest Next(int user) override {
    auto& conv = conversations_[user];
    if (conv.turns_done >= options_.turns) conv = Conversation{};
    int in = maker_.Length(options_.input_len);
    std::string text = maker_.token_exact() ? maker_.codec().decode(maker_.RandomIds(in))
                                            : maker_.RandomWords(in);
    conv.messages.push_back({{"role", "user"}, {"content", text}});
    conv.estimate += in;
    ++conv.turns_done;
    PlannedRequest r;
    r.messages = conv.messages;
    r.max_tokens = maker_.Length(options_.output_len);
    r.prompt_tokens = conv.estimate;
    return r;
  }
  void OnResponse(int user, const std::string& text) override {
    auto& conv = conversations_[user];
    conv.messages.push_back({{"role", "assistant"}, {"content", text}});
    conv.estimate += static_cast<int64_t>(text.size() / 4 + 1);
  }

 private:
  struct Conversation {
    nlohmann::json messages = nlohmann::json::array();
    int turns_done = 0;
    int64_t estimate = 0;
  };
  WorkloadOptions options_;
  PromptMaker maker_;
  std::map<int, Conversation> conversations_;
};

// Prompts from a JSONL file, cycled: {"prompt": …}, {"messages": […]} or ShareGPT-style
// {"conversations": [{"from": "human", "value": …}, {"from": "gpt", "value": …}]}.
class JsonlWorkload : public Workload {
 public:
  JsonlWorkload(const WorkloadOptions& o, std::vector<PlannedRequest> items)
      : options_(o), items_(std::move(items)) {}
  PlannedRequest Next(int) override { return items_[next_++ % items_.size()]; }

 private:
  WorkloadOptions options_;
  std::vector<PlannedRequest> items_;
  size_t next_ = 0;
};

int64_t EstimateTokens(const std::string& text, const TextCodec* codec) {
  if (codec != nullptr) return static_cast<int64_t>(codec->encode(text).size());
  return static_cast<int64_t>(text.size() / 4 + 1);
}

Result<std::vector<PlannedRequest>> LoadJsonl(const WorkloadOptions& o, const TextCodec* codec) {
  std::ifstream in(o.jsonl_path);
  if (!in) return Status::IoError("cannot open prompts file " + o.jsonl_path);
  std::vector<PlannedRequest> items;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto where = [&] { return o.jsonl_path + ":" + std::to_string(number) + ": "; };
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return Status::InvalidArgument(where() + "not a JSON object");
    PlannedRequest r;
    r.max_tokens = j.value("max_tokens", j.value("output_len", o.output_len));
    std::string user_text;
    if (j.contains("prompt") && j["prompt"].is_string()) {
      user_text = j["prompt"].get<std::string>();
    } else if (j.contains("messages") && j["messages"].is_array() && !j["messages"].empty()) {
      r.messages = j["messages"];
      for (const auto& m : r.messages) {
        if (m.contains("content") && m["content"].is_string()) user_text += m["content"].get<std::string>();
      }
    } else if (j.contains("conversations") && j["conversations"].is_array()) {
      for (const auto& turn : j["conversations"]) {
        std::string from = turn.value("from", "");
        std::string value = turn.value("value", "");
        if (user_text.empty() && (from == "human" || from == "user")) {
          user_text = value;
        } else if (!user_text.empty() && (from == "gpt" || from == "assistant")) {
          if (!j.contains("max_tokens")) {
            r.max_tokens = static_cast<int>(std::max<int64_t>(1, EstimateTokens(value, codec)));
          }
          break;
        }
      }
      if (user_text.empty()) return Status::InvalidArgument(where() + "conversation has no human turn");
    } else {
      return Status::InvalidArgument(where() + "needs \"prompt\", \"messages\" or \"conversations\"");
    }
    if (r.messages.is_null()) {
      if (o.chat) {
        r.messages = nlohmann::json::array({{{"role", "user"}, {"content", user_text}}});
      } else {
        r.prompt = user_text;
      }
    } else if (!o.chat) {
      r.prompt = user_text;
      r.messages = nullptr;
    }
    r.prompt_tokens = EstimateTokens(user_text, codec);
    r.token_exact = codec != nullptr;
    items.push_back(std::move(r));
  }
  if (items.empty()) return Status::InvalidArgument("prompts file " + o.jsonl_path + " is empty");
  return items;
}

}  // namespace

Result<std::unique_ptr<Workload>> MakeWorkload(const WorkloadOptions& options,
                                               std::shared_ptr<const TextCodec> codec) {
  if (options.input_len < 1 || options.output_len < 1) {
    return Status::InvalidArgument("input and output lengths must be at least 1");
  }
  if (options.range_ratio < 0 || options.range_ratio >= 1) {
    return Status::InvalidArgument("range ratio must be in [0, 1)");
  }
  switch (options.kind) {
    case WorkloadKind::kRandom:
      return std::unique_ptr<Workload>(new RandomWorkload(options, codec));
    case WorkloadKind::kSharedPrefix:
      if (options.prefix_len < 1 || options.suffix_len < 0) {
        return Status::InvalidArgument("shared prefix needs prefix length ≥ 1");
      }
      return std::unique_ptr<Workload>(new SharedPrefixWorkload(options, codec));
    case WorkloadKind::kMultiTurn:
      if (!options.chat) return Status::InvalidArgument("multi-turn needs the chat endpoint");
      return std::unique_ptr<Workload>(new MultiTurnWorkload(options, codec));
    case WorkloadKind::kJsonl: {
      HEARTH_ASSIGN_OR_RETURN(auto items, LoadJsonl(options, codec.get()));
      return std::unique_ptr<Workload>(new JsonlWorkload(options, std::move(items)));
    }
  }
  return Status::InvalidArgument("unknown workload");
}

}  // namespace hearth::loadgen
