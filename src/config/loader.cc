#include "config/loader.h"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/strings.h"
#include "config/diagnostics.h"
#include "config/file_reader.h"
#include "config/identity_decoder.h"
#include "config/upgrade_decoder.h"
#include "config/key_tables.h"
#include "config/route_decoder.h"
#include "config/route_uniqueness.h"
#include "config/url.h"
#include "config/value_reader.h"
#include "config/yaml_tree.h"

namespace vallum::config {

namespace {

using yaml::childKey;
using yaml::indexKey;

std::string upperAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = strings::toUpperAscii(c);
  }
  return out;
}

/// One YAML text: the config file, or the value of one environment variable. Positions in
/// it are reported with `label` as the file ("config.yaml", "$POLICY"); YAML paths start at
/// `key_root` ("" for the file, "$POLICY" for the variable).
struct Source {
  Source(Diagnostics& diags, std::string label_in, std::string key_root_in)
      : label(std::move(label_in)), key_root(std::move(key_root_in)), reader(diags, label) {}
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  std::string label;
  std::string key_root;
  yaml::Node root;
  ValueReader reader;  // refers to `label`, hence no copies or moves
};

/// One top-level option after environment overrides: where its value is and how to name it.
struct Option {
  const KeySpec* spec;
  const yaml::Node* value;
  yaml::Mark key_mark;
  Source* source;
  std::string key;  ///< "address", or "$ADDRESS" when the environment supplied it
};

/// A string option kept for the checks that combine several options.
struct Held {
  std::string value;
  SourcePos pos;
  SourcePos key_pos;
  std::string key;
};

class Loader {
 public:
  Loader(const EnvLookup& env, const LoadOptions& options) : env_(env), options_(options) {}

  LoadResult load(std::string_view text, const std::string& file) {
    Source& main = newSource(file, "");
    if (yaml::parse(text, file, "", diags_, main.root, options_.cancel)) {
      if (main.root.isMap() || main.root.isNull()) {
        loadOptions(main);
      } else {
        main.reader.error(
            main.root.mark, "yaml",
            "the top level must be a mapping of options, got " + yaml::describe(main.root));
      }
    }
    return finish();
  }

 private:
  Source& newSource(std::string label, std::string key_root) {
    sources_.push_back(std::make_unique<Source>(diags_, std::move(label), std::move(key_root)));
    return *sources_.back();
  }

  void loadOptions(Source& main) {
    std::unordered_set<std::string_view> seen;
    for (const yaml::Entry& e : main.root.entries) {
      std::string key = e.key;
      if (e.key.rfind("ssh_", 0) == 0) {
        main.reader.error(e.key_mark, key, "not supported (SSH is outside Vallum's scope)");
        continue;
      }
      const KeySpec* spec = findGlobalKey(e.key);
      if (spec == nullptr) {
        main.reader.warning(e.key_mark, key,
                            "unknown config option " + quoted(e.key) + "; ignored");
        continue;
      }
      if (spec->status == KeyStatus::Removed || spec->status == KeyStatus::OutOfScope) {
        main.reader.error(e.key_mark, key, std::string(spec->message));
        continue;
      }
      seen.insert(spec->name);
      if (Source* env = environmentSource(*spec)) {
        // The environment wins over the file, as in Pomerium; the file's value is not looked at.
        process(Option{spec, &env->root, yaml::Mark{1, 1}, env, env->key_root});
        continue;
      }
      process(Option{spec, &e.value, e.key_mark, &main, std::move(key)});
    }
    for (const KeySpec& spec : globalKeys()) {
      if (spec.status != KeyStatus::Implemented && spec.status != KeyStatus::NotSupportedYet) {
        continue;
      }
      if (seen.count(spec.name) != 0) {
        continue;
      }
      if (Source* env = environmentSource(spec)) {
        process(Option{&spec, &env->root, yaml::Mark{1, 1}, env, env->key_root});
      }
    }
    finishAddress();
    finishMetricsAddress();
    finishCertificateAuthority();
    finishCertificates();
    finishSecrets();
    identity_.finish(opts_.identity);
    finishRoutes();
  }

