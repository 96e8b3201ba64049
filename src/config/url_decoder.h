#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/options.h"
#include "config/url.h"
#include "config/value_reader.h"
#include "config/yaml_tree.h"

/// Internal to the config component: a route's `from` and `to` URLs (Pomerium route options
/// `from` — https, or tcp+https for TCP routes — and `to` — "URL" or "URL,WEIGHT" entries,
/// http, https, h2c, unix and tcp upstreams). Every problem is reported at the value with its
/// key. Control thread.
namespace vallum::config {

/// What the `to` key held, for the route checks that involve other keys.
struct ToFacts {
  bool seen = false;  ///< the key was there (even when its value is wrong)
  yaml::Mark mark;
  std::string key;
  std::vector<std::string> schemes;  ///< of every entry, valid or not
};

class RouteUrlDecoder {
 public:
  explicit RouteUrlDecoder(ValueReader& r) : r_(r) {}

  /// `from` into `from`; `scheme` gets the URL's scheme once it parses. False when the value
  /// is not a string (nothing to check against `to`).
  bool decodeFrom(const yaml::Node& v, const std::string& key, FromUrl& from, std::string& scheme);
  /// `to` (a string or a list, nested lists flattened) appended to `to`. Also checks that all
  /// entries carry weights or none, and that tcp, udp and unix schemes are not mixed with others.
  void decodeTo(const yaml::Node& v, const std::string& key, std::vector<UpstreamUrl>& to,
                ToFacts& facts);

 private:
  struct Item {
    const yaml::Node* node;
    std::string key;
  };
  /// `from: tcp+https://host:port` (Pomerium TCP routes): the CONNECT authority is the URL's
  /// host:port, or each path segment (`tcp+https://proxy.example.com/db.internal:5432`).
  void decodeTcpFrom(const UrlParts& parts, const yaml::Node& v, const std::string& key,
                     FromUrl& from);
  /// Flattens nested lists (Pomerium flattens nested JSON arrays in `to`).
  void collectTo(const yaml::Node& list, const std::string& key, std::vector<Item>& out, bool& ok);
  /// One "URL" or "URL,WEIGHT" entry.
  std::optional<UpstreamUrl> decodeUpstream(const yaml::Node& node, const std::string& key,
                                            ToFacts& facts);
  bool decodeUpstreamUrl(std::string_view text, yaml::Mark mark, const std::string& key,
                         UpstreamUrl& up, ToFacts& facts);

  ValueReader& r_;
};

}  // namespace vallum::config
