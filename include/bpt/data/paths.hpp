#pragma once
// Input and output files by identity: no output of a run may replace one of its inputs.
#include <string>
#include <vector>

#include "bpt/data/dataset.hpp"

namespace bpt {

// An output a run writes: its flag, its path, and the one input it may replace (the --resume
// checkpoint, rewritten by a --checkpoint of the same file; empty: none).
struct OutputPath {
  std::string flag, path, may_replace;
};
// Each output's folder exists and takes a new file (a probe file is created and removed there), the
// output is not a folder and can be written, no two outputs are one file, and none is one of `inputs`,
// compared by file identity (device and inode), not by spelling. Throws CollectiveError naming the flag.
void check_outputs(const std::vector<OutputPath>& outputs, const std::vector<std::string>& inputs);

// Locks each output for this process's lifetime (flock on PATH.lock, which then names this host and
// pid), so that two jobs given one --checkpoint or --metrics cannot interleave or overwrite each other:
// the second is refused (CollectiveError naming the flag, the path and the other job's host and pid).
// PATH.lock is removed when the process exits normally; the kernel drops a dead job's lock, so one
// left by a crash blocks nothing.
void lock_outputs(const std::vector<OutputPath>& outputs, const std::string& host);
// Removes the lock files this process holds (at a normal exit this happens by itself; before an
// MPI_Abort, which skips that, call it).
void remove_output_locks();

// The files load_train and load_test would read (an IDX directory's images and labels files, the
// default test files), without reading them: for check_outputs. Best effort: a path it cannot resolve
// is returned as given (loading reports it).
std::vector<std::string> input_files(const std::string& train_path, const std::string& test_path, const LoadOptions& opt);

// Reads each HDF5 input (--train, --test) in a child process first, as load_train/load_test would
// (all of it in memory; with --stream, its layout and labels), so that a crash inside libhdf5 on a
// damaged file is one error naming the file (CollectiveError, exit 2) instead of a segmentation fault.
void check_hdf5_inputs_in_child(const std::string& train_path, const std::string& test_path, const LoadOptions& opt);

}  // namespace bpt