  // The environment variable for a top-level option is its name in upper case. Values are
  // taken as text for scalar options and parsed as YAML (flow lists and maps) for the others;
  // POLICY and ROUTES hold base64-encoded YAML lists of routes. An empty variable counts as
  // unset, as in viper. Returns nullptr when the variable is unset or unusable (reported).
  Source* environmentSource(const KeySpec& spec) {
    std::string name = upperAscii(spec.name);
    std::optional<std::string> text = env_ ? env_(name) : std::nullopt;
    if (!text || text->empty()) {
      return nullptr;
    }
    std::string label = "$" + name;
    Source& src = newSource(label, label);
    if (text->size() > options_.max_bytes) {
      src.reader.error(yaml::Mark{1, 1}, label,
                       "the value is " + formatByteSize(text->size()) + ", over the limit of " +
                           formatByteSize(options_.max_bytes));
      return nullptr;
    }
    if (spec.name == "policy" || spec.name == "routes") {
      // Go's base64 decoder skips line breaks; so do we (a wrapped `base64` output works).
      std::string compact;
      for (char c : *text) {
        if (c != '\n' && c != '\r') {
          compact += c;
        }
      }
      auto decoded = strings::base64Decode(strings::trimSpace(compact));
      if (!decoded) {
        src.reader.error(yaml::Mark{1, 1}, label,
                         "expected base64-encoded YAML list of routes; the value is not valid "
                         "base64");
        return nullptr;
      }
      if (!yaml::parse(*decoded, label, label, diags_, src.root, options_.cancel)) {
        return nullptr;
      }
      return &src;
    }
    switch (spec.type) {
      case ValueType::Bool:
      case ValueType::String:
      case ValueType::Int:
      case ValueType::Float:
      case ValueType::GoDuration:
      case ValueType::Url:
      case ValueType::Address:
        src.root = yaml::makeScalar(std::move(*text), yaml::Mark{1, 1});
        return &src;
      default:
        break;
    }
    // Lists and maps: YAML ("[a, b]", "{k: v}"). A list option also takes a plain "a,b", which
    // need not be valid YAML ("[::1]:80,x"), so a syntax error falls back to the raw text.
    Diagnostics syntax;
    if (!yaml::parse(*text, label, label, syntax, src.root, options_.cancel)) {
      if (spec.type == ValueType::StringList || spec.type == ValueType::UrlList) {
        src.root = yaml::makeScalar(std::move(*text), yaml::Mark{1, 1});
        return &src;
      }
      diags_.append(syntax);
      return nullptr;
    }
    diags_.append(syntax);
    return &src;
  }

  void process(const Option& o) {
    if (o.value->isNull()) {
      return;  // `key:` with no value, or an empty POLICY document: not set
    }
    if (o.spec->status == KeyStatus::NotSupportedYet) {
      if (o.source->reader.check(o.spec->type, *o.value, o.key, o.spec->allowed) &&
          (o.spec->name != "http_redirect_addr" || checkRedirectAddress(o))) {
        o.source->reader.warning(o.key_mark, o.key, "not supported yet; ignored");
      }
      return;
    }
    decodeImplemented(o);
  }

