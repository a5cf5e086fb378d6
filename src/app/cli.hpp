#pragma once
// bptrain's command line: every flag, its help text and its range check, into a Config. The only
// code that sees cxxopts (src/app/cli.cpp); main.cpp runs what it asks for.
#include <string>

#include "bpt/train/config.hpp"

namespace bpt {

// What the command line asks for besides training: --evaluate and its options.
struct EvalOptions {
  std::string checkpoint, predict;
  bool confusion = false;
};

// Fills c and ev from the command line; throws CollectiveError (exit 2) on a bad flag. Returns false
// when the program should exit 0 without training (--help, --version; printed by the root rank).
bool parse(int argc, char** argv, Config& c, EvalOptions& ev, bool root);

}  // namespace bpt
