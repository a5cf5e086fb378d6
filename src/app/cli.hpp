#pragma once
// bptrain's command line: every flag, its help text and its parse, into a Config (the ranges are checked
// in one place, train/validate.cpp's validate_config). The only
// code that sees cxxopts (src/app/cli.cpp); main.cpp runs what it asks for.
#include <string>
#include <utility>
#include <vector>

#include "bpt/train/config.hpp"

namespace bpt {

// What the command line asks for besides training: --evaluate and its options.
struct EvalOptions {
  std::string checkpoint, predict;
  bool confusion = false, probabilities = false;
  // The data flags given on the command line ("label-column", ...): the others come from the checkpoint.
  std::vector<std::string> given;
  bool was_given(const std::string& flag) const {
    for (const std::string& g : given)
      if (g == flag) return true;
    return false;
  }
};

// Every flag bptrain has, as ("--name", its text: given, or the default; "on"/"off" for switches): what
// the ranks of a job must agree on (agree_on_settings), whichever collectives each flag decides.
using FlagTexts = std::vector<std::pair<std::string, std::string>>;

// Fills c and ev from the command line, and flags (before anything can throw but a command line that
// does not parse); throws CollectiveError (exit 2) on a bad flag. Returns false when the program should
// exit 0 without training (--help, --version; printed by the root rank).
bool parse(int argc, char** argv, Config& c, EvalOptions& ev, bool root, FlagTexts& flags);

}  // namespace bpt