  void decodeImplemented(const Option& o) {
    ValueReader& r = o.source->reader;
    const yaml::Node& v = *o.value;
    std::string_view name = o.spec->name;
    if (IdentityDecoder::handlesGlobal(name)) {
      identity_.decodeGlobal(r, v, o.key_mark, o.key, name, opts_.identity);
      return;
    }
    if (name == "address") {
      if (auto s = r.readString(v, o.key)) {
        if (s->empty()) {
          return;
        }
        auto parsed = parseListenAddress(*s);
        if (!parsed) {
          r.error(v.mark, o.key, parsed.error().detail());
          return;
        }
        address_ = *parsed;
      }
    } else if (name == "insecure_server") {
      readBoolInto(r, v, o.key, opts_.insecure_server);
    } else if (name == "certificates") {
      decodeCertificateList(o);
    } else if (name == "certificate") {
      hold(o, certificate_);
    } else if (name == "certificate_key") {
      hold(o, certificate_key_);
    } else if (name == "certificate_file") {
      hold(o, certificate_file_);
    } else if (name == "certificate_key_file") {
      hold(o, certificate_key_file_);
    } else if (name == "default_upstream_timeout") {
      readDurationInto(r, v, o.key, opts_.default_upstream_timeout);
    } else if (name == "timeout_read") {
      readDurationInto(r, v, o.key, opts_.timeout_read);
    } else if (name == "timeout_write") {
      readDurationInto(r, v, o.key, opts_.timeout_write);
    } else if (name == "timeout_idle") {
      readDurationInto(r, v, o.key, opts_.timeout_idle);
    } else if (name == "allow_upgrades") {
      opts_.allow_upgrades = UpgradeDecoder::readUpgradeTokens(r, v, o.key);
    } else if (name == "normalize_path") {
      readBoolInto(r, v, o.key, opts_.normalize_path);
    } else if (name == "merge_slashes") {
      readBoolInto(r, v, o.key, opts_.merge_slashes);
    } else if (name == "skip_xff_append") {
      readBoolInto(r, v, o.key, opts_.skip_xff_append);
    } else if (name == "set_response_headers") {
      if (auto headers = r.readStringMap(v, o.key)) {
        std::vector<HeaderSetting> valid;
        for (HeaderSetting& h : *headers) {
          if (!strings::iequals(h.name, "disable") && !strings::isToken(h.name)) {
            r.diagnostics().error(h.pos, h.key, "invalid header name \"" + h.name + "\"");
            continue;
          }
          valid.push_back(std::move(h));
        }
        opts_.set_response_headers = std::move(valid);
      }
    } else if (name == "path_with_escaped_slashes_action") {
      decodeEscapedSlashesAction(r, v, o.key);
    } else if (name == "headers_with_underscores_action") {
      decodeUnderscoresAction(r, v, o.key);
    } else if (name == "log_level") {
      decodeLogLevel(r, v, o.key);
    } else if (name == "shared_secret") {
      hold(o, shared_secret_);
    } else if (name == "shared_secret_file") {
      hold(o, shared_secret_file_);
    } else if (name == "cookie_secret") {
      hold(o, cookie_secret_);
    } else if (name == "cookie_secret_file") {
      hold(o, cookie_secret_file_);
    } else if (name == "policy") {
      policy_ = o;
    } else if (name == "routes") {
      routes_ = o;
    } else if (name == "services") {
      decodeServices(r, v, o);
    } else if (name == "autocert") {
      if (auto b = r.readBool(v, o.key); b && *b) {
        r.warning(o.key_mark, o.key,
                  "not supported yet; ignored (without certificates a self-signed one is used)");
      }
    } else if (name == "codec_type") {
      decodeCodecType(r, v, o);
    } else if (name == "certificate_authority") {
      hold(o, certificate_authority_);
    } else if (name == "certificate_authority_file") {
      hold(o, certificate_authority_file_);
    } else if (name == "metrics_address") {
      decodeMetricsAddress(r, v, o.key);
    }
  }

  // Pomerium global `metrics_address`: host:port with a port (":9090" listens on every
  // interface).
  void decodeMetricsAddress(ValueReader& r, const yaml::Node& v, const std::string& key) {
    auto s = r.readString(v, key);
    if (!s || s->empty()) {
      return;
    }
    auto parsed = parseListenAddress(*s);
    if (!parsed) {
      r.error(v.mark, key,
              "invalid metrics_addr: expected host:port (e.g. :9090 or 127.0.0.1:9090): " +
                  parsed.error().detail());
      return;
    }
    if (!parsed->has_port) {
      r.error(v.mark, key,
              "invalid metrics_addr " + quoted(*s) +
                  ": expected host:port (e.g. :9090 or 127.0.0.1:9090)");
      return;
    }
    if (parsed->address.port == 0) {
      r.error(v.mark, key,
              "invalid metrics_addr " + quoted(*s) + ": port must be between 1 and 65535");
      return;
    }
    opts_.metrics_address = parsed->address;
    metrics_address_pos_ = r.pos(v.mark);
    metrics_address_key_ = key;
  }

