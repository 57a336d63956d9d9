#include "harness/data.h"
#include "tests/helpers.h"

using namespace lb;

static DataConfig data_config(const std::string& path, const std::string& format = "auto") {
  DataConfig d;
  d.path = path;
  d.format = format;
  d.field = "text";
  d.held_out_fraction = 0.3;
  return d;
}

TEST_CASE("a directory is split by whole documents, deterministically") {
  test::TempDir dir;
  std::string all;
  for (int i = 0; i < 40; ++i) dir.file("docs/" + std::to_string(i) + ".txt", "document " + std::to_string(i) + "\n");
  dir.file("docs/.hidden", "never read");
  auto a = load_corpus(data_config((dir.path / "docs").string()));
  auto b = load_corpus(data_config((dir.path / "docs").string()));
  CHECK(a.summary["format"] == "dir");
  CHECK(a.summary["documents"] == 40);
  CHECK(a.summary["held_out_documents"].get<int>() > 0);
  CHECK(torch::equal(a.held_out, b.held_out));
  CHECK(a.train.numel() + a.held_out.numel() == 40 * 11 + 30);  // "document N\n", N<10 one digit shorter
  // Held-out documents appear whole: the stream is a concatenation of "document N\n" lines.
  std::string held(reinterpret_cast<const char*>(a.held_out.data_ptr()), a.held_out.numel());
  CHECK(held.rfind("document ", 0) == 0);
  CHECK(held.back() == '\n');
  CHECK(a.vocab == 256);
}

TEST_CASE("a single text file holds out its tail, cut at a line boundary") {
  test::TempDir dir;
  std::string text;
  for (int i = 0; i < 100; ++i) text += "line " + std::to_string(i) + "\n";
  auto c = load_corpus(data_config(dir.file("a.txt", text)));
  CHECK(c.train.numel() + c.held_out.numel() == int64_t(text.size()));
  CHECK(char(c.held_out[0].item<uint8_t>()) == 'l');
  CHECK(char(c.train[c.train.numel() - 1].item<uint8_t>()) == '\n');
}

TEST_CASE("JSONL documents come from the text field and bad lines are reported with their number") {
  test::TempDir dir;
  auto ok = dir.file("a.jsonl", "{\"text\": \"alpha\"}\n\n{\"text\": \"beta\", \"id\": 2}\n");
  auto c = load_corpus(data_config(ok));
  CHECK(c.summary["documents"] == 2);
  CHECK(c.train.numel() + c.held_out.numel() == 11);
  CHECK_THROWS_WITH(load_corpus(data_config(dir.file("b.jsonl", "{\"text\": \"a\"}\nnot json\n"))),
                    Catch::Contains("b.jsonl:2") && Catch::Contains("not valid JSON"));
  CHECK_THROWS_WITH(load_corpus(data_config(dir.file("c.jsonl", "{\"body\": \"a\"}\n"))),
                    Catch::Contains("c.jsonl:1") && Catch::Contains("\"text\""));
}

TEST_CASE("nanoGPT .bin token files: vocab declared, odd sizes and out-of-range tokens rejected") {
  test::TempDir dir;
  auto tokens = [](std::vector<uint16_t> t) { return std::string(reinterpret_cast<const char*>(t.data()), t.size() * 2); };
  dir.file("bin/train.bin", tokens({1, 2, 3, 999, 40000, 7}));
  dir.file("bin/val.bin", tokens({4, 5}));
  auto cfg = data_config((dir.path / "bin").string());
  CHECK_THROWS_WITH(load_corpus(cfg), Catch::Contains("data.vocab_size"));
  cfg.vocab_size = 50000;
  auto c = load_corpus(cfg);
  CHECK(c.vocab == 50000);
  auto ids = token_ids(c.train);  // ids above 32767 survive the int16 storage
  CHECK(ids[3].item<int64_t>() == 999);
  CHECK(ids[4].item<int64_t>() == 40000);
  CHECK(c.held_out.numel() == 2);
  cfg.vocab_size = 30000;
  CHECK_THROWS_WITH(load_corpus(cfg), Catch::Contains("train.bin") && Catch::Contains("40000"));
  dir.file("odd/train.bin", "abc");
  dir.file("odd/val.bin", "ab");
  auto odd = data_config((dir.path / "odd").string());
  odd.vocab_size = 1000;
  CHECK_THROWS_WITH(load_corpus(odd), Catch::Contains("odd size"));
}

TEST_CASE("missing paths and empty files fail naming the file") {
  test::TempDir dir;
  CHECK_THROWS_WITH(load_corpus(data_config("/no/such/corpus")), Catch::Contains("/no/such/corpus"));
  CHECK_THROWS_WITH(load_corpus(data_config(dir.file("empty.txt", ""))), Catch::Contains("empty.txt") && Catch::Contains("empty"));
  CHECK_THROWS_WITH(load_corpus(data_config(dir.file("x.txt", "abc"), "parquet")), Catch::Contains("parquet"));
}

TEST_CASE("training windows are deterministic per (seed, step) and shifted by one for targets") {
  auto stream = torch::arange(1000, torch::kInt16);
  auto a = sample_windows(stream, 4, 16, 1, 5), b = sample_windows(stream, 4, 16, 1, 5);
  CHECK(torch::equal(a, b));
  CHECK(a.sizes() == torch::IntArrayRef({4, 17}));
  CHECK((a.slice(1, 1) - a.slice(1, 0, -1) == 1).all().item<bool>());  // contiguous
  CHECK(!torch::equal(a, sample_windows(stream, 4, 16, 1, 6)));
}
