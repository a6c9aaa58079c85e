#include "hearth/platform/admin_time.h"

#include <fmt/format.h>

#include <charconv>
#include <limits>

namespace hearth::platform {
namespace {

constexpr int64_t kMillisPerDay = 86'400'000;

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's civil-date algorithm,
// written from its published description).
int64_t DaysFromCivil(int64_t year, int64_t month, int64_t day) {
  year -= month <= 2 ? 1 : 0;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const int64_t year_of_era = year - era * 400;
  const int64_t day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

struct CivilDate {
  int64_t year, month, day;
};

CivilDate CivilFromDays(int64_t days) {
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t day_of_era = days - era * 146097;
  const int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const int64_t day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const int64_t mp = (5 * day_of_year + 2) / 153;
  const int64_t day = day_of_year - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  return {year_of_era + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

bool IsLeap(int64_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int64_t DaysInMonth(int64_t year, int64_t month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeap(year) ? 29 : kDays[month - 1];
}

// Reads exactly `width` digits at `pos`.
bool Digits(std::string_view text, size_t& pos, size_t width, int64_t& out) {
  if (pos + width > text.size()) return false;
  out = 0;
  for (size_t i = 0; i < width; ++i) {
    const char c = text[pos + i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  pos += width;
  return true;
}

bool Expect(std::string_view text, size_t& pos, char c) {
  if (pos >= text.size() || text[pos] != c) return false;
  ++pos;
  return true;
}

Status Invalid(std::string_view text, std::string_view why) {
  return Status::InvalidArgument(fmt::format(
      "invalid time '{}': {} (use Unix milliseconds or ISO-8601 such as 2024-05-01T12:00:00Z)",
      text, why));
}

}  // namespace

Result<int64_t> ParseTimestamp(std::string_view text) {
  if (text.empty()) return Invalid(text, "empty");
  if (text.find_first_not_of("0123456789") == std::string_view::npos) {
    int64_t ms = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
    if (ec != std::errc() || end != text.data() + text.size()) {
      return Invalid(text, "number out of range");
    }
    return ms;
  }
  size_t pos = 0;
  int64_t year = 0, month = 0, day = 0;
  if (!Digits(text, pos, 4, year) || !Expect(text, pos, '-') || !Digits(text, pos, 2, month) ||
      !Expect(text, pos, '-') || !Digits(text, pos, 2, day)) {
    return Invalid(text, "expected a date YYYY-MM-DD");
  }
  if (month < 1 || month > 12) return Invalid(text, "month outside 1-12");
  if (day < 1 || day > DaysInMonth(year, month)) return Invalid(text, "no such day in that month");
  int64_t ms = DaysFromCivil(year, month, day) * kMillisPerDay;
  if (pos == text.size()) return ms;

  if (text[pos] != 'T' && text[pos] != 't') return Invalid(text, "expected 'T' after the date");
  ++pos;
  int64_t hour = 0, minute = 0, second = 0;
  if (!Digits(text, pos, 2, hour) || !Expect(text, pos, ':') || !Digits(text, pos, 2, minute)) {
    return Invalid(text, "expected a time HH:MM[:SS[.fff]]");
  }
  if (pos < text.size() && text[pos] == ':') {
    ++pos;
    if (!Digits(text, pos, 2, second)) return Invalid(text, "expected seconds SS");
  }
  if (hour > 23 || minute > 59 || second > 59) return Invalid(text, "time of day out of range");
  int64_t fraction_ms = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    size_t digits = 0;
    int64_t scale = 100;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      fraction_ms += (text[pos] - '0') * scale;  // digits beyond milliseconds are dropped
      scale /= 10;
      ++pos;
      ++digits;
    }
    if (digits == 0) return Invalid(text, "expected digits after '.'");
  }
  ms += ((hour * 60 + minute) * 60 + second) * 1000 + fraction_ms;

  if (pos == text.size()) return Invalid(text, "a time of day needs 'Z' or an offset like +02:00");
  if (text[pos] == 'Z' || text[pos] == 'z') {
    ++pos;
  } else if (text[pos] == '+' || text[pos] == '-') {
    const int64_t sign = text[pos] == '+' ? 1 : -1;
    ++pos;
    int64_t offset_hours = 0, offset_minutes = 0;
    if (!Digits(text, pos, 2, offset_hours)) return Invalid(text, "expected an offset +HH:MM");
    if (pos < text.size() && text[pos] == ':') ++pos;
    if (!Digits(text, pos, 2, offset_minutes)) return Invalid(text, "expected an offset +HH:MM");
    if (offset_hours > 23 || offset_minutes > 59) return Invalid(text, "offset out of range");
    // Local time = UTC + offset, so UTC = local - offset.
    ms -= sign * (offset_hours * 60 + offset_minutes) * 60'000;
  } else {
    return Invalid(text, "expected 'Z' or an offset like +02:00");
  }
  if (pos != text.size()) return Invalid(text, "unexpected text after the time");
  return ms;
}

std::string FormatIso8601(int64_t unix_ms) {
  int64_t days = unix_ms / kMillisPerDay;
  int64_t rest = unix_ms % kMillisPerDay;
  if (rest < 0) {
    rest += kMillisPerDay;
    --days;
  }
  const CivilDate date = CivilFromDays(days);
  const int64_t seconds = rest / 1000;
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", date.year, date.month, date.day,
                     seconds / 3600, seconds / 60 % 60, seconds % 60, rest % 1000);
}

}  // namespace hearth::platform
