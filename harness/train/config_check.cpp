#include "harness/train/config_check.h"

namespace lb {

void check_train_config(const Config& c) {
  require(c.threads >= 0, "config key \"threads\" must be >= 0 (0 = all cores)");
  require_positive("train.length", double(c.train.length));
  require(c.train.steps >= 0, "config key \"train.steps\" must be >= 0");
  require_positive("train.batch_size", double(c.train.batch_size));
  require_positive("train.lr", c.train.lr);
  require_positive("train.log_every", double(c.train.log_every));
  require_positive("train.checkpoint_every", double(c.train.checkpoint_every));
}

}  // namespace lb
