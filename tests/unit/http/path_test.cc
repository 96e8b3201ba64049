#include "http/path.h"

#include <gtest/gtest.h>

namespace vallum::http {
namespace {

struct NormalizeCase {
  std::string in;
  PathResult result;
  std::string out;
};

std::string normalized(std::string_view in, const PathOptions& options, PathResult* result) {
  std::string scratch;
  std::string_view out;
  *result = normalizePath(in, options, scratch, out);
  return std::string(out);
}

TEST(NormalizePathTest, DefaultOptions) {
  PathOptions options;  // normalize, keep "//", reject escaped slashes
  std::vector<NormalizeCase> cases = {
      {"/", PathResult::Ok, "/"},
      {"/a/b", PathResult::Ok, "/a/b"},
      {"/a/./b/../c", PathResult::Ok, "/a/c"},
      {"/..", PathResult::Ok, "/"},
      {"/../../x", PathResult::Ok, "/x"},
      {"/a/b/..", PathResult::Ok, "/a/"},
      {"/a/b/.", PathResult::Ok, "/a/b/"},
      {"/a/%2e%2E/b", PathResult::Ok, "/b"},
      {"/a/.%2e/b", PathResult::Ok, "/b"},
      {"/a//b", PathResult::Ok, "/a//b"},  // the route docs' "//" tip
      {"/a//../b", PathResult::Ok, "/a/b"},
      {"/.hidden/x", PathResult::Ok, "/.hidden/x"},
      {"/a.b/c..d", PathResult::Ok, "/a.b/c..d"},
      {"/a%2Fb", PathResult::RejectEscapedSlash, ""},
      {"/a%2fb", PathResult::RejectEscapedSlash, ""},
      {"/a%5Cb", PathResult::RejectEscapedSlash, ""},
      {"/a%5cb", PathResult::RejectEscapedSlash, ""},
      {"/a%20b", PathResult::Ok, "/a%20b"},
      {"/a%2", PathResult::Invalid, ""},
      {"/a%zz", PathResult::Invalid, ""},
      {"/a b", PathResult::Invalid, ""},
      {"/a\\b", PathResult::Invalid, ""},
      {"/caf\xc3\xa9", PathResult::Invalid, ""},
      {"/a\x7f", PathResult::Invalid, ""},
      {"relative", PathResult::Invalid, ""},
  };
  for (const auto& c : cases) {
    PathResult r;
    std::string out = normalized(c.in, options, &r);
    EXPECT_EQ(r, c.result) << c.in;
    if (c.result == PathResult::Ok) {
      EXPECT_EQ(out, c.out) << c.in;
    }
  }
}

TEST(NormalizePathTest, DecodesEscapedUnreservedCharacters) {
  // RFC 3986 §6.2.2.2: "%61dmin" is "admin" for matching and forwarding alike.
  PathOptions options;
  std::vector<NormalizeCase> cases = {
      {"/%61dmin/secret.txt", PathResult::Ok, "/admin/secret.txt"},
      {"/%41DMIN", PathResult::Ok, "/ADMIN"},
      {"/%2D%2e%5F%7e%7E%30%39", PathResult::Ok, "/-._~~09"},
      {"/a%2e%2E/../b", PathResult::Ok, "/b"},           // "a.." is a name, then ".." pops it
      {"/a/%2e%2e/b", PathResult::Ok, "/b"},             // an encoded dot segment
      {"/x%2F", PathResult::RejectEscapedSlash, ""},     // reserved: never decoded here
      {"/a%20b%3F%3f%25%23%40", PathResult::Ok, "/a%20b%3F%3f%25%23%40"},  // kept, case too
      {"/%2541dmin", PathResult::Ok, "/%2541dmin"},      // "%25" is not unreserved: no double decode
      {"/%C3%A9", PathResult::Ok, "/%C3%A9"},            // non-ASCII stays encoded
      {"/a//%62", PathResult::Ok, "/a//b"},
  };
  for (const auto& c : cases) {
    PathResult r;
    std::string out = normalized(c.in, options, &r);
    EXPECT_EQ(r, c.result) << c.in;
    if (c.result == PathResult::Ok) {
      EXPECT_EQ(out, c.out) << c.in;
    }
  }
  // With normalize_path off nothing is decoded (as Envoy).
  options.normalize_path = false;
  PathResult r;
  EXPECT_EQ(normalized("/%61dmin", options, &r), "/%61dmin");
  // Escaped slashes kept unchanged while letters are decoded.
  options.normalize_path = true;
  options.escaped_slashes = config::EscapedSlashesAction::KeepUnchanged;
  EXPECT_EQ(normalized("/%61/%2f/%62", options, &r), "/a/%2f/b");
  // Unescape-and-redirect: the redirect target carries the decoded letters too.
  options.escaped_slashes = config::EscapedSlashesAction::UnescapeAndRedirect;
  EXPECT_EQ(normalized("/%61%2Fb", options, &r), "/a/b");
  EXPECT_EQ(r, PathResult::RedirectUnescaped);
  // Decoding letters alone is not a redirect.
  EXPECT_EQ(normalized("/%61b", options, &r), "/ab");
  EXPECT_EQ(r, PathResult::Ok);
}

TEST(NormalizePathTest, NothingChangesWithoutEscapesOrDots) {
  PathOptions options;
  std::string scratch = "untouched";
  std::string_view out;
  const std::string_view in = "/plain/path";
  EXPECT_EQ(normalizePath(in, options, scratch, out), PathResult::Ok);
  EXPECT_EQ(out.data(), in.data());  // a view of the input: no copy on the common path
}

TEST(MergeSlashesTest, RunsBecomeOneSlash) {
  std::string out;
  mergeSlashes("//admin///x//", out);
  EXPECT_EQ(out, "/admin/x/");
  mergeSlashes("/a/b", out);
  EXPECT_EQ(out, "/a/b");
}

TEST(CanonicalHostTest, LowerCaseAndCanonicalIpv6) {
  std::string out;
  ASSERT_TRUE(canonicalHost("App.Example.TEST", out));
  EXPECT_EQ(out, "app.example.test");
  ASSERT_TRUE(canonicalHost("[0:0:0:0:0:0:0:1]", out));
  EXPECT_EQ(out, "::1");
  ASSERT_TRUE(canonicalHost("[::1]", out));
  EXPECT_EQ(out, "::1");
  ASSERT_TRUE(canonicalHost("[FE80:0::A]", out));
  EXPECT_EQ(out, "fe80::a");
  ASSERT_TRUE(canonicalHost("[::ffff:127.0.0.1]", out));
  EXPECT_EQ(out, "::ffff:127.0.0.1");
  EXPECT_FALSE(canonicalHost("[:::1]", out));
  EXPECT_FALSE(canonicalHost("[1::2::3]", out));
  EXPECT_FALSE(canonicalHost("[]", out));
  EXPECT_FALSE(canonicalHost("[12345::1]", out));
}

TEST(NormalizePathTest, MergeSlashes) {
  PathOptions options;
  options.merge_slashes = true;
  PathResult r;
  EXPECT_EQ(normalized("/a//b///c", options, &r), "/a/b/c");
  EXPECT_EQ(normalized("//a/./b//", options, &r), "/a/b/");
  options.normalize_path = false;
  EXPECT_EQ(normalized("/a//./b", options, &r), "/a/./b");
}

TEST(NormalizePathTest, NormalizationOff) {
  PathOptions options;
  options.normalize_path = false;
  PathResult r;
  EXPECT_EQ(normalized("/a/../b", options, &r), "/a/../b");
}

TEST(NormalizePathTest, EscapedSlashActions) {
  PathOptions options;
  PathResult r;
  options.escaped_slashes = config::EscapedSlashesAction::KeepUnchanged;
  EXPECT_EQ(normalized("/a%2Fb", options, &r), "/a%2Fb");
  EXPECT_EQ(r, PathResult::Ok);
  options.escaped_slashes = config::EscapedSlashesAction::UnescapeAndForward;
  EXPECT_EQ(normalized("/a%2Fb%5c..%2Fc", options, &r), "/a/c");
  EXPECT_EQ(r, PathResult::Ok);
  options.escaped_slashes = config::EscapedSlashesAction::UnescapeAndRedirect;
  EXPECT_EQ(normalized("/a%2fb", options, &r), "/a/b");
  EXPECT_EQ(r, PathResult::RedirectUnescaped);
}

TEST(ParseRequestTargetTest, OriginForm) {
  RequestTarget t;
  ASSERT_TRUE(parseRequestTarget("/p/a?x=%2F&y#frag", t));
  EXPECT_EQ(t.path, "/p/a");
  EXPECT_TRUE(t.has_query);
  EXPECT_EQ(t.query, "x=%2F&y");
  EXPECT_FALSE(t.absolute_form);
  ASSERT_TRUE(parseRequestTarget("/p?", t));
  EXPECT_TRUE(t.has_query);
  EXPECT_EQ(t.query, "");
}

TEST(ParseRequestTargetTest, AbsoluteForm) {
  RequestTarget t;
  ASSERT_TRUE(parseRequestTarget("http://Other.Test:8080/x?q", t));
  EXPECT_TRUE(t.absolute_form);
  EXPECT_EQ(t.authority, "Other.Test:8080");
  EXPECT_EQ(t.path, "/x");
  EXPECT_EQ(t.query, "q");
  ASSERT_TRUE(parseRequestTarget("https://h.test", t));
  EXPECT_EQ(t.path, "/");
  EXPECT_FALSE(parseRequestTarget("ftp://h/x", t));
  EXPECT_FALSE(parseRequestTarget("http://user@h/x", t));
  EXPECT_FALSE(parseRequestTarget("*", t));
  EXPECT_FALSE(parseRequestTarget("h.test:443", t));
}

TEST(ParseAuthorityTest, HostAndPort) {
  Authority a;
  ASSERT_TRUE(parseAuthority("App.Example.test:8443", a));
  EXPECT_EQ(a.host, "App.Example.test");
  EXPECT_EQ(a.port, 8443);
  ASSERT_TRUE(parseAuthority("example.test", a));
  EXPECT_FALSE(a.port.has_value());
  ASSERT_TRUE(parseAuthority("[::1]:443", a));
  EXPECT_EQ(a.host, "[::1]");
  EXPECT_EQ(a.port, 443);
  EXPECT_FALSE(parseAuthority("", a));
  EXPECT_FALSE(parseAuthority("h:99999", a));
  EXPECT_FALSE(parseAuthority("h:", a));
  EXPECT_FALSE(parseAuthority("a b", a));
  EXPECT_FALSE(parseAuthority("a/b", a));
  EXPECT_FALSE(parseAuthority("[::1", a));
}

}  // namespace
}  // namespace vallum::http