  // Pomerium global `http_redirect_addr` (not served yet): Pomerium strips surrounding quotes
  // (its #811) and listens on host:port (port 80 when left out). Only the form is checked here;
  // false when it is not a listen address (reported at the value).
  static bool checkRedirectAddress(const Option& o) {
    ValueReader& r = o.source->reader;
    auto s = r.readString(*o.value, o.key);
    if (!s) {
      return false;
    }
    std::string_view text = *s;
    size_t first = text.find_first_not_of("\"'");
    text = first == std::string_view::npos ? std::string_view() : text.substr(first);
    text = text.substr(0, text.find_last_not_of("\"'") + 1);
    if (text.empty()) {
      return true;
    }
    if (auto parsed = parseListenAddress(text); !parsed) {
      r.error(o.value->mark, o.key, parsed.error().detail());
      return false;
    }
    return true;
  }

  static bool readBoolInto(ValueReader& r, const yaml::Node& v, const std::string& key, bool& out) {
    if (auto b = r.readBool(v, key)) {
      out = *b;
      return true;
    }
    return false;
  }

  static bool readDurationInto(ValueReader& r, const yaml::Node& v, const std::string& key,
                               Duration& out) {
    if (auto d = r.readDuration(v, key)) {
      out = *d;
      return true;
    }
    return false;
  }

  // Keeps a string option for the checks that combine several of them. "" counts as unset.
  static void hold(const Option& o, std::optional<Held>& slot) {
    ValueReader& r = o.source->reader;
    if (auto s = r.readString(*o.value, o.key); s && !s->empty()) {
      slot = Held{std::move(*s), r.pos(o.value->mark), r.pos(o.key_mark), o.key};
    }
  }

  void decodeEscapedSlashesAction(ValueReader& r, const yaml::Node& v, const std::string& key) {
    static const std::pair<std::string_view, EscapedSlashesAction> kValues[] = {
        {"KEEP_UNCHANGED", EscapedSlashesAction::KeepUnchanged},
        {"REJECT_REQUEST", EscapedSlashesAction::RejectRequest},
        {"UNESCAPE_AND_REDIRECT", EscapedSlashesAction::UnescapeAndRedirect},
        {"UNESCAPE_AND_FORWARD", EscapedSlashesAction::UnescapeAndForward},
        // Envoy's IMPLEMENTATION_SPECIFIC_DEFAULT keeps the path unchanged.
        {"IMPLEMENTATION_SPECIFIC_DEFAULT", EscapedSlashesAction::KeepUnchanged},
    };
    decodeEnum(r, v, key, kValues, opts_.path_with_escaped_slashes_action);
  }

  void decodeUnderscoresAction(ValueReader& r, const yaml::Node& v, const std::string& key) {
    static const std::pair<std::string_view, UnderscoresAction> kValues[] = {
        {"ALLOW", UnderscoresAction::Allow},
        {"REJECT_REQUEST", UnderscoresAction::RejectRequest},
        {"DROP_HEADER", UnderscoresAction::DropHeader},
    };
    decodeEnum(r, v, key, kValues, opts_.headers_with_underscores_action);
  }

  template <class T, size_t N>
  static void decodeEnum(ValueReader& r, const yaml::Node& v, const std::string& key,
                         const std::pair<std::string_view, T> (&values)[N], T& out) {
    auto s = r.readString(v, key);
    if (!s || s->empty()) {
      return;
    }
    for (const auto& [text, value] : values) {
      if (strings::iequals(*s, text)) {
        out = value;
        return;
      }
    }
    std::string message = "unknown value " + quoted(*s) + " (expected one of: ";
    for (size_t i = 0; i < N; ++i) {
      message += i == 0 ? "" : ", ";
      message.append(values[i].first);
    }
    message += ')';
    r.error(v.mark, key, std::move(message));
  }

  void decodeLogLevel(ValueReader& r, const yaml::Node& v, const std::string& key) {
    auto s = r.readString(v, key);
    if (!s) {
      return;
    }
    if (const auto level = logLevelName(*s)) {
      opts_.log_level = std::string(*level);
      return;
    }
    r.error(v.mark, key,
            "unknown log level " + quoted(*s) +
                " (expected trace, debug, info, warn, warning, error, critical, fatal, panic, off "
                "or disabled)");
  }

