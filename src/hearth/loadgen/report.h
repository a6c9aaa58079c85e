// Presenting a serving benchmark: a terminal table and a JSON document with the same fields.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "hearth/loadgen/request_metrics.h"

namespace hearth::loadgen {

nlohmann::json SummaryToJson(const BenchmarkSummary& summary);
std::string SummaryToTable(const BenchmarkSummary& summary);

}  // namespace hearth::loadgen
