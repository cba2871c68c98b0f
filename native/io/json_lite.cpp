#include "native/io/json_lite.h"

#include <cmath>
#include <limits>
#include <locale>
#include <sstream>

namespace atman::json {

ParseError::ParseError(const std::string& cause, size_t at)
    : Error(cause + " at byte " + std::to_string(at)), offset(at) {}

const Value* Value::find(std::string_view key) const {
  for (const auto& m : object)
    if (m.first == key) return &m.second;
  return nullptr;
}

const char* kindName(Value::Kind k) {
  switch (k) {
    case Value::Kind::Null: return "null";
    case Value::Kind::Bool: return "a boolean";
    case Value::Kind::Number: return "a number";
    case Value::Kind::String: return "a string";
    case Value::Kind::Array: return "an array";
    case Value::Kind::Object: return "an object";
  }
  return "a value";
}

namespace {

// Length of the valid UTF-8 sequence starting at p (at most n bytes available), or 0 if invalid.
// Rejects overlong forms, surrogates and code points beyond U+10FFFF.
size_t utf8Length(const unsigned char* p, size_t n) {
  unsigned char c = p[0];
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) len = 2;
  else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else return 0;
  if (n < len || p[1] < lo || p[1] > hi) return 0;
  for (size_t i = 2; i < len; i++)
    if (p[i] < 0x80 || p[i] > 0xBF) return 0;
  return len;
}

void appendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

class Parser {
 public:
  Parser(std::string_view text, const Limits& limits) : s_(text), limits_(limits) {}

  Value document() {
    if (s_.size() > limits_.maxBytes)
      throw ParseError("JSON text of " + std::to_string(s_.size()) + " bytes exceeds the limit of " +
                           std::to_string(limits_.maxBytes),
                       0);
    skipSpace();
    if (pos_ == s_.size()) fail("empty JSON text");
    Value v = value(0);
    skipSpace();
    if (pos_ != s_.size()) fail("unexpected " + here() + " after the JSON value");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& cause) const { throw ParseError(cause, pos_); }

  // The character at pos_, described for messages.
  std::string here() const {
    if (pos_ >= s_.size()) return "end of text";
    unsigned char c = static_cast<unsigned char>(s_[pos_]);
    if (c >= 0x20 && c < 0x7F) return std::string("character '") + static_cast<char>(c) + "'";
    static const char* hex = "0123456789abcdef";
    return std::string("byte 0x") + hex[c >> 4] + hex[c & 15];
  }

