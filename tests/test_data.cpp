#include "harness/data/corpus.h"
#include "harness/data/sampler.h"
#include "harness/data/sources.h"
#include "tests/helpers.h"

using namespace lb;

static DataConfig data_config(const std::string& path, const std::string& format = "auto") {
  DataConfig d;
  d.path = path;
  d.cache_dir = (std::filesystem::path(path).parent_path() / "cache").string();
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
  // No newline after the cut point: the cut moves back to the last line start, not into the
  // middle of a line (or of a UTF-8 character).
  std::string tail = "first line\n";
  for (int i = 0; i < 50; ++i) tail += "\xc3\xa9";  // é
  auto t = load_corpus(data_config(dir.file("b.txt", tail)));
  CHECK(t.train.numel() == 11);
  CHECK(t.held_out[0].item<uint8_t>() == 0xc3);
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

// A small multi-document corpus: 200 made-up words, code-like whitespace, some non-ASCII text.
static std::string write_text_corpus(const test::TempDir& dir, const std::string& name, int docs = 30) {
  uint64_t x = 7;
  auto next = [&] { return (x = x * 6364136223846793005ull + 1442695040888963407ull) >> 33; };
  std::vector<std::string> words = {"\n", "\n    ", "\tif (x) {\n", "}\n", "naïve ", "→ ", "42 ", "  "};
  while (words.size() < 200) {
    std::string w;
    for (uint64_t k = 0, n = 2 + next() % 6; k < n; ++k) w += char('a' + next() % 26);
    words.push_back(w + " ");
  }
  for (int d = 0; d < docs; ++d) {
    std::string text;
    for (int w = 0; w < 1200; ++w) text += words[next() % (next() % 2 ? 8 : words.size())];
    dir.file(name + "/doc" + std::to_string(d) + ".txt", text);
  }
  return (dir.path / name).string();
}

static std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

static std::string held_out_text(const std::string& dir, double fraction) {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::string text;
  for (const auto& f : files)
    if (is_held_out(std::filesystem::relative(f, dir).string(), fraction)) text += read_all(f);
  return text;
}

static std::vector<int32_t> ids_of(const torch::Tensor& stream) {
  auto ids = token_ids(stream).to(torch::kInt32).contiguous();
  return std::vector<int32_t>(ids.data_ptr<int32_t>(), ids.data_ptr<int32_t>() + ids.numel());
}

TEST_CASE("a trained SentencePiece tokenizer is lossless, sets the vocab and is cached with a manifest") {
  test::TempDir dir;
  auto cfg = data_config(write_text_corpus(dir, "docs"));
  cfg.tokenizer.kind = TokenizerKind::kSentencePiece;
  cfg.tokenizer.vocab_size = 400;
  auto c = load_corpus(cfg);
  REQUIRE(c.tokenizer);
  CHECK(c.vocab == 400);
  CHECK(c.summary["tokenizer"]["kind"] == "sentencepiece");
  CHECK(c.held_out.scalar_type() == torch::kInt16);  // uint16 storage for vocab <= 65536
  // Subwords, not bytes: fewer tokens than bytes.
  const std::string held = held_out_text(cfg.path, cfg.held_out_fraction);
  REQUIRE(!held.empty());
  CHECK(c.summary["held_out_bytes"] == held.size());
  CHECK(c.held_out.numel() < int64_t(held.size()) * 9 / 10);
  // Lossless: the cached held-out stream decodes to exactly the held-out documents, newlines,
  // tabs, runs of spaces and non-ASCII included.
  CHECK(c.tokenizer->decode(ids_of(c.held_out)) == held);
  CHECK(token_ids(c.train).max().item<int64_t>() < 400);

  const std::filesystem::path manifest = c.summary["token_cache"].get<std::string>();
  REQUIRE(std::filesystem::exists(manifest));
  const auto m = nlohmann::json::parse(read_all(manifest));
  CHECK(m["tokens"]["held_out"] == c.held_out.numel());
  CHECK(m["tokens"]["dtype"] == "uint16");
  CHECK(m["source"]["files"] == 30);
  CHECK(m["tokenizer"]["trained_on"]["type"] == "unigram");
  const std::string model = m["tokenizer"]["model"];
  CHECK(std::filesystem::exists(model));

  // Loading again reuses the cache (the manifest is not rewritten).
  const auto written = std::filesystem::last_write_time(manifest);
  auto again = load_corpus(cfg);
  CHECK(std::filesystem::last_write_time(manifest) == written);
  CHECK(torch::equal(again.held_out, c.held_out));

  // The trained .model loads as an existing tokenizer and gives the same tokens.
  auto loaded_cfg = cfg;
  loaded_cfg.tokenizer.model = model;
  auto loaded = load_corpus(loaded_cfg);
  CHECK(loaded.summary["token_cache"] != c.summary["token_cache"]);
  CHECK(torch::equal(loaded.held_out, c.held_out));
  CHECK(torch::equal(loaded.train, c.train));
}

TEST_CASE("the token cache is rebuilt when a source file changes and reused otherwise") {
  test::TempDir dir;
  auto cfg = data_config(write_text_corpus(dir, "docs", 12));
  auto first = load_corpus(cfg);
  const std::filesystem::path manifest = first.summary["token_cache"].get<std::string>();
  CHECK(nlohmann::json::parse(read_all(manifest))["tokens"]["dtype"] == "uint8");
  const int64_t before = first.train.numel() + first.held_out.numel();
  auto same = load_corpus(cfg);
  CHECK(same.summary["token_cache"] == first.summary["token_cache"]);
  CHECK(same.train.numel() + same.held_out.numel() == before);
  dir.file("docs/doc3.txt", "a much shorter document\n");
  auto changed = load_corpus(cfg);
  CHECK(changed.summary["source_fingerprint"] != first.summary["source_fingerprint"]);
  CHECK(changed.train.numel() + changed.held_out.numel() < before);
  // Same size, new content: caught by the modification time.
  const auto doc4 = dir.path / "docs" / "doc4.txt";
  const auto size = std::filesystem::file_size(doc4);
  const auto mtime = std::filesystem::last_write_time(doc4);
  dir.file("docs/doc4.txt", std::string(size, 'x'));
  std::filesystem::last_write_time(doc4, mtime + std::chrono::seconds(2));
  auto rewritten = load_corpus(cfg);
  CHECK(rewritten.train.numel() + rewritten.held_out.numel() == changed.train.numel() + changed.held_out.numel());
  const auto xs = (rewritten.train == 'x').sum().item<int64_t>() + (rewritten.held_out == 'x').sum().item<int64_t>();
  CHECK(xs >= int64_t(size));
  // A truncated token file (a killed build, a full disk) is detected and rebuilt too.
  const auto train_file = manifest.parent_path() / nlohmann::json::parse(read_all(manifest))["tokens"]["train_file"].get<std::string>();
  std::filesystem::resize_file(train_file, 10);
  auto repaired = load_corpus(cfg);
  CHECK(repaired.train.numel() == changed.train.numel());
}

TEST_CASE("invalid UTF-8 is an error naming the file for SentencePiece and plain bytes for the byte tokenizer") {
  test::TempDir dir;
  const auto path = write_text_corpus(dir, "docs", 8);
  dir.file("docs/latin1.txt", "line one\ncaf\xe9 au lait\n");
  auto cfg = data_config(path);
  cfg.tokenizer.kind = TokenizerKind::kSentencePiece;
  cfg.tokenizer.vocab_size = 300;
  CHECK_THROWS_WITH(load_corpus(cfg), Catch::Contains("latin1.txt") && Catch::Contains("not valid UTF-8") &&
                                          Catch::Contains("line 2"));
  cfg.tokenizer.kind = TokenizerKind::kBytes;
  CHECK(load_corpus(cfg).summary["documents"] == 9);  // documented fallback: bytes are bytes
  CHECK(invalid_utf8_offset("ok \xc3\xa9 \xe2\x86\x92") == std::string_view::npos);
  CHECK(invalid_utf8_offset("ab\xc0\xaf") == 2);            // overlong '/'
  CHECK(invalid_utf8_offset("ab\xed\xa0\x80") == 2);        // UTF-16 surrogate
  CHECK(invalid_utf8_offset("abc\xe2\x86") == 3);           // truncated sequence
}

TEST_CASE("tokenizer settings that cannot work fail naming the key") {
  test::TempDir dir;
  auto text = data_config(dir.file("a.txt", "some text\n"), "bytes");
  text.tokenizer.kind = TokenizerKind::kSentencePiece;
  CHECK_THROWS_WITH(load_corpus(text), Catch::Contains("data.format \"bytes\""));
  auto missing = data_config(dir.file("b.txt", "some text\n"));
  missing.tokenizer.kind = TokenizerKind::kSentencePiece;
  missing.tokenizer.model = (dir.path / "nope.model").string();
  CHECK_THROWS_WITH(load_corpus(missing), Catch::Contains("data.tokenizer.model") && Catch::Contains("nope.model"));
  auto garbage = missing;
  garbage.tokenizer.model = dir.file("garbage.model", "not a model");
  CHECK_THROWS_WITH(load_corpus(garbage), Catch::Contains("garbage.model"));
  CHECK_THROWS_WITH(load_corpus(data_config(dir.file("empty.jsonl", "\n\n"))), Catch::Contains("no JSONL documents"));
}