  void decodeServices(ValueReader& r, const yaml::Node& v, const Option& o) {
    auto s = r.readString(v, o.key);
    if (!s) {
      return;
    }
    bool other = false;
    bool ok = true;
    strings::forEachListElement(*s, [&](std::string_view service) {
      if (service == "all" || service == "proxy") {
        return true;
      }
      if (service == "authenticate" || service == "authorize" || service == "databroker") {
        other = true;
        return true;
      }
      r.error(v.mark, o.key,
              "invalid service type " + quoted(service) +
                  " (expected all, proxy, authenticate, authorize or databroker)");
      ok = false;
      return false;
    });
    if (ok && other) {
      r.warning(o.key_mark, o.key,
                "services " + quoted(*s) +
                    " not supported yet; ignored (Vallum runs every service in one process)");
    }
  }

  void decodeCodecType(ValueReader& r, const yaml::Node& v, const Option& o) {
    auto s = r.readString(v, o.key);
    if (!s || s->empty()) {
      return;
    }
    if (strings::iequals(*s, "auto")) {
      opts_.codec_type = CodecType::Auto;
      return;
    }
    if (strings::iequals(*s, "http1")) {
      opts_.codec_type = CodecType::Http1;
      return;
    }
    if (strings::iequals(*s, "http2")) {
      opts_.codec_type = CodecType::Http2;
      return;
    }
    if (strings::iequals(*s, "http3")) {
      r.warning(o.key_mark, o.key,
                "codec_type \"http3\" not supported yet; ignored (HTTP/2 and HTTP/1.1 are served)");
      return;
    }
    r.error(v.mark, o.key,
            "unknown codec type " + quoted(*s) + " (expected auto, http1, http2 or http3)");
  }

  void decodeCertificateList(const Option& o) {
    ValueReader& r = o.source->reader;
    const yaml::Node& v = *o.value;
    if (!v.isSequence()) {
      r.error(v.mark, o.key, "expected a list of {cert, key} entries, got " + yaml::describe(v));
      return;
    }
    for (size_t i = 0; i < v.items.size(); ++i) {
      const yaml::Node& item = v.items[i];
      std::string item_key = indexKey(o.key, i);
      if (!item.isMap()) {
        r.error(item.mark, item_key,
                "expected a mapping with cert and key, got " + yaml::describe(item));
        continue;
      }
      std::optional<Held> cert, key;
      for (const yaml::Entry& e : item.entries) {
        std::string entry_key = childKey(item_key, e.key);
        if (e.key != "cert" && e.key != "key") {
          r.warning(
              e.key_mark, entry_key,
              "unknown certificate option " + quoted(e.key) + "; ignored (expected cert and key)");
          continue;
        }
        if (e.value.isNull()) {
          continue;
        }
        Option field{o.spec, &e.value, e.key_mark, o.source, std::move(entry_key)};
        hold(field, e.key == "cert" ? cert : key);
      }
      if (cert && key) {
        addCertificate(*cert, *key);
      } else if (cert) {
        r.diagnostics().error(cert->pos, cert->key,
                              "certificate without key: set " + childKey(item_key, "key"));
      } else if (key) {
        r.diagnostics().error(key->pos, key->key,
                              "key without certificate: set " + childKey(item_key, "cert"));
      } else {
        r.error(item.mark, item_key, "empty certificate entry: set cert and key");
      }
    }
  }

  void addCertificate(const Held& cert, const Held& key) {
    CertificateSource c;
    c.cert = cert.value;
    c.key = key.value;
    c.cert_key = cert.key;
    c.key_key = key.key;
    c.cert_pos = cert.pos;
    c.key_pos = key.pos;
    certificates_.push_back(std::move(c));
  }

  void finishAddress() {
    if (address_) {
      opts_.address = address_->address;
      if (!address_->has_port) {
        opts_.address.port = opts_.insecure_server ? 80 : 443;
      }
    } else {
      opts_.address = ListenAddress{"", uint16_t(opts_.insecure_server ? 80 : 443)};
    }
  }

