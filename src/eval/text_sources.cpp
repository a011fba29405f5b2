#include "eval/text_sources.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "slim/error.h"

namespace slim::eval {

namespace fs = std::filesystem;

const char* const kNoiseLine = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.";

namespace {

// The repository root, from this file's path (src/eval/text_sources.cpp), for runs outside the repo root.
fs::path source_root() { return fs::path(__FILE__).parent_path().parent_path().parent_path(); }

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw Error("eval: cannot read " + p.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Candidate folders for text sources, most specific first.
std::vector<fs::path> search_dirs(const std::string& text_dir) {
  std::vector<fs::path> dirs;
  if (!text_dir.empty()) dirs.emplace_back(text_dir);
  if (const char* env = std::getenv("SLIM_TEXT_DIR"); env && *env) dirs.emplace_back(env);
  dirs.emplace_back("models/texts");
  dirs.emplace_back("tests/data");
  dirs.push_back(source_root() / "models/texts");
  dirs.push_back(source_root() / "tests/data");
  return dirs;
}

std::string collapse_spaces(const std::string& s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

// Blocks between blank lines, collapsed; headings (titles, "Chapter N", no punctuation at all) dropped.
std::vector<std::string> paragraphs_of(const std::string& text) {
  std::vector<std::string> out;
  std::string block;
  auto flush = [&] {
    std::string p = collapse_spaces(block);
    block.clear();
    if (p.empty()) return;
    if (p.rfind("Chapter ", 0) == 0 || p.rfind("CHAPTER ", 0) == 0) return;
    if (p.find_first_of(".!?;,\"") == std::string::npos) return;
    out.push_back(std::move(p));
  };
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) {
      flush();
    } else {
      block += line;
      block += '\n';
    }
  }
  flush();
  return out;
}

bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }

}  // namespace

std::vector<std::string> split_sentences(const std::string& text) {
  static const char* const kAbbrev[] = {"Mr.", "Mrs.", "Dr.", "St.", "Col.", "Capt.", "Esq.", "Messrs."};
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c != '.' && c != '!' && c != '?') continue;
    size_t end = i + 1;
    while (end < text.size() && (text[end] == '"' || text[end] == '\'')) ++end;
    if (end + 1 >= text.size() || text[end] != ' ') continue;
    const char next = text[end + 1];
    if (!is_upper(next) && next != '"') continue;
    bool abbrev = false;
    for (const char* a : kAbbrev) {
      const size_t n = std::char_traits<char>::length(a);
      if (i + 1 >= n && text.compare(i + 1 - n, n, a) == 0 && (i + 1 == n || text[i - n] == ' ' || text[i - n] == '"')) {
        abbrev = true;
      }
    }
    if (abbrev) continue;
    out.push_back(text.substr(start, end - start));
    start = end + 1;
    i = end;
  }
  if (start < text.size()) out.push_back(text.substr(start));
  return out;
}

