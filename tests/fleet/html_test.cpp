// The dashboard's HTML pieces: what is escaped, what is inserted as it is.
#include "fleet/html.hpp"

#include <gtest/gtest.h>

namespace ef::fleet::html {
namespace {

TEST(HtmlTest, EscapesTheFiveCharactersThatEndTextOrAttributes) {
  EXPECT_EQ(escape(R"x(<img src=x onerror="a('&')">)x"),
            "&lt;img src=x onerror=&quot;a(&#39;&amp;&#39;)&quot;&gt;");
  EXPECT_EQ(escape("store-0142 ünïcode"), "store-0142 ünïcode");
  EXPECT_EQ(escape(""), "");
}

TEST(HtmlTest, UrlPartEncodesAllButTheUnreservedCharacters) {
  EXPECT_EQ(url_part("dev-1.a_b~"), "dev-1.a_b~");
  EXPECT_EQ(url_part(R"(a b/"c"?&#)"), "a%20b%2F%22c%22%3F%26%23");
  EXPECT_EQ(url_part("\xff"), "%FF");
}

TEST(HtmlTest, FillEscapesTextAndNumbersButNotMarkup) {
  Markup inner = fill("<b>{}</b>", "<i>");
  EXPECT_EQ(inner.str(), "<b>&lt;i&gt;</b>");
  Markup outer = fill(R"(<td title="{}">{} {} {}</td>)", std::string("\"x\""), inner, 42, -7L);
  EXPECT_EQ(outer.str(), R"(<td title="&quot;x&quot;"><b>&lt;i&gt;</b> 42 -7</td>)");
  Markup joined = fill("<p>");
  joined += fill("{}", std::string_view("a&b"));
  joined += fill("</p>");
  EXPECT_EQ(joined.str(), "<p>a&amp;b</p>");
  // "{" alone is text of the pattern, not a place.
  EXPECT_EQ(fill("{ {}}", "x").str(), "{ x}");
}

}  // namespace
}  // namespace ef::fleet::html
