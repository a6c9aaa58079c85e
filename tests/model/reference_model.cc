#include "model/reference_model.h"

#include <gtest/gtest.h>

#include <cmath>

#include "hearth/gguf/quantize.h"

namespace hearth::model::testing {
namespace {

// y[o] = sum_i w[o * in + i] * x[i]
std::vector<double> Apply(const std::vector<double>& w, const std::vector<double>& x, int out) {
  const size_t in = x.size();
  std::vector<double> y(static_cast<size_t>(out), 0.0);
  for (size_t o = 0; o < y.size(); ++o) {
    double sum = 0;
    for (size_t i = 0; i < in; ++i) sum += w[o * in + i] * x[i];
    y[o] = sum;
  }
  return y;
}

std::vector<double> RmsNorm(const std::vector<double>& x, const std::vector<double>& w,
                            double eps) {
  double ss = 0;
  for (double v : x) ss += v * v;
  const double inv = 1.0 / std::sqrt(ss / static_cast<double>(x.size()) + eps);
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * inv * w[i];
  return y;
}

void Rope(double* v, int rope_dims, bool neox, double base, int pos) {
  const int half = rope_dims / 2;
  for (int i = 0; i < half; ++i) {
    const double theta = pos * std::pow(base, -2.0 * i / rope_dims);
    const int a = neox ? i : 2 * i;
    const int b = neox ? i + half : 2 * i + 1;
    const double x0 = v[a], x1 = v[b];
    v[a] = x0 * std::cos(theta) - x1 * std::sin(theta);
    v[b] = x0 * std::sin(theta) + x1 * std::cos(theta);
  }
}

}  // namespace

std::vector<double> ReferenceModel::Tensor(const gguf::GgufFile& file,
                                           const std::string& name) const {
  const gguf::TensorInfo* t = file.FindTensor(name);
  if (t == nullptr) return {};
  std::vector<float> f(static_cast<size_t>(t->element_count));
  gguf::DequantizeRow(t->type, t->data, f.data(), t->element_count);
  return std::vector<double>(f.begin(), f.end());
}

ReferenceModel::ReferenceModel(const gguf::GgufFile& file) {
  const std::string arch(file.architecture());
  neox_ = arch == "qwen2";
  auto u = [&](const char* key, int fallback) {
    auto v = file.GetUint(arch + "." + key);
    return v.ok() ? static_cast<int>(*v) : fallback;
  };
  layers_ = u("block_count", 0);
  dim_ = u("embedding_length", 0);
  ffn_ = u("feed_forward_length", 0);
  heads_ = u("attention.head_count", 0);
  kv_heads_ = u("attention.head_count_kv", heads_);
  head_dim_ = heads_ > 0 ? dim_ / heads_ : 0;
  rope_dims_ = u("rope.dimension_count", head_dim_);
  if (auto e = file.GetFloat(arch + ".attention.layer_norm_rms_epsilon"); e.ok()) eps_ = *e;
  if (auto b = file.GetFloat(arch + ".rope.freq_base"); b.ok()) rope_base_ = *b;
  embedding_ = Tensor(file, "token_embd.weight");
  output_ = Tensor(file, "output.weight");
  if (output_.empty()) output_ = embedding_;
  output_norm_ = Tensor(file, "output_norm.weight");
  vocab_ = dim_ > 0 ? static_cast<int>(embedding_.size() / dim_) : 0;
  for (int l = 0; l < layers_; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    Layer layer;
    layer.attn_norm = Tensor(file, p + "attn_norm.weight");
    layer.ffn_norm = Tensor(file, p + "ffn_norm.weight");
    layer.q_bias = Tensor(file, p + "attn_q.bias");
    layer.k_bias = Tensor(file, p + "attn_k.bias");
    layer.v_bias = Tensor(file, p + "attn_v.bias");
    layer.wq = Tensor(file, p + "attn_q.weight");
    layer.wk = Tensor(file, p + "attn_k.weight");
    layer.wv = Tensor(file, p + "attn_v.weight");
    layer.wo = Tensor(file, p + "attn_output.weight");
    layer.w_gate = Tensor(file, p + "ffn_gate.weight");
    layer.w_up = Tensor(file, p + "ffn_up.weight");
    layer.w_down = Tensor(file, p + "ffn_down.weight");
    if (layer.wq.empty() || layer.w_down.empty()) ok_ = false;
    layer_.push_back(std::move(layer));
  }
  if (layers_ == 0 || dim_ == 0 || embedding_.empty() || output_norm_.empty()) ok_ = false;
  if (!ok_) ADD_FAILURE() << "reference model: cannot read " << file.path();
}

std::vector<std::vector<double>> ReferenceModel::Forward(
    const std::vector<int32_t>& tokens) const {
  const int kv_width = kv_heads_ * head_dim_;
  const int group = heads_ / kv_heads_;
  // keys[layer][pos] and values[layer][pos]: kv_width each.
  std::vector<std::vector<std::vector<double>>> keys(layers_), values(layers_);
  std::vector<std::vector<double>> logits;
  for (size_t pos = 0; pos < tokens.size(); ++pos) {
    std::vector<double> x(embedding_.begin() + static_cast<ptrdiff_t>(tokens[pos]) * dim_,
                          embedding_.begin() + static_cast<ptrdiff_t>(tokens[pos] + 1) * dim_);
    for (int l = 0; l < layers_; ++l) {
      const Layer& w = layer_[l];
      const std::vector<double> h = RmsNorm(x, w.attn_norm, eps_);
      std::vector<double> q = Apply(w.wq, h, heads_ * head_dim_);
      std::vector<double> k = Apply(w.wk, h, kv_width);
      std::vector<double> v = Apply(w.wv, h, kv_width);
      for (size_t i = 0; i < w.q_bias.size(); ++i) q[i] += w.q_bias[i];
      for (size_t i = 0; i < w.k_bias.size(); ++i) k[i] += w.k_bias[i];
      for (size_t i = 0; i < w.v_bias.size(); ++i) v[i] += w.v_bias[i];
      for (int hd = 0; hd < heads_; ++hd) {
        Rope(&q[hd * head_dim_], rope_dims_, neox_, rope_base_, static_cast<int>(pos));
      }
      for (int hd = 0; hd < kv_heads_; ++hd) {
        Rope(&k[hd * head_dim_], rope_dims_, neox_, rope_base_, static_cast<int>(pos));
      }
      keys[l].push_back(k);
      values[l].push_back(v);
      std::vector<double> attn(static_cast<size_t>(heads_ * head_dim_), 0.0);
      for (int hd = 0; hd < heads_; ++hd) {
        const int kvh = hd / group;
        std::vector<double> scores(pos + 1);
        double max_score = -1e300;
        for (size_t t = 0; t <= pos; ++t) {
          double dot = 0;
          for (int d = 0; d < head_dim_; ++d) {
            dot += q[hd * head_dim_ + d] * keys[l][t][kvh * head_dim_ + d];
          }
          scores[t] = dot / std::sqrt(static_cast<double>(head_dim_));
          max_score = std::max(max_score, scores[t]);
        }
        double total = 0;
        for (double& s : scores) total += (s = std::exp(s - max_score));
        for (size_t t = 0; t <= pos; ++t) {
          for (int d = 0; d < head_dim_; ++d) {
            attn[hd * head_dim_ + d] += scores[t] / total * values[l][t][kvh * head_dim_ + d];
          }
        }
      }
      const std::vector<double> o = Apply(w.wo, attn, dim_);
      for (int i = 0; i < dim_; ++i) x[i] += o[i];
      const std::vector<double> h2 = RmsNorm(x, w.ffn_norm, eps_);
      std::vector<double> g = Apply(w.w_gate, h2, ffn_);
      const std::vector<double> up = Apply(w.w_up, h2, ffn_);
      for (int i = 0; i < ffn_; ++i) g[i] = g[i] / (1 + std::exp(-g[i])) * up[i];
      const std::vector<double> down = Apply(w.w_down, g, dim_);
      for (int i = 0; i < dim_; ++i) x[i] += down[i];
    }
    logits.push_back(Apply(output_, RmsNorm(x, output_norm_, eps_), vocab_));
  }
  return logits;
}

}  // namespace hearth::model::testing