  // The metrics listener cannot share the main listener's socket.
  void finishMetricsAddress() {
    if (!opts_.metrics_address) {
      return;
    }
    const ListenAddress& m = *opts_.metrics_address;
    const ListenAddress& main = opts_.address;
    bool overlapping_hosts = m.host == main.host || m.host.empty() || main.host.empty();
    if (m.port == main.port && overlapping_hosts) {
      diags_.error(metrics_address_pos_, metrics_address_key_,
                   "metrics_address " + quoted(m.toString()) +
                       " uses the port of the main address " + quoted(main.toString()));
    }
  }

  // Global extra trust roots for upstream TLS (Pomerium `certificate_authority`): inline or
  // base64 PEM or a file path, resolved by the tls component.
  void finishCertificateAuthority() {
    if (certificate_authority_ && certificate_authority_file_) {
      diags_.error(certificate_authority_file_->key_pos, certificate_authority_file_->key,
                   "set only one of certificate_authority and certificate_authority_file");
    }
    const std::optional<Held>& ca =
        certificate_authority_ ? certificate_authority_ : certificate_authority_file_;
    if (ca) {
      opts_.certificate_authority = ca->value;
      opts_.certificate_authority_key = ca->key;
      opts_.certificate_authority_pos = ca->pos;
    }
  }

  // Pairs the top-level certificate options. The regular pairs are certificate +
  // certificate_key and certificate_file + certificate_key_file; Vallum also pairs one
  // leftover certificate with one leftover key (the route docs show certificate_file with
  // certificate_key). Each value may be a path or PEM; the tls component decides. Order
  // follows Pomerium's: certificate, certificates[], certificate_file.
  void finishCertificates() {
    std::optional<Held> cert_a = certificate_, key_a = certificate_key_;
    std::optional<Held> cert_b = certificate_file_, key_b = certificate_key_file_;
    std::vector<CertificateSource> first, last;
    auto take = [](std::optional<Held>& c, std::optional<Held>& k,
                   std::vector<CertificateSource>& out) {
      CertificateSource s{c->value, k->value, c->key, k->key, c->pos, k->pos};
      out.push_back(std::move(s));
      c.reset();
      k.reset();
    };
    if (cert_a && key_a) {
      take(cert_a, key_a, first);
    }
    if (cert_b && key_b) {
      take(cert_b, key_b, last);
    }
    std::optional<Held>* cert = cert_a ? &cert_a : (cert_b ? &cert_b : nullptr);
    std::optional<Held>* key = key_a ? &key_a : (key_b ? &key_b : nullptr);
    int certs_left = int(bool(cert_a)) + int(bool(cert_b));
    int keys_left = int(bool(key_a)) + int(bool(key_b));
    if (certs_left == 1 && keys_left == 1) {
      take(*cert, *key, cert == &cert_a ? first : last);
    }
    for (std::optional<Held>* c : {&cert_a, &cert_b}) {
      if (*c) {
        diags_.error((*c)->pos, (*c)->key,
                     "certificate without key: set certificate_key or certificate_key_file");
      }
    }
    for (std::optional<Held>* k : {&key_a, &key_b}) {
      if (*k) {
        diags_.error((*k)->pos, (*k)->key,
                     "key without certificate: set certificate or certificate_file");
      }
    }
    std::vector<CertificateSource> list = std::move(first);
    for (CertificateSource& c : certificates_) {
      list.push_back(std::move(c));
    }
    for (CertificateSource& c : last) {
      list.push_back(std::move(c));
    }
    opts_.certificates = std::move(list);
  }

  // A secret from `name` or `name_file` (the file wins, as in Pomerium). Returns the text and
  // where to report problems with it, or nullopt when unset or unreadable (reported).
  std::optional<Held> secretText(const std::optional<Held>& inline_value,
                                 const std::optional<Held>& file, std::string_view what) {
    if (!file) {
      return inline_value;
    }
    if (inline_value) {
      diags_.warning(inline_value->key_pos, inline_value->key,
                     "ignored: " + file->key + " is set too and takes precedence");
    }
    auto text = readLimitedFile(file->value, options_.max_bytes);
    if (!text) {
      diags_.error(file->pos, file->key,
                   "cannot read the " + std::string(what) + ": " + text.error().detail());
      return std::nullopt;
    }
    return Held{std::move(*text), file->pos, file->key_pos, file->key};
  }

