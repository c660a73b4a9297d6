#include "topology/xml_reader.h"

#include <cctype>

#include "base/error.h"

namespace prism::topo {

namespace {

constexpr int kMaxDepth = 64;

class Parser {
 public:
  Parser(const std::string& text, const std::string& source) : text_(text), source_(source) {}

  XmlElement document() {
    skipMisc();
    if (atEnd() || peek() != '<') fail("expected an element");
    XmlElement root = element(0);
    skipMisc();
    if (!atEnd()) fail("content after the root element");
    return root;
  }

 private:
  [[noreturn]] void fail(const std::string& reason) const {
    throw Error(ncclInvalidArgument, source_ + ":" + std::to_string(line_) + ": " + reason);
  }
  bool atEnd() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }
  bool startsWith(std::string_view s) const { return text_.compare(pos_, s.size(), s) == 0; }
  void advance(size_t n = 1) {
    for (size_t i = 0; i < n && pos_ < text_.size(); ++i) line_ += text_[pos_++] == '\n';
  }
  void skipSpace() {
    while (!atEnd() && std::isspace(static_cast<unsigned char>(peek()))) advance();
  }
  void skipPast(std::string_view end, const char* what) {
    const size_t at = text_.find(end, pos_);
    if (at == std::string::npos) fail(std::string("unterminated ") + what);
    advance(at + end.size() - pos_);
  }
  /// Whitespace, comments, <?...?> and <!DOCTYPE ...>.
  void skipMisc() {
    for (;;) {
      skipSpace();
      if (startsWith("<!--")) {
        skipPast("-->", "comment");
      } else if (startsWith("<?")) {
        skipPast("?>", "processing instruction");
      } else if (startsWith("<!")) {
        skipPast(">", "declaration");
      } else {
        return;
      }
    }
  }
  std::string name() {
    const size_t start = pos_;
    while (!atEnd() && (std::isalnum(static_cast<unsigned char>(peek())) || peek() == '_' ||
                        peek() == '-' || peek() == ':' || peek() == '.')) {
      advance();
    }
    if (pos_ == start) fail("expected a name");
    return text_.substr(start, pos_ - start);
  }
  std::string unescape(const std::string& raw) {
    std::string out;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != '&') {
        out += raw[i];
        continue;
      }
      const size_t semi = raw.find(';', i);
      if (semi == std::string::npos) fail("unterminated entity in attribute");
      const std::string ent = raw.substr(i + 1, semi - i - 1);
      if (ent == "amp")
        out += '&';
      else if (ent == "lt")
        out += '<';
      else if (ent == "gt")
        out += '>';
      else if (ent == "quot")
        out += '"';
      else if (ent == "apos")
        out += '\'';
      else
        fail("unknown entity &" + ent + ";");
      i = semi;
    }
    return out;
  }
  XmlElement element(int depth) {
    if (depth > kMaxDepth) fail("elements nested too deeply");
    XmlElement e;
    e.line = line_;
    advance();  // '<'
    e.name = name();
    for (;;) {
      skipSpace();
      if (atEnd()) fail("unterminated tag <" + e.name + ">");
      if (startsWith("/>")) {
        advance(2);
        return e;
      }
      if (peek() == '>') {
        advance();
        break;
      }
      std::string key = name();
      skipSpace();
      if (atEnd() || peek() != '=') fail("expected '=' after attribute " + key);
      advance();
      skipSpace();
      if (atEnd() || (peek() != '"' && peek() != '\'')) fail("expected a quoted value");
      const char quote = peek();
      advance();
      const size_t end = text_.find(quote, pos_);
      if (end == std::string::npos) fail("unterminated attribute value");
      std::string raw = text_.substr(pos_, end - pos_);
      advance(end + 1 - pos_);
      if (e.has(key)) fail("attribute " + key + " repeated");
      e.attributes.emplace_back(std::move(key), unescape(raw));
    }
    for (;;) {
      const size_t text = text_.find('<', pos_);
      if (text == std::string::npos) fail("missing </" + e.name + ">");
      advance(text - pos_);  // character data is ignored
      if (startsWith("</")) {
        advance(2);
        const std::string closing = name();
        if (closing != e.name) fail("</" + closing + "> closes <" + e.name + ">");
        skipSpace();
        if (atEnd() || peek() != '>') fail("expected '>'");
        advance();
        return e;
      }
      if (startsWith("<!--") || startsWith("<?") || startsWith("<!")) {
        skipMisc();
        continue;
      }
      e.children.push_back(element(depth + 1));
    }
  }

  const std::string& text_;
  const std::string& source_;
  size_t pos_ = 0;
  int line_ = 1;
};

}  // namespace

std::string XmlElement::attr(std::string_view key, const std::string& fallback) const {
  for (const auto& [k, v] : attributes) {
    if (k == key) return v;
  }
  return fallback;
}

bool XmlElement::has(std::string_view key) const {
  for (const auto& [k, v] : attributes) {
    if (k == key) return true;
  }
  return false;
}

XmlElement parseXml(const std::string& text, const std::string& source) {
  return Parser(text, source).document();
}

}  // namespace prism::topo