  void skipSpace() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) pos_++;
  }

  void expect(char c) {
    if (pos_ >= s_.size() || s_[pos_] != c) fail(std::string("expected '") + c + "' but found " + here());
    pos_++;
  }

  void literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) fail("unexpected " + here());
    pos_ += word.size();
  }

  Value value(int depth) {
    if (pos_ >= s_.size()) fail("unexpected end of text, expected a value");
    Value v;
    switch (s_[pos_]) {
      case '{': return object(depth + 1);
      case '[': return array(depth + 1);
      case '"': v.kind = Value::Kind::String; v.string = string(); return v;
      case 't': literal("true"); v.kind = Value::Kind::Bool; v.boolean = true; return v;
      case 'f': literal("false"); v.kind = Value::Kind::Bool; return v;
      case 'n': literal("null"); return v;
      default:
        if (s_[pos_] == '-' || (s_[pos_] >= '0' && s_[pos_] <= '9')) return number();
        fail("unexpected " + here() + ", expected a value");
    }
  }

  void checkDepth(int depth) {
    if (depth > limits_.maxDepth) fail("nesting deeper than " + std::to_string(limits_.maxDepth) + " levels");
  }

  Value object(int depth) {
    checkDepth(depth);
    Value v;
    v.kind = Value::Kind::Object;
    expect('{');
    skipSpace();
    if (pos_ < s_.size() && s_[pos_] == '}') {
      pos_++;
      return v;
    }
    for (;;) {
      skipSpace();
      size_t keyAt = pos_;
      if (pos_ >= s_.size() || s_[pos_] != '"') fail("expected a string key but found " + here());
      std::string key = string();
      if (v.find(key) != nullptr) {
        pos_ = keyAt;
        fail("duplicate key " + quote(key));
      }
      skipSpace();
      expect(':');
      skipSpace();
      Value member = value(depth);
      v.object.emplace_back(std::move(key), std::move(member));
      skipSpace();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        pos_++;
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == '}') {
        pos_++;
        return v;
      }
      fail("expected ',' or '}' but found " + here());
    }
  }

  Value array(int depth) {
    checkDepth(depth);
    Value v;
    v.kind = Value::Kind::Array;
    expect('[');
    skipSpace();
    if (pos_ < s_.size() && s_[pos_] == ']') {
      pos_++;
      return v;
    }
    for (;;) {
      skipSpace();
      v.array.push_back(value(depth));
      skipSpace();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        pos_++;
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == ']') {
        pos_++;
        return v;
      }
      fail("expected ',' or ']' but found " + here());
    }
  }

  uint32_t hex4() {
    if (s_.size() - pos_ < 4) fail("truncated \\u escape");
    uint32_t cp = 0;
    for (int i = 0; i < 4; i++, pos_++) {
      char c = s_[pos_];
      cp <<= 4;
      if (c >= '0' && c <= '9') cp |= c - '0';
      else if (c >= 'a' && c <= 'f') cp |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') cp |= c - 'A' + 10;
      else fail("invalid hex digit in \\u escape");
    }
    return cp;
  }

  // \uXXXX, with UTF-16 surrogate pairs joined; pos_ is just past the 'u'.
  uint32_t unicodeEscape() {
    size_t start = pos_ - 2;
    uint32_t cp = hex4();
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
      pos_ = start;
      fail("lone low surrogate in \\u escape");
    }
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (s_.substr(pos_, 2) != "\\u") {
        pos_ = start;
        fail("high surrogate in \\u escape not followed by a low surrogate");
      }
      pos_ += 2;
      uint32_t low = hex4();
      if (low < 0xDC00 || low > 0xDFFF) {
        pos_ = start;
        fail("high surrogate in \\u escape not followed by a low surrogate");
      }
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    return cp;
  }

  std::string string() {
    expect('"');
    std::string out;
    for (;;) {
      if (pos_ >= s_.size()) fail("unterminated string");
      unsigned char c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        pos_++;
        return out;
      }
      if (c < 0x20) fail("unescaped control character in string");
      if (c >= 0x80) {
        size_t n = utf8Length(reinterpret_cast<const unsigned char*>(s_.data()) + pos_, s_.size() - pos_);
        if (n == 0) fail("invalid UTF-8 in string");
        out.append(s_.substr(pos_, n));
        pos_ += n;
        continue;
      }
      pos_++;
      if (c != '\\') {
        out += static_cast<char>(c);
        continue;
      }
      if (pos_ >= s_.size()) fail("unterminated string");
      char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': appendUtf8(out, unicodeEscape()); break;
        default: pos_ -= 2; fail("invalid escape sequence in string");
      }
    }
  }

  bool digitAt(size_t p) const { return p < s_.size() && s_[p] >= '0' && s_[p] <= '9'; }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  Value number() {
    size_t start = pos_;
    if (s_[pos_] == '-') pos_++;
    if (!digitAt(pos_)) fail("invalid number");
    if (s_[pos_] == '0' && digitAt(pos_ + 1)) fail("invalid number: leading zero");
    while (digitAt(pos_)) pos_++;
    bool integral = true;
    if (pos_ < s_.size() && s_[pos_] == '.') {
      integral = false;
      pos_++;
      if (!digitAt(pos_)) fail("invalid number: no digits after '.'");
      while (digitAt(pos_)) pos_++;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      integral = false;
      pos_++;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) pos_++;
      if (!digitAt(pos_)) fail("invalid number: no digits in exponent");
      while (digitAt(pos_)) pos_++;
    }
    std::string text(s_.substr(start, pos_ - start));
    Value v;
    v.kind = Value::Kind::Number;
    if (integral) v.isInteger = parseInt64(text, v.integer);
    // The classic locale: the process locale might use ',' as the decimal mark.
    std::istringstream in(text);
    in.imbue(std::locale::classic());
    in >> v.number;
    // Beyond double range the stream stores +-DBL_MAX and sets failbit: make that +-Infinity, which readers can
    // refuse (a config's 1e999 must not pass as a finite number).
    if (in.fail() && std::fabs(v.number) == std::numeric_limits<double>::max())
      v.number = std::copysign(std::numeric_limits<double>::infinity(), v.number);
    if (v.isInteger) v.number = static_cast<double>(v.integer);
    return v;
  }

  static bool parseInt64(const std::string& text, int64_t& out) {
    bool negative = text[0] == '-';
    uint64_t limit = negative ? uint64_t(std::numeric_limits<int64_t>::max()) + 1 : uint64_t(std::numeric_limits<int64_t>::max());
    uint64_t acc = 0;
    for (size_t i = negative ? 1 : 0; i < text.size(); i++) {
      uint64_t d = static_cast<uint64_t>(text[i] - '0');
      if (acc > (limit - d) / 10) return false;
      acc = acc * 10 + d;
    }
    out = negative ? static_cast<int64_t>(0 - acc) : static_cast<int64_t>(acc);
    return true;
  }

  std::string_view s_;
  const Limits& limits_;
  size_t pos_ = 0;
};

}  // namespace

Value parse(std::string_view text, const Limits& limits) { return Parser(text, limits).document(); }

std::string quote(std::string_view s) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace atman::json