  // Pomerium `shared_secret` / `cookie_secret`: shared_secret is base64 with no surrounding
  // whitespace; cookie_secret is base64 of exactly 32 bytes. Messages never include the secret.
  void finishSecrets() {
    if (auto shared = secretText(shared_secret_, shared_secret_file_, "shared secret file")) {
      bool from_file = shared_secret_file_.has_value();
      if (strings::trimSpace(shared->value) != shared->value) {
        diags_.error(shared->pos, shared->key,
                     from_file ? "shared secret contains whitespace (a trailing newline in the "
                                 "file counts)"
                               : "shared secret contains whitespace");
      } else if (auto decoded = strings::base64Decode(shared->value); !decoded) {
        diags_.error(shared->pos, shared->key, "shared secret is not valid base64");
      } else {
        if (decoded->size() != 32) {
          diags_.warning(shared->pos, shared->key,
                         "shared secret decodes to " + std::to_string(decoded->size()) +
                             " bytes; sign-in will need 32 (head -c32 /dev/urandom | base64)");
        }
        opts_.shared_secret = std::move(*decoded);
      }
    }
    if (auto cookie = secretText(cookie_secret_, cookie_secret_file_, "cookie secret file")) {
      // Go's base64 decoder skips line breaks, so a file ending in a newline works.
      std::string compact;
      for (char c : cookie->value) {
        if (c != '\n' && c != '\r') {
          compact += c;
        }
      }
      auto decoded = strings::base64Decode(compact);
      if (!decoded) {
        diags_.error(cookie->pos, cookie->key, "cookie secret is not valid base64");
      } else if (decoded->size() != 32) {
        diags_.error(cookie->pos, cookie->key,
                     "cookie secret must be 32 bytes of base64-encoded data, got " +
                         std::to_string(decoded->size()) +
                         " bytes (head -c32 /dev/urandom | base64)");
      } else {
        opts_.cookie_secret = std::move(*decoded);
      }
    }
  }

  void finishRoutes() {
    // `policy:` entries first, then `routes:`, as Pomerium orders them.
    for (const std::optional<Option>* list : {&policy_, &routes_}) {
      if (!*list) {
        continue;
      }
      const Option& o = **list;
      ValueReader& r = o.source->reader;
      const yaml::Node& v = *o.value;
      if (!v.isSequence()) {
        r.error(v.mark, o.key, "expected a list of routes, got " + yaml::describe(v));
        continue;
      }
      for (size_t i = 0; i < v.items.size(); ++i) {
        if (cancelled()) {
          return;
        }
        Route route = decodeRoute(v.items[i], indexKey(o.key, i), r);
        route.index = opts_.routes.size();
        opts_.routes.push_back(std::move(route));
      }
    }
    checkRouteUniqueness(opts_.routes, diags_);
    // Pomerium route `timeout` vs global `timeout_write`: a non-zero timeout_write (max stream
    // duration) ends every stream first.
    if (opts_.timeout_write > Duration::zero()) {
      for (const Route& route : opts_.routes) {
        if (route.timeout &&
            (*route.timeout == Duration::zero() || *route.timeout > opts_.timeout_write)) {
          diags_.warning(route.timeout_pos, route.key + ".timeout",
                         "timeout " + formatDuration(*route.timeout) +
                             " will be cut short by timeout_write " +
                             formatDuration(opts_.timeout_write));
        }
      }
    }
  }