ProseText load_prose(const std::string& name, const std::string& text_dir) {
  std::vector<fs::path> files;
  if (name == "austen") {
    static const char* const kFiles[] = {"pride-and-prejudice-ch1-30.txt", "persuasion-ch1.txt"};
    for (const fs::path& d : search_dirs(text_dir)) {
      if (fs::exists(d / kFiles[0]) && fs::exists(d / kFiles[1])) {
        for (const char* f : kFiles) files.push_back(d / f);
        break;
      }
    }
    if (files.empty()) throw Error("eval: prose 'austen' not found (tests/data/pride-and-prejudice-ch1-30.txt ships with the repository; pass --text-dir)");
  } else if (name == "pg") {
    for (const fs::path& d : search_dirs(text_dir)) {
      const fs::path essays = d / "PaulGrahamEssays";
      if (!fs::is_directory(essays)) continue;
      for (const auto& e : fs::directory_iterator(essays)) {
        if (e.path().extension() == ".txt") files.push_back(e.path());
      }
      if (!files.empty()) break;
    }
    if (files.empty()) throw Error("eval: prose 'pg' not found (Paul Graham essays: run tools/setup.sh, which puts them in models/texts/PaulGrahamEssays)");
    std::sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) { return a.filename().string() < b.filename().string(); });
  } else {
    throw Error("eval: unknown prose haystack '" + name + "' (expected austen or pg)");
  }

  ProseText p;
  p.name = name;
  for (const fs::path& f : files) {
    for (std::string& para : paragraphs_of(read_all(f))) p.paragraphs.push_back(std::move(para));
  }
  std::string joined;
  for (const std::string& para : p.paragraphs) {
    if (!joined.empty()) joined.push_back(' ');
    joined += para;
  }
  p.sentences = split_sentences(joined);
  p.lower = joined;
  for (char& c : p.lower) {
    if (is_upper(c)) c = static_cast<char>(c - 'A' + 'a');
  }
  // Vocabulary: maximal letter runs written all in lower case (proper names are capitalised).
  std::set<std::string> vocab;
  for (size_t i = 0; i < joined.size();) {
    if (!is_lower(joined[i]) && !is_upper(joined[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    bool lower = true;
    for (; j < joined.size() && (is_lower(joined[j]) || is_upper(joined[j])); ++j) {
      if (!is_lower(joined[j])) lower = false;
    }
    if (lower && j - i >= 4 && j - i <= 10) vocab.insert(joined.substr(i, j - i));
    i = j;
  }
  p.vocabulary.assign(vocab.begin(), vocab.end());
  return p;
}

std::vector<std::string> load_code_lines(const std::string& text_dir) {
  static const char* const kFiles[] = {"argparse.py", "typing.py",   "inspect.py",  "subprocess.py", "tarfile.py",
                                       "zipfile.py",  "datetime.py", "difflib.py",  "enum.py",       "pydoc.py"};
  std::vector<fs::path> dirs;
  if (!text_dir.empty()) dirs.push_back(fs::path(text_dir) / "python");
  for (const fs::path& d : search_dirs("")) dirs.push_back(d / "python");
  dirs.emplace_back("/usr/lib/python3.11");
  for (const fs::path& d : dirs) {
    std::vector<std::string> lines;
    for (const char* f : kFiles) {
      if (!fs::exists(d / f)) continue;
      std::istringstream in(read_all(d / f));
      std::string line;
      while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        lines.push_back(line);
      }
    }
    if (!lines.empty()) return lines;
  }
  throw Error("eval: Python sources for the code task not found (/usr/lib/python3.11, package libpython3.11-stdlib, or <text-dir>/python)");
}

const std::vector<std::string>& key_adjectives() {
  static const std::vector<std::string> words = [] {
    std::vector<std::string> w = {
        "able",    "acid",    "agile",   "airy",    "amber",   "ample",   "angry",   "ashen",   "bald",    "bitter",
        "black",   "bland",   "blue",    "bold",    "brave",   "brief",   "bright",  "brisk",   "broad",   "brown",
        "busy",    "calm",    "candid",  "clever",  "cloudy",  "coarse",  "cold",    "cosy",    "crisp",   "cruel",
        "curly",   "damp",    "dark",    "deep",    "dense",   "dizzy",   "dry",     "dull",    "dusty",   "eager",
        "early",   "empty",   "exact",   "faint",   "false",   "fancy",   "fast",    "fierce",  "firm",    "flat",
        "fond",    "frail",   "fresh",   "frosty",  "fuzzy",   "gentle",  "giant",   "glad",    "golden",  "grand",
        "green",   "grey",    "grim",    "happy",   "hardy",   "harsh",   "hasty",   "heavy",   "hollow",  "honest",
        "humble",  "hungry",  "icy",     "idle",    "jolly",   "keen",    "kind",    "lame",    "large",   "late",
        "lazy",    "lean",    "little",  "lively",  "lone",    "long",    "loud",    "lucky",   "mellow",  "merry",
        "mild",    "misty",   "modest",  "muddy",   "narrow",  "neat",    "nimble",  "noble",   "noisy",   "odd",
        "pale",    "plain",   "polite",  "proud",   "quick",   "quiet",   "rapid",   "rare",    "red",     "rich",
        "rough",   "round",   "rusty",   "sad",     "sandy",   "shaky",   "sharp",   "shiny",   "short",   "shy",
        "silent",  "silver",  "simple",  "sleepy",  "slim",    "slow",    "small",   "smooth",  "soft",    "solid",
        "sour",    "stale",   "steady",  "steep",   "stern",   "stiff",   "stormy",  "strange", "strict",  "sturdy",
        "sunny",   "sweet",   "swift",   "tall",    "tame",    "tender",  "thick",   "thin",    "tidy",    "tiny",
        "tired",   "tough",   "vast",    "violet",  "warm",    "weary",   "white",   "wide",    "wild",    "windy",
        "wise",    "witty",   "wooden",  "yellow",  "young",   "zealous",
    };
    std::sort(w.begin(), w.end());
    w.erase(std::unique(w.begin(), w.end()), w.end());
    return w;
  }();
  return words;
}

const std::vector<std::string>& key_nouns() {
  static const std::vector<std::string> words = [] {
    std::vector<std::string> w = {
        "acorn",   "anchor",  "anvil",   "apple",   "arch",    "arrow",   "badger",  "basket",  "beacon",  "beetle",
        "bell",    "bench",   "birch",   "blanket", "bottle",  "bridge",  "brook",   "bucket",  "butter",  "cabin",
        "camel",   "candle",  "canyon",  "carpet",  "castle",  "cedar",   "cellar",  "chair",   "cherry",  "chimney",
        "circle",  "cliff",   "clock",   "cloud",   "clover",  "comet",   "copper",  "cottage", "crane",   "crown",
        "cushion", "daisy",   "desert",  "diamond", "dragon",  "drum",    "eagle",   "engine",  "falcon",  "feather",
        "fence",   "fern",    "fiddle",  "flame",   "flute",   "forest",  "fountain", "fox",    "garden",  "garnet",
        "glacier", "goose",   "granite", "harbor",  "harp",    "hazel",   "helmet",  "heron",   "hill",    "hive",
        "island",  "jacket",  "jar",     "kettle",  "kitten",  "ladder",  "lagoon",  "lantern", "lemon",   "lily",
        "lizard",  "locket",  "maple",   "marble",  "meadow",  "mirror",  "mitten",  "moose",   "mountain", "needle",
        "nest",    "oak",     "ocean",   "orchard", "otter",   "owl",     "paddle",  "parrot",  "pebble",  "pepper",
        "piano",   "pillow",  "pine",    "planet",  "pond",    "poppy",   "puddle",  "quarry",  "rabbit",  "raven",
        "ribbon",  "river",   "robin",   "rocket",  "saddle",  "salmon",  "shell",   "shovel",  "silk",    "sparrow",
        "spider",  "spoon",   "spruce",  "squirrel", "stable", "statue",  "stone",   "stream",  "summit",  "swan",
        "sword",   "table",   "teapot",  "thistle", "thunder", "tiger",   "timber",  "tower",   "trumpet", "tulip",
        "tunnel",  "turtle",  "valley",  "violin",  "walnut",  "wagon",   "walrus",  "whistle", "willow",  "window",
        "wizard",  "wolf",    "zebra",
    };
    std::sort(w.begin(), w.end());
    w.erase(std::unique(w.begin(), w.end()), w.end());
    return w;
  }();
  return words;
}

}  // namespace slim::eval
