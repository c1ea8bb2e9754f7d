// Dashboard sessions without state in the service: log-in by token or
// password (hashes made by openssl, an oracle), session cookies that any
// instance with the same configuration accepts and nobody can forge or
// stretch, CSRF tokens, and HMAC-SHA256 against openssl's.
#include "fleet/session.hpp"

#include <gtest/gtest.h>

#include "tests/support/command.hpp"
#include "util/sha256.hpp"

namespace ef::fleet {
namespace {

constexpr UnixSeconds kNow = 1796000000;
const std::string kToken = "ops-token-0123456789";

/// `password` hashed by `openssl passwd -METHOD` (an oracle nobody here wrote).
std::string openssl_hash(const std::string& method, const std::string& password) {
  auto r = test::run_command("openssl passwd -" + method + " '" + password + "'");
  EXPECT_EQ(r.status, 0);
  while (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
  return r.out;
}

/// Two operators: ops with a token, alice with a password (hashed once:
/// every call gives the same configuration).
ApiConfig config() {
  static const std::string alice = openssl_hash("6", "correct horse battery");
  ApiConfig c;
  c.operators = {{"ops", sha256_hex(kToken), ""}, {"alice", "", alice}};
  c.session_secret = std::string(40, 's');
  return c;
}

TEST(SessionTest, AnOperatorLogsInWithItsTokenOrPassword) {
  Sessions s(config());
  EXPECT_EQ(s.log_in("", kToken), "ops");
  EXPECT_EQ(s.log_in("ops", kToken), "ops");
  EXPECT_EQ(s.log_in("alice", kToken), std::nullopt) << "a token logs in its own operator only";
  EXPECT_EQ(s.log_in("alice", "correct horse battery"), "alice");
  EXPECT_EQ(s.log_in("alice", "correct horse battery "), std::nullopt);
  EXPECT_EQ(s.log_in("", "correct horse battery"), std::nullopt) << "a password needs the name";
  EXPECT_EQ(s.log_in("ops", "correct horse battery"), std::nullopt);
  EXPECT_EQ(s.log_in("nobody", "x"), std::nullopt);
  EXPECT_EQ(s.log_in("ops", ""), std::nullopt);
  EXPECT_EQ(s.log_in("alice", std::string(5000, 'a')), std::nullopt);
}

TEST(SessionTest, ACookieHoldsOnEveryInstanceUntilItExpires) {
  Sessions one(config()), other(config());
  std::string cookie = one.issue("alice", kNow);
  ASSERT_TRUE(cookie.starts_with("v1.")) << cookie;
  EXPECT_EQ(one.verify(cookie, kNow), "alice");
  EXPECT_EQ(other.verify(cookie, kNow + 3600), "alice") << "stateless: any instance accepts it";
  EXPECT_EQ(one.verify(cookie, kNow + 12 * 3600 - 1), "alice");
  EXPECT_EQ(one.verify(cookie, kNow + 12 * 3600), std::nullopt) << "expired";
  EXPECT_NE(one.issue("alice", kNow), cookie) << "each log-in is its own session";
  EXPECT_EQ(one.issue("nobody", kNow), "");
}

TEST(SessionTest, ForgedOrStaleCookiesAreRefused) {
  Sessions s(config());
  const std::string cookie = s.issue("alice", kNow);
  auto parts = [&] {
    std::vector<std::string> p;
    size_t start = 0, dot;
    while ((dot = cookie.find('.', start)) != std::string::npos) {
      p.push_back(cookie.substr(start, dot - start));
      start = dot + 1;
    }
    p.push_back(cookie.substr(start));
    return p;
  }();
  ASSERT_EQ(parts.size(), 5u);
  auto join = [](const std::vector<std::string>& p) {
    return p[0] + "." + p[1] + "." + p[2] + "." + p[3] + "." + p[4];
  };
  auto with = [&](size_t i, const std::string& v) {
    auto p = parts;
    p[i] = v;
    return join(p);
  };
  const std::string ops_hex = "6f7073";  // "ops"
  for (const std::string& forged :
       {with(1, ops_hex), with(2, std::to_string(kNow + 999999)), with(3, std::string(32, '0')),
        with(4, std::string(64, '0')), with(0, "v2"), cookie.substr(0, cookie.size() - 1),
        cookie + "0", std::string("v1.zz.1.2.3"), std::string(""), std::string(5000, 'v')}) {
    EXPECT_EQ(s.verify(forged, kNow), std::nullopt) << forged;
  }

  ApiConfig changed = config();
  changed.session_secret = std::string(40, 't');
  EXPECT_EQ(Sessions(changed).verify(cookie, kNow), std::nullopt) << "another secret";
  changed = config();
  changed.operators[1].password_hash = openssl_hash("6", "new password");
  EXPECT_EQ(Sessions(changed).verify(cookie, kNow), std::nullopt) << "the password changed";
  changed = config();
  changed.operators.pop_back();
  EXPECT_EQ(Sessions(changed).verify(cookie, kNow), std::nullopt) << "the operator is gone";
  changed = config();
  changed.session_seconds = 3600;
  EXPECT_EQ(Sessions(changed).verify(cookie, kNow), std::nullopt) << "the lifetime was cut";
  changed = config();
  changed.operators[0].token_sha256 = sha256_hex("rotated");
  EXPECT_EQ(Sessions(changed).verify(cookie, kNow), "alice") << "another operator's change";
}

TEST(SessionTest, WithoutASecretTheKeyComesFromTheOperatorsEntries) {
  ApiConfig c = config();
  c.session_secret.clear();
  const std::string cookie = Sessions(c).issue("ops", kNow);
  EXPECT_EQ(Sessions(c).verify(cookie, kNow), "ops");
  ApiConfig more = c;
  more.operators.push_back({"bob", sha256_hex("bob"), ""});
  EXPECT_EQ(Sessions(more).verify(cookie, kNow), std::nullopt);
}

TEST(SessionTest, TheCsrfTokenBelongsToOneSession) {
  Sessions s(config());
  const std::string a = s.issue("ops", kNow), b = s.issue("ops", kNow);
  const std::string token = s.csrf_token(a);
  EXPECT_EQ(token.size(), 64u);
  EXPECT_TRUE(s.csrf_matches(a, token));
  EXPECT_FALSE(s.csrf_matches(b, token));
  EXPECT_FALSE(s.csrf_matches(a, ""));
  EXPECT_FALSE(s.csrf_matches(a, token.substr(0, 63)));
}

TEST(SessionTest, PasswordHashesMustBeModernCryptHashes) {
  EXPECT_TRUE(check_password_hash(openssl_hash("6", "x")));
  // libxcrypt calls MD5-crypt and sha256crypt legacy.
  for (const std::string& bad :
       {openssl_hash("1", "x"), openssl_hash("5", "x"), std::string("plaintext"),
        std::string("$6$saltsalt$"), std::string(""), std::string("$9$whatever$abc")}) {
    EXPECT_FALSE(check_password_hash(bad)) << bad;
  }
}

TEST(SessionTest, HmacSha256IsOpensslsHmac) {
  auto r = test::run_command(
      "printf 'the message' | openssl dgst -sha256 -mac HMAC -macopt key:the-key -r");
  ASSERT_EQ(r.status, 0);
  std::string mac = hmac_sha256("the-key", "the message");
  std::string hex;
  for (unsigned char c : mac) {
    static const char* d = "0123456789abcdef";
    hex += d[c >> 4];
    hex += d[c & 15];
  }
  EXPECT_EQ(hex, r.out.substr(0, 64));
}

}  // namespace
}  // namespace ef::fleet