  // Diagnostics in file order: the config file first (by line and column), then each
  // environment variable in the order it was read. Stable, so problems at one position keep
  // the order they were found in.
  LoadResult finish() {
    std::unordered_map<std::string_view, size_t> rank;
    for (size_t i = 0; i < sources_.size(); ++i) {
      rank.emplace(sources_[i]->label, i);
    }
    std::vector<Diagnostic> items = diags_.items();
    auto rank_of = [&](const Diagnostic& d) {
      auto it = rank.find(d.pos.file);
      return it == rank.end() ? size_t{0} : it->second;
    };
    std::stable_sort(items.begin(), items.end(), [&](const Diagnostic& a, const Diagnostic& b) {
      size_t ra = rank_of(a), rb = rank_of(b);
      if (ra != rb) {
        return ra < rb;
      }
      if (a.pos.line != b.pos.line) {
        return a.pos.line < b.pos.line;
      }
      return a.pos.column < b.pos.column;
    });
    LoadResult result;
    for (Diagnostic& d : items) {
      result.diagnostics.add(std::move(d));
    }
    if (!result.diagnostics.hasErrors()) {
      result.options = std::move(opts_);
    }
    return result;
  }

  // True (once reported) when another thread asked the load to stop.
  bool cancelled() {
    if (options_.cancel == nullptr || !options_.cancel->load(std::memory_order_relaxed)) {
      return false;
    }
    if (!cancel_reported_) {
      cancel_reported_ = true;
      diags_.error(SourcePos{sources_.front()->label, 1, 1}, "", "loading was cancelled");
    }
    return true;
  }

  const EnvLookup& env_;
  const LoadOptions& options_;
  bool cancel_reported_ = false;
  Diagnostics diags_;
  std::vector<std::unique_ptr<Source>> sources_;
  Options opts_;

  std::optional<ParsedAddress> address_;
  std::optional<Held> certificate_, certificate_key_, certificate_file_, certificate_key_file_;
  std::vector<CertificateSource> certificates_;
  std::optional<Held> shared_secret_, shared_secret_file_, cookie_secret_, cookie_secret_file_;
  std::optional<Held> certificate_authority_, certificate_authority_file_;
  SourcePos metrics_address_pos_;
  std::string metrics_address_key_;
  std::optional<Option> policy_, routes_;
  IdentityDecoder identity_{diags_, options_.max_bytes};
};

}  // namespace

EnvLookup processEnvironment() {
  return [](std::string_view name) -> std::optional<std::string> {
    // getenv is safe on any thread here: nothing in the process calls setenv or putenv.
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) {
      return std::nullopt;
    }
    return std::string(value);
  };
}

EnvLookup emptyEnvironment() {
  return [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
}

std::optional<std::string_view> logLevelName(std::string_view name) {
  // Pomerium's (zerolog's) names and spdlog's, mapped onto the levels common/logging takes.
  static constexpr std::pair<std::string_view, std::string_view> kLevels[] = {
      {"", "info"},          {"trace", "trace"},  {"debug", "debug"},       {"info", "info"},
      {"warn", "warn"},      {"warning", "warn"}, {"error", "error"},       {"fatal", "critical"},
      {"panic", "critical"}, {"disabled", "off"}, {"critical", "critical"}, {"off", "off"},
  };
  const std::string lower = strings::lowerAscii(name);
  for (const auto& [text, level] : kLevels) {
    if (lower == text) {
      return level;
    }
  }
  return std::nullopt;
}

LoadResult loadFile(const std::string& path, const EnvLookup& env, const LoadOptions& options) {
  auto text = readLimitedFile(path, options.max_bytes);
  if (!text) {
    LoadResult result;
    result.diagnostics.error(SourcePos{path, 0, 0}, "",
                             "cannot load config: " + text.error().detail());
    return result;
  }
  return loadString(*text, path, env, options);
}

LoadResult loadString(std::string_view text, const std::string& file_label, const EnvLookup& env,
                      const LoadOptions& options) {
  try {
    return Loader(env, options).load(text, file_label);
  } catch (const std::exception& e) {
    // Nothing below is expected to throw past yaml_tree.cc; this is the last resort that
    // keeps the "never throws" contract (std::bad_alloc, a library surprise).
    LoadResult result;
    result.diagnostics.error(SourcePos{file_label, 0, 0}, "",
                             std::string("internal error while loading: ") + e.what());
    return result;
  }
}

}  // namespace vallum::config
