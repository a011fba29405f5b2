// Offline text for the eval haystacks: prose (Jane Austen, shipped in tests/data; or Paul Graham essays
// installed by tools/setup.sh), Python source for the code task, and fixed word lists for needle keys.
#pragma once
#include <string>
#include <vector>

namespace slim::eval {

struct ProseText {
  std::string name;                     // "austen" or "pg"
  std::vector<std::string> sentences;   // whitespace collapsed, in text order
  std::vector<std::string> paragraphs;  // blocks between blank lines, whitespace collapsed
  std::string lower;                    // whole text lower-cased (to check that invented names are absent)
  std::vector<std::string> vocabulary;  // distinct lower-case words a-z of length 4-10, sorted
};

// Loads prose "austen" or "pg". Files are looked for in text_dir (if not empty), then $SLIM_TEXT_DIR,
// then models/texts and tests/data under the working directory and under the source tree.
// Throws slim::Error naming the setup command when a source is missing.
ProseText load_prose(const std::string& name, const std::string& text_dir);

// Lines of a fixed list of Python standard-library files (text_dir/python, else /usr/lib/python3.11),
// concatenated in list order. Throws slim::Error if none is found.
std::vector<std::string> load_code_lines(const std::string& text_dir);

// Splits collapsed prose into sentences: a break after . ! ? (and any closing quotes) when a space and an
// upper-case letter or an opening quote follow; never after Mr. Mrs. Dr. St. Col. Capt. Esq. Messrs.
std::vector<std::string> split_sentences(const std::string& text);

// Fixed word lists (written for this project, sorted): keys are "adjective-noun".
const std::vector<std::string>& key_adjectives();
const std::vector<std::string>& key_nouns();

// RULER's filler line for the "noise" haystack.
extern const char* const kNoiseLine;

}  // namespace slim::eval
