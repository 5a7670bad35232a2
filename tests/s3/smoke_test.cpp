// The moto fixture itself, and one checkpoint to S3 end to end.
#include <gtest/gtest.h>

#include "harness.hpp"
#include "moto.hpp"

namespace {

using namespace test_support;

TEST(S3Smoke, CheckpointLandsInMotoAndReadsBack) {
  MotoServer moto;
  moto.make_bucket("smoke");
  TempDir dir;
  write_file(dir / "data/a.txt", "hello s3");
  RunOptions options;
  options.env = moto.client_env();
  auto r = run({"--status-file", dir / "s.json", "--checkpoint",
                "path=" + (dir / "data") + ",url=s3://smoke/run,frequency=60s", "--", "true"},
               options);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_json(dir / "s.json")["checkpoints"][0]["final"]["ok"], true) << r.err;
  EXPECT_EQ(moto.get("smoke", "run/data/a.txt"), "hello s3");
  EXPECT_TRUE(moto.get("smoke", "run/data.manifest.json").has_value());
}

}  // namespace
