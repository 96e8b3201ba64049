// Input limits and cancellation of a load (kMaxConfigBytes, LoadOptions::cancel).
#include "config/loader.h"

#include <atomic>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "config_test_util.h"

namespace vallum::config {
namespace {

using test::envOf;
using test::Expected;
using test::hasDiag;
using E = Severity;

TEST(LoaderLimitsTest, DefaultLimitIs16MiB) {
  EXPECT_EQ(kMaxConfigBytes, size_t{16} << 20);
  EXPECT_EQ(LoadOptions{}.max_bytes, kMaxConfigBytes);
}

TEST(LoaderLimitsTest, FileOverTheLimitIsRefusedNamingFileAndLimit) {
  std::string path = ::testing::TempDir() + "vallum_limits_big.yaml";
  std::string text = "routes:\n";
  for (int i = 0; text.size() <= 4096; ++i) {
    // Distinct routes: repeating one is an error of its own (route is not unique).
    text += "  - from: https://a" + std::to_string(i) + ".example.com\n    to: http://a\n";
  }
  std::ofstream(path) << text;
  LoadOptions options;
  options.max_bytes = 4096;
  LoadResult r = loadFile(path, emptyEnvironment(), options);
  EXPECT_FALSE(r.options);
  ASSERT_EQ(r.diagnostics.items().size(), 1u) << r.diagnostics.formatAll();
  EXPECT_EQ(r.diagnostics.items()[0].format(), path + ": error: cannot load config: file \"" +
                                                   path + "\" is " + std::to_string(text.size()) +
                                                   " bytes, over the limit of 4 KiB");
  options.max_bytes = text.size();
  EXPECT_TRUE(test::loaded(loadFile(path, emptyEnvironment(), options)));
}

TEST(LoaderLimitsTest, EnvironmentValueOverTheLimitIsRefused) {
  LoadOptions options;
  options.max_bytes = 64;
  std::string policy(100, 'A');  // base64, 100 bytes
  LoadResult r =
      loadString("address: ':8443'\n", "config.yaml", envOf({{"POLICY", policy}}), options);
  EXPECT_FALSE(r.options);
  EXPECT_TRUE(hasDiag(r, {E::Error, 1, 1, "$POLICY",
                          "the value is 100 bytes, over the limit of 64 bytes", "$POLICY"}));
}

TEST(LoaderLimitsTest, SecretFileOverTheLimitIsRefused) {
  std::string path = ::testing::TempDir() + "vallum_limits_secret";
  std::ofstream(path) << std::string(200, 'x');
  LoadOptions options;
  options.max_bytes = 128;
  LoadResult r =
      loadString("shared_secret_file: " + path + "\n", "config.yaml", emptyEnvironment(), options);
  EXPECT_FALSE(r.options);
  EXPECT_TRUE(hasDiag(r, {E::Error, 1, 21, "shared_secret_file",
                          "cannot read the shared secret file: file \"" + path +
                              "\" is 200 bytes, over the limit of 128 bytes"}));
}

TEST(LoaderLimitsTest, CancelledLoadHasNoOptions) {
  std::string text = "routes:\n";
  for (int i = 0; i < 200; ++i) {
    text += "  - from: https://a" + std::to_string(i) + ".example.com\n    to: http://a\n";
  }
  std::atomic<bool> cancel{true};
  LoadOptions options;
  options.cancel = &cancel;
  LoadResult r = loadString(text, "config.yaml", emptyEnvironment(), options);
  EXPECT_FALSE(r.options);
  EXPECT_TRUE(hasDiag(r, {E::Error, 1, 1, "yaml", "loading was cancelled"}));
  cancel = false;
  EXPECT_TRUE(test::loaded(loadString(text, "config.yaml", emptyEnvironment(), options)));
}

}  // namespace
}  // namespace vallum::config
